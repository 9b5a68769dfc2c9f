"""The claim as the worker runs it: with ``plan_cache_mode=force_generic_plan`` (the worker's
connection setting) the plan must stay an index walk that stops after LIMIT rows, whatever
the backlog. A generic plan cannot see the LIMIT, so a plan that is fine with custom plans
can still scan the whole table; this checks the plan the worker really gets."""

from __future__ import annotations

import uuid

import psycopg

from harvest_studio.store.claims import _CLAIM_SQL
from harvest_studio.store.flow import _RUNNING_IN_QUEUE, _RUNNING_OF_TYPE, _THROTTLED_CLAIM_SQL

PARAMS = {
    "worker": ("text", "'w'"),
    "lease": ("float8", "30"),
    "namespace": ("text", "'default'"),
    "queue": ("text", "'default'"),
    "workflows": ("text[]", "'{wf}'"),
    "activities": ("text[]", "'{work}'"),
    "limit": ("int", "5"),
    "types": ("text[]", "'{work}'"),
}


def _generic_plan(conn: psycopg.Connection[tuple[object, ...]], sql: str) -> str:
    names = [n for n in PARAMS if f"%({n})s" in sql]
    for i, name in enumerate(names, 1):
        sql = sql.replace(f"%({name})s", f"${i}")
    types = ", ".join(PARAMS[n][0] for n in names)
    values = ", ".join(PARAMS[n][1] for n in names)
    name = f"claim_{uuid.uuid4().hex[:8]}"
    conn.execute(f"PREPARE {name}({types}) AS {sql}")  # type: ignore[arg-type]
    rows = conn.execute(f"EXPLAIN EXECUTE {name}({values})").fetchall()  # type: ignore[arg-type]
    return "\n".join(str(r[0]) for r in rows)


def test_claims_walk_the_index_at_100k_pending_under_generic_plans(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True,
                         options="-c plan_cache_mode=force_generic_plan") as conn:
        conn.execute(
            "INSERT INTO harvest.tasks (namespace, kind, run_id, type_name, queue, state,"
            " activity_seq, input, retry_policy, visible_at)"
            " SELECT 'default', 'activity', gen_random_uuid(), 'work', 'default', 'PENDING',"
            " g, '[]', '{}', now() - make_interval(secs => g * 0.001)"
            " FROM generate_series(1, 100000) g"
        )
        conn.execute("ANALYZE harvest.tasks")
        for sql in (_CLAIM_SQL, _THROTTLED_CLAIM_SQL):
            plan = _generic_plan(conn, sql)
            assert "Seq Scan on tasks" not in plan, plan
            assert "Hash Join" not in plan, plan
            assert "tasks_claimable" in plan, plan
        # a throttled claim counts what runs now: that must not read the pending backlog
        for sql in (_RUNNING_IN_QUEUE, _RUNNING_OF_TYPE):
            plan = _generic_plan(conn, sql.replace("%s", "%(namespace)s", 1).replace(
                "%s", "%(queue)s", 1))
            assert "Seq Scan on tasks" not in plan, plan
