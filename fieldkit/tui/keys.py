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

from textual.binding import BindingsMap
from textual.dom import DOMNode

from fieldkit.i18n import _


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
