"""fieldkit.diagnostics."""
