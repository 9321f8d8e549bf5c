"""fieldkit.devices."""
