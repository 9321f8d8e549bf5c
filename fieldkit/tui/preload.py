"""Imports done ahead in a worker thread, letting the technician's keys go first.

The home screen's worker imports what the device screen and the visit database need while
the technician reads the work orders (:data:`fieldkit.tui.screens.home.DATABASE_MODULES`).
One of those names is a large step: ``import sqlalchemy.engine`` executes some 150 modules,
``alembic.command`` another 100, each 0.1-0.5 s of one thread holding the GIL. A key
pressed meanwhile (F6) used to wait for the rest of the step in flight.

:func:`preload` calls ``pause`` before each name *and before each module imported inside
it*: the interpreter raises the ``import`` audit event for every module not loaded yet,
and a hook (installed once per process, doing nothing in other threads) calls the pause of
the thread that is preloading. The worker thus stops within one module's own code (a few
ms) instead of within a whole package. A module whose own code is long raises the
``fieldkit.checkpoint`` audit event where it may pause (fieldkit.records.models: before
each table class; ~50 ms in all on a quiet laptop, several times that on a busy one).

While paused inside an import the worker holds the import locks of the modules it is in
the middle of (not the global import lock: the event comes before it). Another thread
importing one of those waits for the worker, so the pause must give up as soon as the UI
thread is importing (:meth:`fieldkit.tui.app.FieldkitApp.yield_to_keys` does).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

_pauses: dict[int, Callable[[], None]] = {}
"""The pause of each thread preloading now (thread id -> pause)."""
_hook_lock = threading.Lock()
_hooked = False


PAUSE_EVENTS = frozenset({"import", "fieldkit.checkpoint"})
"""Audit events where a preloading thread pauses: a module to import, and a checkpoint in
a long module body (fieldkit.records.models raises one before each table class)."""


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _pauses or event not in PAUSE_EVENTS:
        return
    ident = threading.get_ident()
    pause = _pauses.pop(ident, None)  # popped: an import made by the pause is not paused
    if pause is None:
        return
    try:
        with contextlib.suppress(Exception):  # a pause must never make an import fail
            pause()
    finally:
        _pauses[ident] = pause


def _install_hook() -> None:
    global _hooked
    with _hook_lock:
        if not _hooked:
            sys.addaudithook(_audit)  # cannot be removed: it does nothing when _pauses is empty
            _hooked = True


@contextlib.contextmanager
def pausing_imports(pause: Callable[[], None]) -> Iterator[None]:
    """Within the block, every module this thread imports for the first time, and every
    checkpoint in a module body, is preceded by a call of ``pause()`` (in this thread)."""
    _install_hook()
    ident = threading.get_ident()
    _pauses[ident] = pause
    try:
        yield
    finally:
        _pauses.pop(ident, None)


def preload(names: Iterable[str], pause: Callable[[], None] | None = None) -> None:
    """Import ``names`` (in a worker thread), calling ``pause()`` before each of them and
    before each module imported on the way. An import that fails is left for whoever
    uses the module to report."""
    with contextlib.ExitStack() as stack:
        if pause is not None:
            stack.enter_context(pausing_imports(pause))
        for name in names:
            if pause is not None:
                pause()
            with contextlib.suppress(Exception):
                importlib.import_module(name)
