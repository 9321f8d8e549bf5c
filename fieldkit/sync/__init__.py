"""fieldkit.sync."""
