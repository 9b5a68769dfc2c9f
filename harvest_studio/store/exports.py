"""Copying runs and their histories out in bulk (``COPY ... TO STDOUT``, CSV) for the
analysis bench: one read-only, repeatable-read snapshot, so each run's ``last_seq`` matches
the events copied with it. The caller says which events it already has per run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

RUN_COLUMNS = (
    "run_id",
    "namespace",
    "workflow_id",
    "workflow_type",
    "queue",
    "status",
    "created_at",
    "closed_at",
    "last_seq",
    "code_version",
    "parent_run_id",
    "continued_from",
    "priority",
    "search_attributes",
    "error_type",
)
EVENT_COLUMNS = ("run_id", "seq", "type", "at", "payload")
SLOT_COLUMNS = ("namespace", "schedule", "slot", "state", "run_id")

# schedules' decided slots in the window, from the first one the caller may not hold final
_SLOTS_SQL = """
COPY (
    SELECT s.namespace, s.schedule, s.slot, s.state, s.run_id
    FROM harvest.schedule_slots s
    WHERE ({namespaces}) AND (%(since)s::timestamptz IS NULL OR s.slot >= %(since)s)
      AND (%(slots_from)s::timestamptz IS NULL OR s.slot >= %(slots_from)s)
) TO STDOUT (FORMAT csv)
"""

_SCOPE = """({namespaces}) AND (%(since)s::timestamptz IS NULL OR r.created_at >= %(since)s
     OR r.closed_at IS NULL OR r.closed_at >= %(since)s)"""

_RUNS_SQL = """
COPY (
    SELECT r.run_id, r.namespace, r.workflow_id, r.workflow_type, r.queue, r.status,
           r.created_at, r.closed_at, r.last_seq, r.fingerprint, r.parent_run_id,
           r.continued_from, r.priority, r.search_attributes, r.error->>'type'
    FROM harvest.runs r
    {known_join}
    WHERE {scope} {known_filter}
) TO STDOUT (FORMAT csv)
"""

# the events of the runs in scope, after the seq the caller holds of each (harvest_known)
_EVENTS_SQL = """
COPY (
    SELECT h.run_id, h.seq, h.event_type, h.at, h.payload
    FROM harvest.runs r
    JOIN harvest.history h ON h.run_id = r.run_id
    {known_join}
    WHERE {scope} {known_filter}
) TO STDOUT (FORMAT csv)
"""


def export_runs_and_events(
    url: str,
    *,
    namespace: str | None,
    since: datetime | None,
    known: str,
    runs_out: Any,
    events_out: Any,
    slots_out: Any = None,
    slots_from: datetime | None = None,
) -> None:
    """Write the runs of ``namespace`` (all namespaces if None) created, open or closed
    since ``since`` to ``runs_out`` as CSV (columns :data:`RUN_COLUMNS`), and their events
    to ``events_out`` (columns :data:`EVENT_COLUMNS`). ``known`` lists what the caller holds,
    as COPY text lines ``run_id<TAB>seq<TAB>open`` (``t``/``f``): a run it holds closed is
    left out (a closed run's history is final), of one it holds open only the events after
    that seq are copied. With ``slots_out``, the schedules' decided slots in the window
    (from ``slots_from`` on: what the caller may not hold final) go there too (columns
    :data:`SLOT_COLUMNS`).

    On a connection of its own, synchronous: psycopg's async copy costs twice as much per
    row, and a copy may be a million rows. One repeatable-read snapshot: a run's
    ``last_seq`` matches the events copied with it, and nothing a worker writes meanwhile
    is half copied. The outputs are binary files."""
    namespaces = (
        sql.SQL("true") if namespace is None else sql.SQL("r.namespace = {}").format(namespace)
    )
    scope = sql.SQL(_SCOPE).format(namespaces=namespaces)  # type: ignore[arg-type]
    runs_filter = events_filter = known_join = sql.SQL("")
    if known:
        # a run the caller holds as closed is final; one it holds open may have new events
        known_join = sql.SQL("LEFT JOIN pg_temp.harvest_known k ON k.run_id = r.run_id")
        runs_filter = sql.SQL("AND (k.run_id IS NULL OR k.open)")
        events_filter = sql.SQL("AND (k.run_id IS NULL OR (k.open AND h.seq > k.after_seq))")
    with psycopg.connect(url) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cur = conn.cursor()
        if known:
            conn.execute(
                "CREATE TEMP TABLE harvest_known (run_id uuid PRIMARY KEY, after_seq int,"
                " open boolean)"
                " ON COMMIT DROP"
            )
            with cur.copy("COPY pg_temp.harvest_known FROM STDIN") as copy:
                copy.write(known)
            conn.execute("ANALYZE pg_temp.harvest_known")
        params = {"since": since, "slots_from": slots_from}
        slot_namespaces = (
            sql.SQL("true") if namespace is None
            else sql.SQL("s.namespace = {}").format(namespace)
        )
        copies: list[tuple[sql.Composed, Any]] = [
            (
                sql.SQL(_RUNS_SQL).format(  # type: ignore[arg-type]
                    scope=scope, known_join=known_join, known_filter=runs_filter
                ),
                runs_out,
            ),
            (
                sql.SQL(_EVENTS_SQL).format(  # type: ignore[arg-type]
                    scope=scope, known_join=known_join, known_filter=events_filter
                ),
                events_out,
            ),
        ]
        if slots_out is not None:
            slots_sql = sql.SQL(_SLOTS_SQL).format(namespaces=slot_namespaces)  # type: ignore[arg-type]
            copies.append((slots_sql, slots_out))
        for statement, out in copies:
            with cur.copy(statement, params) as copy:
                for chunk in copy:
                    out.write(chunk)
            out.flush()
