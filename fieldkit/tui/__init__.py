"""fieldkit.tui."""
