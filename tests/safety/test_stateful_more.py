"""The second thousand random visits (another seed) of tests/safety/test_stateful.py.

A file of its own so that pytest-xdist (``--dist loadfile``) runs it on the other worker:
2000 sequences per CI run at the wall time of 1000. The machine, its invariants and its
coverage floors are those of test_stateful.py.
"""

from __future__ import annotations

from tests.safety import test_stateful as visits


def test_more_random_visits_keep_every_invariant() -> None:
    visits.run_visits(1_000_003)
