"""fieldkit.tui: the technician's Textual TUI (screens and widgets only, no domain logic).

Entry point: :class:`fieldkit.tui.app.FieldkitApp` (``fieldkit`` / ``fieldkit tui``).
See ``docs/tui.md``.
"""
