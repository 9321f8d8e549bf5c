"""Push and pull through a real server process (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from fieldkit.records.models import OutboxState
from fieldkit.records.repo import VisitRepository
from fieldkit.sync.client import outbox_count, sync_once
from fieldkit.sync.schema import Address, CustomerPayload, VisitPayload
from fieldkit.sync.server import service, tables
from tests.sync.conftest import Backoffice, close_visit


def _server_payload(office: Backoffice, visit_id: uuid.UUID) -> tuple[str, dict]:
    with office.engine.connect() as conn:
        row = conn.execute(
            sa.select(tables.visit.c.content_hash, tables.visit.c.payload).where(
                tables.visit.c.id == visit_id
            )
        ).one()
    return row.content_hash, row.payload


def test_push_stores_each_visit_once_identical_to_the_laptop(backoffice, laptop) -> None:
    ids = [close_visit(laptop, steps=6) for _ in range(3)]
    assert outbox_count(laptop) == 3
    seen = []
    report = sync_once(backoffice.settings("T001"), laptop, seen.append, pull=False, batch_size=2)
    assert report.failed is None and report.conflicts == []
    assert (report.pushed, report.duplicates, report.waiting) == (3, 0, 0)
    assert outbox_count(laptop) == 0
    assert seen and seen[-1].phase == "done"
    pushes = [p for p in seen if p.phase == "push"]
    assert pushes[0].to_push == 3 and pushes[0].waiting == 3
    assert [p.pushed for p in pushes] == sorted(p.pushed for p in pushes)
    assert pushes[-1].pushed == 3 and pushes[-1].waiting == 0
    items = {i.visit_id: i for i in VisitRepository(laptop).outbox_items()}
    for visit_id in ids:
        digest, payload = _server_payload(backoffice, visit_id)
        assert digest == items[visit_id].content_hash
        assert payload == items[visit_id].payload
        assert items[visit_id].state == OutboxState.SENT
    with backoffice.engine.connect() as conn:
        steps = conn.execute(
            sa.select(sa.func.count()).where(tables.step_result.c.visit_id.in_(ids))
        ).scalar_one()
        measurements = conn.execute(
            sa.select(sa.func.count()).where(tables.measurement.c.visit_id.in_(ids))
        ).scalar_one()
    assert steps == 3 * 6
    assert measurements == 3 * 3


def test_same_content_again_is_a_harmless_duplicate(backoffice, laptop) -> None:
    visit_id = close_visit(laptop)
    item = VisitRepository(laptop).pending_outbox()[0]
    with backoffice.client("T001") as http:
        first = http.put(f"/api/v1/visits/{visit_id}", json=item.payload)
        again = http.put(f"/api/v1/visits/{visit_id}", json=item.payload)
        batch = http.post("/api/v1/visits/batch", json={"visits": [item.payload, item.payload]})
    assert first.status_code == 201 and first.json()["status"] == "stored"
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert [r["status"] for r in batch.json()["results"]] == ["duplicate", "duplicate"]
    assert first.json()["content_hash"] == item.content_hash
    report = sync_once(backoffice.settings("T001"), laptop, pull=False)
    assert (report.pushed, report.duplicates, report.waiting) == (0, 1, 0)


def test_different_content_under_the_same_id_is_409_and_kept_locally(backoffice, laptop) -> None:
    visit_id = close_visit(laptop)
    item = VisitRepository(laptop).pending_outbox()[0]
    other = dict(item.payload, notes="someone else's edit")
    with backoffice.client("T001") as http:
        assert http.put(f"/api/v1/visits/{visit_id}", json=other).status_code == 201
        clash = http.put(f"/api/v1/visits/{visit_id}", json=item.payload)
    assert clash.status_code == 409
    body = clash.json()["error"]
    assert body["code"] == "conflict"
    assert body["detail"]["content_hash"] == item.content_hash
    assert body["detail"]["server_hash"] != item.content_hash

    report = sync_once(backoffice.settings("T001"), laptop, pull=False)
    assert report.failed is None
    assert [v for v, _d in report.conflicts] == [visit_id]
    kept = VisitRepository(laptop).outbox_items(OutboxState.CONFLICT)
    assert [k.visit_id for k in kept] == [visit_id]
    assert kept[0].payload == item.payload  # never overwritten
    _digest, stored = _server_payload(backoffice, visit_id)
    assert stored["notes"] == "someone else's edit"  # the server kept the first copy too


def test_pull_pages_by_cursor_with_tombstones(backoffice, laptop) -> None:
    orders = [
        service.NewWorkOrder(
            order_no=f"PULL-{uuid.uuid4().hex[:8]}-{i}",
            visit_type="inspection",
            customer=CustomerPayload(
                customer_no=f"C{i}", name="李四", address=Address(community="幸福小区")
            ),
            assigned_to="T002" if i % 3 == 0 else "T001",
        )
        for i in range(25)
    ]
    ids = service.create_work_orders(backoffice.engine, None, orders)
    mine = [i for n, i in enumerate(ids) if n % 3]
    report = sync_once(backoffice.settings("T001"), laptop, push=False, page_size=4)
    assert report.failed is None
    assert report.pulled == len(mine)
    repo = VisitRepository(laptop)
    assert {o.id for o in repo.open_work_orders("T001")} >= set(mine)
    assert not {o.id for o in repo.open_work_orders()} & {ids[0], ids[3]}  # T002's

    service.cancel_work_order(backoffice.engine, None, orders[1].order_no)
    service.assign_work_order(backoffice.engine, None, orders[2].order_no, "T002")
    again = sync_once(backoffice.settings("T001"), laptop, push=False, page_size=4)
    assert again.failed is None
    assert (again.pulled, again.cancelled) == (2, 2)
    still_open = {o.id for o in repo.open_work_orders("T001")}
    assert ids[1] not in still_open and ids[2] not in still_open
    third = sync_once(backoffice.settings("T001"), laptop, push=False)
    assert third.pulled == 0

    with backoffice.client("T002") as http:
        page = http.get("/api/v1/work-orders", params={"since": 0, "limit": 1000}).json()
    cursors = [o["cursor"] for o in page["items"]]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)
    assert ids[2] in {uuid.UUID(o["work_order_id"]) for o in page["items"] if not o["deleted"]}


def test_payload_round_trips_the_content_hash(laptop) -> None:
    close_visit(laptop, steps=3)
    item = VisitRepository(laptop).pending_outbox()[0]
    from fieldkit.sync.schema import content_hash

    assert content_hash(VisitPayload.model_validate(item.payload)) == item.content_hash
