"""fieldkit.records."""
