"""Benchmark (4): replaying a run with 10,000 history events (cache miss), and the cost of
continuing a cached run by one more event.

    python -m benchmarks.replay [--events 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime

import psycopg

import harvest_studio as hs
from harvest_studio import store
from harvest_studio.engine.replay import WorkflowInstance
from harvest_studio.model import serde
from harvest_studio.model.events import ActivityCompleted, HistoryEvent, WorkflowStarted, decode
from harvest_studio.store.connection import ensure_migrated

from . import _pg


@hs.activity
def tick(ctx: hs.ActivityContext, i: int) -> int:
    return i


@hs.workflow
async def long_loop(ctx: hs.WorkflowContext, steps: int) -> int:
    total = 0
    for i in range(steps):
        total += int(await ctx.execute_activity(tick, i))
    return total


def build_history(events: int) -> tuple[str, list[HistoryEvent]]:
    """Drive a fresh instance live until it has ``events`` events (2 per activity)."""
    run_id = str(uuid.uuid4())
    at = datetime.now(UTC)
    inst = WorkflowInstance(long_loop, run_id)
    start = WorkflowStarted("long_loop", run_id, "default", "default", [events])
    inst.replay([HistoryEvent(1, at, start)])
    i = 0
    while len(inst.events) < events:
        seq = inst.events[-1].seq  # the ActivityScheduled just issued
        inst.advance([(ActivityCompleted(seq, 1, i), at)])
        i += 1
    return run_id, inst.events


async def save_history(url: str, run_id: str, events: list[HistoryEvent]) -> None:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await conn.execute(
            "INSERT INTO harvest.history (run_id, seq, event_type, at, payload)"
            " SELECT %s, s, t, a, p::jsonb FROM unnest(%s::int[], %s::text[],"
            " %s::timestamptz[], %s::text[]) AS u(s, t, a, p)",
            (
                run_id,
                [e.seq for e in events],
                [e.event_type for e in events],
                [e.at for e in events],
                [serde.dumps(e.event.fields()) for e in events],
            ),
        )
        await conn.commit()


async def cold_replay(url: str, run_id: str) -> tuple[float, float]:
    """Seconds to load the history from the database, and to replay it."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        t0 = time.perf_counter()
        rows = (await store.load_history_tails(conn, [(run_id, 0, 2**31 - 1)]))[run_id]
        t1 = time.perf_counter()
    events = [HistoryEvent(r["seq"], r["at"], decode(r["event_type"], r["payload"])) for r in rows]
    inst = WorkflowInstance(long_loop, run_id)
    owed = inst.replay(events)
    t2 = time.perf_counter()
    assert owed == [] and inst.pos == len(events)
    return t1 - t0, t2 - t1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    run_id, events = build_history(args.events)
    url = _pg.create_database(_pg.start_server(), "bench_replay")
    asyncio.run(ensure_migrated(url))
    asyncio.run(save_history(url, run_id, events))
    loads, replays = [], []
    for _ in range(args.repeat):
        load, replay = asyncio.run(cold_replay(url, run_id))
        loads.append(load)
        replays.append(replay)
    # cached continuation: one more event on an instance that is already current
    at = datetime.now(UTC)
    inst = WorkflowInstance(long_loop, run_id)
    inst.replay(events)
    t0 = time.perf_counter()
    inst.advance([(ActivityCompleted(inst.events[-1].seq, 1, 0), at)])
    cached = time.perf_counter() - t0
    load, replay = statistics.median(loads), statistics.median(replays)
    print(f"history: {len(events)} events")
    print(f"cold replay (median of {args.repeat}): load {load * 1000:.1f} ms"
          f" + replay {replay * 1000:.1f} ms = {(load + replay) * 1000:.1f} ms"
          f"  ({len(events) / replay:,.0f} events/s replayed)")
    print(f"cached continuation by one event: {cached * 1e6:.0f} us")


if __name__ == "__main__":
    main()
