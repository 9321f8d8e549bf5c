"""A run of a procedure file under a signed-off override: shown, recorded, flagged."""

from __future__ import annotations

from pathlib import Path

from fieldkit.procedures.library import load_procedures_strict
from fieldkit.records.repo import VisitRepository
from fieldkit.safety.audit import ViolationKind, audit
from fieldkit.session import VisitSession
from tests.session.helpers import FakeClock, complete, new_visit
from tests.tui.conftest import short_hold_data_dir


def test_an_override_is_shown_recorded_and_audited(
    tmp_path: Path, repo: VisitRepository, clock: FakeClock
) -> None:
    folder = short_hold_data_dir(tmp_path)
    library = load_procedures_strict([Path("data/procedures"), folder / "procedures"])
    assert library["ignition"].override is not None
    session = VisitSession(repo, library, new_visit(repo), actor="王师傅", clock=clock)
    complete(session, "indoor-purge", clock)
    view = session.open_run("ignition")
    assert view.override is not None
    assert view.override.label == "本地修订 · 依据 fieldkit test setting, not for field use"
    assert view.override.content_hash == library["ignition"].content_hash
    (row,) = [r for r in repo.visit_runs(session.visit_id) if r.procedure_id == "ignition"]
    assert row.content_hash == library["ignition"].content_hash
    assert row.override is not None and row.override["approved_on"] == "2026-11-30"
    assert view.events[0].value["override"]["standard"].startswith("fieldkit test")
    done = complete(session, "ignition", clock)  # the short hold passes on the test's clock
    assert done.status.finished
    kinds = [v.kind for v in audit(session.facts())]
    assert kinds == [ViolationKind.LOCAL_OVERRIDE]
    shipped = load_procedures_strict()
    again = VisitSession(repo, shipped, new_visit(repo), actor="王师傅", clock=clock)
    assert again.open_run("ignition").override is None
