"""A batch of visits into PostgreSQL in one statement, the rows cut out of the JSON there.

The visits go to PostgreSQL once, as one JSON array of their canonical JSON texts (the text
their content hash is taken of, :func:`fieldkit.sync.schema.canonical_text`: made once per
visit for both), and a single statement with data-modifying CTEs inserts the visits that
are new (``ON CONFLICT (id) DO NOTHING``, in id order, so two batches holding the same
visits lock them in the same order) and, for those only, their meter swaps and follow-up,
each column cast from the payload's JSON text as the wire schema wrote it (ISO 8601 times
in UTC, numbers, ``null``). Foreign keys are checked at the end of the statement, when the
visits are there. Runs, step results and measurements are views of ``visit.payload``
(migration ``0009_child_tables_as_views``): nothing to write for them.

The hazard upsert (its status only moves forward) and the safety flags stay in Python
(:mod:`~fieldkit.sync.server.service`): one row per visit or fewer. SQLite (one-office
installs) keeps the row-by-row path; the tests run every push test on both databases, and
``tests/sync/test_batch_store.py`` compares the rows the two paths write.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.engine import Connection

_TS = "timestamptz"


def _as_is(text: bytes) -> bytes:
    """The JSON text, already written (psycopg's ``dumps`` for a ``Jsonb``)."""
    return text


STORE_SQL = f"""
WITH src AS (
    SELECT e.p, (e.p->>'visit_id')::uuid AS vid, h.hash
    FROM jsonb_array_elements(%(batch)s::jsonb) WITH ORDINALITY AS e(p, n)
    JOIN unnest(%(hashes)s::text[]) WITH ORDINALITY AS h(hash, n) USING (n)
),
ins AS (
    INSERT INTO visit (id, content_hash, payload, technician_id, work_order_id, visit_type,
                       outcome, customer_no, started_at, ended_at, visit_date, received_at)
    SELECT vid, hash, p, p->>'technician_id', (p->>'work_order_id')::uuid, p->>'visit_type',
           p->>'outcome', p->'customer'->>'customer_no', (p->>'started_at')::{_TS},
           (p->>'ended_at')::{_TS}, ((p->>'started_at')::{_TS} AT TIME ZONE 'UTC')::date,
           %(received_at)s::{_TS}
    FROM src ORDER BY vid
    ON CONFLICT (id) DO NOTHING
    RETURNING id
),
new AS (SELECT src.p, src.vid FROM src JOIN ins ON ins.id = src.vid),
i_swap AS (
    INSERT INTO meter_swap (visit_id, id, customer_no, old_meter_no, new_meter_no, seal_nos,
                            old_meter_reading, gas_used, gas_remaining, swapped_at, reason)
    SELECT vid, (w->>'swap_id')::uuid, p->'customer'->>'customer_no', w->>'old_meter_no',
           w->>'new_meter_no', w->'seal_nos', (w->>'old_meter_reading')::double precision,
           (w->>'gas_used')::double precision, (w->>'gas_remaining')::double precision,
           (w->>'swapped_at')::{_TS}, w->>'reason'
    FROM new, jsonb_array_elements(new.p->'meter_swaps') AS x(w)
),
i_follow_up AS (
    INSERT INTO follow_up (visit_id, technician_id, customer_no, due_date)
    SELECT vid, p->>'technician_id', p->'customer'->>'customer_no', (p->>'follow_up_due')::date
    FROM new
)
SELECT id FROM ins
"""


def store_new(
    conn: Connection,
    texts: Sequence[bytes],
    hashes: Sequence[str],
    received_at: datetime,
) -> set[uuid.UUID]:
    """Insert the visits (their payloads' canonical JSON texts as UTF-8, with their content
    hashes) not yet stored, and their child rows; the ids inserted. Caller's transaction."""
    from psycopg.types.json import Jsonb

    # Joined and sent as bytes: joining ~1 MB of non-ASCII str and encoding it again cost
    # more than a fifth of a push's PostgreSQL client time.
    batch = Jsonb(b"[" + b",".join(texts) + b"]", dumps=_as_is)
    # The planner cannot see how many rows the JSON holds and guesses a million: above
    # ``jit_above_cost``, it would compile the statement (~150 ms of a 200-visit batch's
    # ~350 ms) for rows it runs through once. SET LOCAL: this transaction only (safe
    # behind a transaction-pooling PgBouncer).
    conn.exec_driver_sql("SET LOCAL jit = off")
    found = conn.exec_driver_sql(
        STORE_SQL, {"batch": batch, "hashes": list(hashes), "received_at": received_at}
    )
    return {row[0] for row in found}
