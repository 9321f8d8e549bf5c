"""A progress bar drawn with ASCII only (Textual's bar glyphs are ambiguous-width in CJK)."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static


class AsciiProgress(Static):
    """``[#######.......]  7/15``; an unknown total shows a moving marker."""

    DEFAULT_CSS = """
    AsciiProgress {
        height: 1;
        width: 1fr;
        margin: 1 0;
    }
    """

    done: reactive[int] = reactive(0)
    total: reactive[int | None] = reactive(None)

    def update_progress(self, done: int, total: int | None) -> None:
        self.done = done
        self.total = total

    def render(self) -> str:
        width = max(10, self.size.width - 14)
        if self.total:
            filled = min(width, round(width * self.done / self.total))
            return f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}"
        if self.done:
            pos = self.done % width
            return f"[{'.' * pos}#{'.' * (width - pos - 1)}] {self.done}"
        return f"[{'.' * width}]"
