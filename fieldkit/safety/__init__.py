"""fieldkit.safety: the visit's safety state, derived from everything stored for the visit.

* :mod:`fieldkit.safety.state` — :func:`derive` → :class:`SafetyState` (blockers with the
  reason, what clears them and their source);
* :mod:`fieldkit.safety.facts` — :class:`VisitFacts`, the typed snapshot it derives from;
* :mod:`fieldkit.safety.rules` — which steps let gas in or light (by procedure id);
* :mod:`fieldkit.safety.floors` — gates no data file can drop without a signed override;
* :mod:`fieldkit.safety.audit` — violations in a visit's history (the back office's check).

Pure and UI-free: no I/O, no Textual, no FastAPI. The invariants are in docs/safety.md.
"""

from fieldkit.safety.facts import HazardFacts, RunFacts, VisitFacts
from fieldkit.safety.state import Blocker, BlockerKind, SafetyState, derive

__all__ = [
    "Blocker",
    "BlockerKind",
    "HazardFacts",
    "RunFacts",
    "SafetyState",
    "VisitFacts",
    "derive",
]
