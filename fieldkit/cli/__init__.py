"""The ``fieldkit`` command. With no arguments it opens the technician's TUI.

Plain ``fieldkit`` (no arguments) opens the TUI without loading click
(:mod:`fieldkit.cli.launch`): the technician's first screen paints sooner. Every command
line with arguments goes through the click group in :mod:`fieldkit.cli.root` (``cli``,
re-exported here).
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any


def safe_console() -> None:
    """Output degrades, never raises: a console or pipe that cannot encode Chinese or "m³"
    (GBK, cp1252, a redirected Windows console) gets replacement characters instead of a
    UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:
            continue
        # a closed or unusual stream is left as it is
        with contextlib.suppress(ValueError, OSError):
            reconfigure(errors="replace")


def main(argv: list[str] | None = None) -> int:
    safe_console()
    args = sys.argv[1:] if argv is None else list(argv)
    if not args:  # plain `fieldkit`: the TUI, as `fieldkit tui` opens it, without click
        from fieldkit.cli.launch import run_plain_tui

        return run_plain_tui()
    from fieldkit.cli.root import run

    return run(args)


def __getattr__(name: str) -> Any:
    """``cli``, ``LAZY_COMMANDS``, ``LazyGroup``: the click group's, loaded on first use."""
    if name in {"cli", "LAZY_COMMANDS", "LazyGroup"}:
        from fieldkit.cli import root

        return getattr(root, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
