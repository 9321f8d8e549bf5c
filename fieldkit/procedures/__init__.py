"""fieldkit.procedures."""
