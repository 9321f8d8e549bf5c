"""Screens of the TUI, one module (and one ``.tcss``) per feature, imported when opened."""
