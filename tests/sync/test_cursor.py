"""The pull cursor never skips a change: a work-order change that commits late cannot have
a smaller cursor than one already visible (the counter row stays locked until commit)."""

from __future__ import annotations

import threading
import time
import uuid

from fieldkit.sync.schema import CustomerPayload
from fieldkit.sync.server import dispatch, service, tables
from fieldkit.sync.server.auth import Principal
from tests.sync.conftest import Backoffice


def _order(no: str) -> service.NewWorkOrder:
    return service.NewWorkOrder(
        order_no=no,
        visit_type="repair",
        customer=CustomerPayload(customer_no="CUR"),
        assigned_to="T001",
    )


def test_a_change_committing_late_is_not_skipped(backoffice: Backoffice) -> None:
    admin = Principal(uuid.uuid4(), "admin", "admin", "x")
    _items, since, _more, _epoch = service.pull_work_orders(backoffice.engine, admin, 0, 100_000)
    slow_no, fast_no = f"SLOW-{uuid.uuid4().hex[:6]}", f"FAST-{uuid.uuid4().hex[:6]}"

    slow = backoffice.engine.connect()
    tx = slow.begin()
    (slow_cursor,) = dispatch._next_cursors(slow, 1)  # holds the counter until commit
    fast_done = threading.Event()

    def fast() -> None:
        service.create_work_orders(backoffice.engine, None, [_order(fast_no)])
        fast_done.set()

    worker = threading.Thread(target=fast)
    worker.start()
    time.sleep(0.5)
    assert not fast_done.is_set()  # the later change waits for the earlier one
    items, _next, _more, _epoch = service.pull_work_orders(backoffice.engine, admin, since, 1000)
    assert items == []  # a reader sees neither yet, so it cannot move past the slow one
    now = dispatch._now()
    slow.execute(
        tables.work_order.insert().values(
            id=uuid.uuid4(),
            order_no=slow_no,
            visit_type="repair",
            customer_no="CUR",
            customer={"customer_no": "CUR", "address": {}},
            assigned_to="T001",
            status="open",
            deleted=False,
            cursor=slow_cursor,
            created_at=now,
            updated_at=now,
        )
    )
    tx.commit()
    slow.close()
    worker.join(30)
    assert fast_done.is_set()
    items, _next, _more, _epoch = service.pull_work_orders(backoffice.engine, admin, since, 1000)
    assert [o.order_no for o in items] == [slow_no, fast_no]
    assert items[0].cursor < items[1].cursor
