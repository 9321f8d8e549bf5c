"""fieldkit.cards."""
