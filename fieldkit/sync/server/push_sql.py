"""A batch of visits into PostgreSQL in one statement, the rows cut out of the JSON there.

The push path's cost was Python building ~30 child rows per visit and psycopg encoding them
as arrays (with one ``json.dumps`` per step value), about as much CPU as everything else of
a push together. Here the visits go to PostgreSQL once, as one JSON array of their
payloads (``model_dump(mode="json")``, the same text the ``visit.payload`` column stores),
and a single statement with data-modifying CTEs inserts the visits that are new (``ON
CONFLICT (id) DO NOTHING``, in id order, so two batches holding the same visits lock them
in the same order) and, for those only, their procedure runs, step results, measurements,
meter swaps and follow-up, each column cast from the payload's JSON text as the wire
schema wrote it (ISO 8601 times in UTC, numbers, ``null``). Foreign keys are checked at the
end of the statement, when the visits are there.

The hazard upsert (its status only moves forward) and the safety flags stay in Python
(:mod:`~fieldkit.sync.server.service`): one row per visit or fewer. SQLite (one-office
installs) keeps the row-by-row path; the tests run every push test on both databases, and
``tests/sync/test_batch_store.py`` compares the rows the two paths write.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_TS = "timestamptz"
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
runs AS (
    SELECT new.vid, r.run FROM new, jsonb_array_elements(new.p->'procedure_runs') AS r(run)
),
i_run AS (
    INSERT INTO procedure_run (visit_id, id, procedure_id, procedure_version, status,
                               started_at, ended_at)
    SELECT vid, (run->>'run_id')::uuid, run->>'procedure_id',
           (run->>'procedure_version')::integer, run->>'status', (run->>'started_at')::{_TS},
           (run->>'ended_at')::{_TS}
    FROM runs
),
i_step AS (
    INSERT INTO step_result (visit_id, id, run_id, step_id, kind, value, passed, at, actor)
    SELECT vid, (s->>'result_id')::uuid, (run->>'run_id')::uuid, s->>'step_id', s->>'kind',
           s->'value', (s->>'passed')::boolean, (s->>'at')::{_TS}, s->>'actor'
    FROM runs, jsonb_array_elements(run->'steps') AS x(s)
),
i_measurement AS (
    INSERT INTO measurement (visit_id, id, run_id, step_id, quantity, value, unit, taken_at)
    SELECT vid, (m->>'measurement_id')::uuid, (run->>'run_id')::uuid, m->>'step_id',
           m->>'quantity', (m->>'value')::double precision, m->>'unit',
           (m->>'taken_at')::{_TS}
    FROM runs, jsonb_array_elements(run->'measurements') AS x(m)
),
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
    payloads: Sequence[dict[str, Any]],
    hashes: Sequence[str],
    received_at: datetime,
) -> set[uuid.UUID]:
    """Insert the visits (dumped payloads, with their content hashes) not yet stored, and
    their child rows; the ids inserted. Caller's transaction."""
    batch = "[" + ",".join(_dumps(p) for p in payloads) + "]"
    # The planner cannot see how many rows the JSON holds and guesses a million: above
    # ``jit_above_cost``, it would compile the statement (~150 ms of a 200-visit batch's
    # ~350 ms) for rows it runs through once. SET LOCAL: this transaction only (safe
    # behind a transaction-pooling PgBouncer).
    conn.exec_driver_sql("SET LOCAL jit = off")
    found = conn.exec_driver_sql(
        STORE_SQL, {"batch": batch, "hashes": list(hashes), "received_at": received_at}
    )
    return {row[0] for row in found}
