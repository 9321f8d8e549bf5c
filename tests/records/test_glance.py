"""The standard-library glance at the visit database reads what the repository reads."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from pathlib import Path

from fieldkit.records.db import open_database
from fieldkit.records.glance import glance, head_revision
from fieldkit.records.repo import VisitRepository, format_address


def seeded(tmp_path: Path) -> tuple[str, VisitRepository]:
    url = f"sqlite:///{(tmp_path / 'visits.db').as_posix()}"
    repo = VisitRepository(open_database(url))
    today = date.today()
    for n, (tech, when) in enumerate(
        [("T001", today), ("T001", None), ("T002", today + timedelta(days=1)), ("T001", today)]
    ):
        customer = repo.upsert_customer(
            f"C{n:04d}",
            name=f"用户{n}" if n % 2 else None,
            community="幸福小区",
            building=str(n) if n else None,
            unit="2",
            floor=None,
            room="502",
            address_detail="北门" if n == 3 else None,
        )
        order = repo.create_work_order(
            order_no=f"WO-{n}",
            visit_type="ignition" if n % 2 else "repair",
            customer_id=customer.id,
            assigned_to=tech,
            scheduled_for=when,
        )
        if n == 3:
            visit = repo.start_visit(
                customer_id=customer.id,
                technician_id=tech,
                visit_type="repair",
                work_order_id=order.id,
            )
            repo.close_visit(visit.id, "not_home", reason="nobody answered")
        if n == 1:
            repo.start_visit(customer_id=customer.id, technician_id=tech, visit_type="ignition")
    return url, repo


def test_glance_reads_what_the_repository_reads(tmp_path: Path) -> None:
    url, repo = seeded(tmp_path)
    for tech in ("T001", "T002", None):
        seen = glance(url, tech)
        assert seen is not None
        orders = repo.open_work_orders(assigned_to=tech)
        assert sorted(o.order_no for o in seen.orders) == sorted(o.order_no for o in orders)
        by_no = {o.order_no: o for o in seen.orders}
        for order in orders:
            mine = by_no[order.order_no]
            customer = repo.get_customer(order.customer_id)
            assert mine.order_id == order.id and mine.customer_id == order.customer_id
            assert mine.visit_type == order.visit_type.value
            assert mine.scheduled_for == order.scheduled_for
            assert mine.address == format_address(customer)
            assert (mine.customer_no, mine.customer_name) == (customer.customer_no, customer.name)
        visits = repo.unfinished_visits()
        assert [v.visit_id for v in seen.visits] == [v.visit_id for v in visits]
        for mine, theirs in zip(seen.visits, visits, strict=True):
            assert mine.address == theirs.address
            assert mine.started_at == theirs.started_at
            assert mine.visit_type == theirs.visit_type.value
        assert seen.waiting == repo.outbox_count() == 1
    repo.database.close()


def test_glance_steps_aside_when_it_is_not_sure(tmp_path: Path) -> None:
    assert glance(f"sqlite:///{(tmp_path / 'none.db').as_posix()}", "T001") is None
    assert glance("postgresql://x@localhost/db", "T001") is None
    url, repo = seeded(tmp_path)
    repo.database.close()
    assert head_revision() is not None
    con = sqlite3.connect(tmp_path / "visits.db")
    con.execute("UPDATE alembic_version SET version_num = 'older'")
    con.commit()
    con.close()
    assert glance(url, "T001") is None  # to be migrated first: the repository does that
