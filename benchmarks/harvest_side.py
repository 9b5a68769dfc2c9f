"""Harvest Studio's side of the comparative benchmarks (same interface as ``peers``)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg

import harvest_studio as hs
from harvest_studio.store.connection import ensure_migrated

from .harvest_app import ACTIVITIES, WORKFLOWS, one_step, three_steps
from .peers import Workers, measure_drain, percentiles

WORKER_TUNING = {"max_concurrent_tasks": 64, "poll_interval": 1.0}


def setup(db_url: str) -> None:
    asyncio.run(ensure_migrated(db_url))


def _worker_main(ready: Any, start: Any, stop: Any, url: str) -> None:
    """One worker process: ready, wait for the start signal, serve until ``stop``."""
    worker = hs.Worker(url=url, workflows=WORKFLOWS, activities=ACTIVITIES, **WORKER_TUNING)
    ready.set()
    start.wait()
    if stop.is_set():
        return

    async def main() -> None:
        done = asyncio.Event()

        async def watch() -> None:
            while not stop.is_set():
                await asyncio.sleep(0.05)
            done.set()

        watcher = asyncio.create_task(watch())
        await worker.run(done)
        watcher.cancel()

    asyncio.run(main())


async def _enqueue(url: str, n: int) -> list[str]:
    async with hs.AsyncClient(url) as client:
        handles = [await client.start(three_steps, i, force=True) for i in range(n)]
        return [h.run_id for h in handles if h.run_id]


def _verify(url: str, ids: list[str]) -> None:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'COMPLETED' AND result = to_jsonb(3 + "
            " (input->>0)::int)), count(*) FROM harvest.runs WHERE run_id = ANY(%s::uuid[])",
            (ids,),
        ).fetchone()
        assert row is not None and row[0] == len(ids), f"not all completed correctly: {row}"
        dup = conn.execute(
            "SELECT count(*) FROM (SELECT run_id FROM harvest.history"
            " WHERE event_type IN ('WorkflowCompleted', 'ActivityCompleted')"
            " GROUP BY run_id, event_type, payload->'scheduled_seq' HAVING count(*) > 1) d"
        ).fetchone()
        assert dup is not None and dup[0] == 0, "duplicate completion events"


def throughput(db_url: str, n_workflows: int, processes: int) -> dict[str, Any]:
    setup(db_url)
    ids = asyncio.run(_enqueue(db_url, n_workflows))
    result = measure_drain(
        db_url,
        _worker_main,
        [(db_url,)] * processes,
        # as cheap as the peers' checks: every round has a fresh database of its own
        "SELECT count(*) FROM harvest.runs WHERE status = 'COMPLETED'",
        [],
        n_workflows,
    )
    _verify(db_url, ids)
    return {"system": "harvest", "workflows": n_workflows, "processes": processes, **result}


async def _latency(url: str, samples: int, workflow: hs.WorkflowDefinition) -> list[float]:
    async with hs.AsyncClient(url) as client:
        for i in range(20):  # warm-up: connections, listener, worker cache
            await (await client.start(workflow, i, force=True)).result(timeout=30)
        out = []
        for i in range(samples):
            t0 = time.perf_counter()
            handle = await client.start(workflow, i, force=True)
            await handle.result(timeout=30)
            out.append((time.perf_counter() - t0) * 1000)
        return out


def latency(
    db_url: str, samples: int, workflow: hs.WorkflowDefinition = one_step
) -> dict[str, Any]:
    """Start -> result of ``workflow`` (one activity), one run at a time, with one worker
    process serving it."""
    setup(db_url)
    with Workers(_worker_main, [(db_url,)]) as workers:
        workers.wait_ready()
        workers.start()
        values = asyncio.run(_latency(db_url, samples, workflow))
    return {"system": "harvest", "samples": samples, **percentiles(values)}
