"""The big red panel for a closed safety gate. It only shows; it offers no way past."""

from __future__ import annotations

from textual.widgets import Static


class GatePanel(Static):
    """Shows why the procedure cannot go on. Hidden while nothing blocks."""

    DEFAULT_CSS = """
    GatePanel {
        display: none;
        width: 1fr;
        height: auto;
        min-height: 3;
        max-height: 50%;
        overflow-y: auto;
        padding: 0 1;
        margin: 0 1;
        background: $error;
        color: $text;
        text-style: bold;
        border: ascii $error-lighten-2;
    }
    GatePanel.-shown {
        display: block;
    }
    """

    def show(self, text: str) -> None:
        self.update(text)
        self.add_class("-shown")

    def hide(self) -> None:
        self.update("")
        self.remove_class("-shown")

    @property
    def shown(self) -> bool:
        return self.has_class("-shown")
