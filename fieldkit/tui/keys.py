"""Key bindings: English descriptions translated per instance, remappable by binding id.

Every :class:`~textual.binding.Binding` in the TUI carries an ``id`` (``<area>.<action>``)
so a technician's ``keymap`` setting (``{"app.sync": "f6"}``) can move it; the App feeds
``Settings.keymap`` to :meth:`textual.app.App.set_keymap`. Descriptions in ``BINDINGS``
are English msgids; :func:`translate_bindings` swaps in the current language when a screen
is built, so switching the language rebuilds screens and the footer follows.

Keys are function keys F1-F9 and ctrl+letter combinations, which reach the app in Windows
Terminal (no Windows-key or alt-only bindings; research/anchors.md section 3.2).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from textual.binding import ActiveBinding, BindingsMap
from textual.dom import DOMNode

from fieldkit.i18n import N_, _

TEXTUAL_KEY_LABELS = (N_("Dismiss menu"), N_("Open link"))
"""Footer labels that Textual's own widgets bring (the Select menu, a link): translated by
:class:`TranslatedKeys` when a footer shows them."""


def translate_bindings(node: DOMNode) -> None:
    """Replace the node's binding descriptions with their translation (in place)."""
    merged = type(node)._merged_bindings
    if merged is None:
        return
    translated: dict[str, list] = {}
    for key, bindings in merged.key_to_bindings.items():
        translated[key] = [
            replace(
                b,
                description=_(b.description) if b.description else b.description,
                tooltip=_(b.tooltip) if b.tooltip else b.tooltip,
            )
            for b in bindings
        ]
    node._bindings = BindingsMap.from_keys(translated)


class TranslatedKeys:
    """Screen mixin: the active bindings with their descriptions in the current language,
    also those of Textual's own widgets (an open Select menu shows "esc Dismiss menu");
    ours are translated already, and a translation maps to itself."""

    if not TYPE_CHECKING:

        @property
        def active_bindings(self) -> dict[str, ActiveBinding]:
            active: dict[str, ActiveBinding] = super().active_bindings
            for key, item in active.items():
                text = item.binding.description
                if text and _(text) != text:
                    binding = replace(item.binding, description=_(text))
                    active[key] = item._replace(binding=binding)
            return active
