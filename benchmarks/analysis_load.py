"""Benchmark (8): loading run histories into DuckDB (``hs.analytics.load``).

Writes N events straight into a fresh database as finished 3-activity workflows (11 events
each, with the payloads the engine writes), then times a full load, an incremental load
after 1% more runs, and a load that finds nothing new. Target: 1,000,000 events in ≤ 5 s.

    python -m benchmarks.analysis_load [--events 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

import psycopg

import harvest_studio as hs
from harvest_studio.store.connection import ensure_migrated

from . import _pg

EVENTS_PER_RUN = 11
# a finished 3-activity workflow: started, then scheduled/started/completed per activity
_SHAPE = """
WITH r AS (
    INSERT INTO harvest.runs (run_id, namespace, workflow_id, workflow_type, queue, status,
                              input, last_seq, created_at, closed_at, fingerprint)
    SELECT gen_random_uuid(), 'default', 'bench-' || (%(first)s + g), 'order', 'default',
           'COMPLETED', '[1]', 11, now() - interval '1 hour' + g * interval '1 ms',
           now() - interval '1 hour' + g * interval '1 ms' + interval '40 ms', 'v1'
    FROM generate_series(1, %(runs)s) g
    RETURNING run_id, created_at
)
INSERT INTO harvest.history (run_id, seq, event_type, at, payload)
SELECT r.run_id, s.seq,
       CASE WHEN s.seq = 1 THEN 'WorkflowStarted' WHEN s.seq = 11 THEN 'WorkflowCompleted'
            WHEN (s.seq - 2) %% 3 = 0 THEN 'ActivityScheduled'
            WHEN (s.seq - 2) %% 3 = 1 THEN 'ActivityStarted' ELSE 'ActivityCompleted' END,
       r.created_at + s.seq * interval '3 ms',
       CASE WHEN s.seq = 1 THEN jsonb_build_object('workflow_type', 'order', 'args', '[1]'::jsonb)
            WHEN s.seq = 11 THEN jsonb_build_object('result', 42)
            WHEN (s.seq - 2) %% 3 = 0 THEN jsonb_build_object(
                'activity_type', 'charge', 'args', '[1]'::jsonb, 'queue', 'default',
                'options', '{}'::jsonb)
            WHEN (s.seq - 2) %% 3 = 1 THEN jsonb_build_object(
                'scheduled_seq', s.seq - 1, 'attempt', 1, 'worker_id', 'bench:1:abc',
                'started_at', to_char(r.created_at + s.seq * interval '3 ms',
                                      'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'))
            ELSE jsonb_build_object('scheduled_seq', s.seq - 2, 'attempt', 1, 'result', 2) END
FROM r CROSS JOIN generate_series(1, 11) AS s(seq)
"""


def write_runs(url: str, runs: int, first: int) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute(_SHAPE, {"runs": runs, "first": first})
        conn.commit()
        conn.execute("ANALYZE harvest.runs")
        conn.execute("ANALYZE harvest.history")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    url = _pg.create_database(_pg.start_server(), "bench_analysis")
    asyncio.run(ensure_migrated(url))
    runs = args.events // EVENTS_PER_RUN
    t0 = time.perf_counter()
    write_runs(url, runs, 0)
    print(f"# {time.strftime('%Y-%m-%d')} {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.2f}; wrote {runs:,} runs, {runs * EVENTS_PER_RUN:,} events"
          f" in {time.perf_counter() - t0:.1f} s", flush=True)
    client = hs.connect(url)
    try:
        db = hs.analytics.load(client)
        assert db.last is not None
        full = db.last
        print(f"full load: {full.events:,} events, {full.runs:,} runs in {full.seconds:.2f} s"
              f" ({full.events / full.seconds:,.0f} events/s; target 1,000,000 in <= 5 s)")
        more = max(1, runs // 100)
        write_runs(url, more, runs)
        step = db.load()
        print(f"incremental load: {step.events:,} new events of {step.runs:,} new runs in"
              f" {step.seconds:.2f} s")
        idle = db.load()
        print(f"nothing new: {idle.events} events in {idle.seconds:.2f} s")
        [(attempts,)] = db.sql("SELECT count(*) FROM attempts").rows
        print(f"attempts rows: {attempts:,}")
    finally:
        client.close()


if __name__ == "__main__":
    main()
