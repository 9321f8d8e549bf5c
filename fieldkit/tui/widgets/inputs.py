"""Inputs that follow the App's ``cursor_blink`` switch (frozen in tests)."""

from __future__ import annotations

from textual.widgets import Input


class FieldInput(Input):
    """An :class:`~textual.widgets.Input` with a flat one-line look (no block-glyph border).

    The border glyphs of Textual's default input are ambiguous-width in CJK terminals, so
    the field is drawn with a background colour instead.
    """

    DEFAULT_CSS = """
    FieldInput {
        border: none;
        height: 1;
        padding: 0 1;
        background: $boost;
        margin: 0 0 1 0;
    }
    FieldInput:focus {
        border: none;
        background: $primary 40%;
    }
    FieldInput.-invalid {
        border: none;
        background: $error 30%;
    }
    """

    def on_mount(self) -> None:
        if not getattr(self.app, "cursor_blink", True):
            self.cursor_blink = False
