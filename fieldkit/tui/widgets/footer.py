"""A footer that always shows F1 (help) and Ctrl+Q (quit), and drops what does not fit.

Textual's footer clips at the right edge, so on a narrow terminal the last keys (often
"^q Quit") lose their labels or vanish. :class:`FieldFooter` lays the keys out compactly
and, when they do not fit the width, leaves out the keys of least use (from the end of the
list) but never the help key or quit; every key stays listed in the help overlay (F1).

Textual's footer rebuilds all its keys each time the screen's bindings are published (every
screen switch, every focus change): on a field laptop that was the largest part of Esc and
Ctrl+L (~100 ms of a 150 ms switch). This footer rebuilds only when what it shows changes,
and shows the keys at once in its first compose (not one refresh later).
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

ALWAYS_SHOWN = ("app.help", "app.quit")
"""Binding ids the footer never leaves out."""


Item = tuple[Any, str, str, bool]  # binding, key as shown, description, enabled


def fitting(items: list[Item], width: int) -> list[Item]:
    """The items to show in ``width`` cells, in their order: the ALWAYS_SHOWN ones, then
    the others from the start of the list while they fit."""

    def cost(item: Item) -> int:
        _binding, key, description, _enabled = item
        return cell_len(key) + (1 + cell_len(description) if description else 0) + 1

    kept = {id(i) for i in items if i[0].id in ALWAYS_SHOWN}
    used = sum(cost(i) for i in items if id(i) in kept)
    for item in items:
        if id(item) in kept:
            continue
        if used + cost(item) <= width:
            kept.add(id(item))
            used += cost(item)
    return [i for i in items if id(i) in kept]


class FieldFooter(Footer):
    """A compact footer fitted to the terminal width (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("compact", True)
        kwargs.setdefault("show_command_palette", False)
        super().__init__(**kwargs)
        self._width = 0
        self._shown: tuple[tuple[Any, ...], ...] | None = None  # what the keys show now

    def _fitted(self) -> tuple[list[Item], int]:
        """The keys to show (fitted to the width), and the width."""
        seen: set[str] = set()
        items: list[Item] = []
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            key = self.app.get_key_display(binding)
            items.append((binding, key, binding.description, active.enabled))
        width = self.size.width or self.app.size.width
        return fitting(items, width), width

    @staticmethod
    def _signature(items: list[Item]) -> tuple[tuple[Any, ...], ...]:
        return tuple(
            (binding.key, key, description, binding.action, enabled)
            for binding, key, description, enabled in items
        )

    def compose(self) -> ComposeResult:
        items, self._width = self._fitted()
        self._shown = self._signature(items)
        # Each key is made compact from the start rather than bound to the footer's
        # ``compact`` (as Textual's footer does): binding sets the class after mounting and
        # restyles every key again, on every screen switch (tens of ms a key press).
        for binding, key, description, enabled in items:
            yield FooterKey(
                binding.key,
                key,
                description,
                binding.action,
                disabled=not enabled,
                classes="-compact",
            )

    def bindings_changed(self, screen: Screen) -> None:
        """The screen published its bindings (a screen switch, a focus change): rebuild the
        keys only if they would show something else."""
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._refit)

    async def _refit(self) -> None:
        if not self.is_attached:
            return
        items, _width = self._fitted()
        shown = self._signature(items)
        if shown == self._shown:
            return
        keys = list(self.query_children(FooterKey))
        same_keys = self._shown is not None and [s[:4] for s in shown] == [
            s[:4] for s in self._shown
        ]
        if same_keys and len(keys) == len(items):  # only enabled/disabled changed
            for widget, (_binding, _key, _description, enabled) in zip(keys, items, strict=True):
                widget.disabled = not enabled
            self._shown = shown
            return
        await self.recompose()

    def on_resize(self) -> None:
        if self.size.width != self._width:
            self.refresh(recompose=True)
