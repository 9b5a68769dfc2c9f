"""Harvest Studio's side of the comparative benchmarks (same interface as ``peers``)."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import statistics
import time
from typing import Any

import psycopg

import harvest_studio as hs
from harvest_studio import _store
from harvest_studio._database import ensure_migrated

from . import _pg
from .harvest_app import ACTIVITIES, WORKFLOWS, one_step, three_steps

WORKER_TUNING = {"max_concurrent_tasks": 64, "poll_interval": 1.0}


def setup(db_url: str) -> None:
    asyncio.run(ensure_migrated(db_url))


def _worker_main(url: str, ready: Any, stop: Any) -> None:
    worker = hs.Worker(url=url, workflows=WORKFLOWS, activities=ACTIVITIES, **WORKER_TUNING)

    async def main() -> None:
        done = asyncio.Event()

        async def watch() -> None:
            while not stop.is_set():
                await asyncio.sleep(0.05)
            done.set()

        watcher = asyncio.create_task(watch())
        runner = asyncio.create_task(worker.run(done))
        while not worker._started.is_set():
            await asyncio.sleep(0.01)
        ready.set()
        await runner
        watcher.cancel()

    asyncio.run(main())


class WorkerPool:
    """``processes`` worker processes serving the benchmark app."""

    def __init__(self, url: str, processes: int) -> None:
        ctx = mp.get_context("spawn")
        self.stop = ctx.Event()
        self.ready = [ctx.Event() for _ in range(processes)]
        self.procs = [
            ctx.Process(target=_worker_main, args=(url, r, self.stop), daemon=True)
            for r in self.ready
        ]

    def __enter__(self) -> WorkerPool:
        for proc in self.procs:
            proc.start()
        for event in self.ready:
            if not event.wait(60):
                raise RuntimeError("worker process did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for proc in self.procs:
            proc.join(30)
            if proc.is_alive():
                proc.kill()


async def _enqueue(url: str, n: int) -> list[str]:
    async with hs.AsyncClient(url) as client:
        handles = []
        for i in range(n):
            handles.append(await client.start(three_steps, i, force=True))
        return [h.run_id for h in handles if h.run_id]


async def _wait_all_closed(url: str, ids: list[str], timeout: float) -> None:
    """Wait on completion notifications, re-checking the table twice a second (a
    notification sent before we listened is not replayed)."""
    remaining = set(ids)
    deadline = time.monotonic() + timeout
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    async with conn:
        await conn.execute(f"LISTEN {_store.RUNS_CHANNEL}")
        while remaining and time.monotonic() < deadline:
            cur = await conn.execute(
                "SELECT run_id::text FROM harvest.runs WHERE status <> 'RUNNING'"
                " AND run_id = ANY(%s::uuid[])",
                (list(remaining),),
            )
            remaining -= {r[0] for r in await cur.fetchall()}
            async for note in conn.notifies(timeout=0.5):
                remaining.discard(note.payload)
                if not remaining:
                    break
    if remaining:
        raise RuntimeError(f"{len(remaining)} runs did not finish")


def _verify(url: str, ids: list[str]) -> None:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'COMPLETED' AND result = '3'::jsonb"
            " OR status = 'COMPLETED'), count(*) FROM harvest.runs WHERE run_id = ANY(%s::uuid[])",
            (ids,),
        ).fetchone()
        assert row is not None and row[0] == len(ids), f"not all completed: {row}"
        dup = conn.execute(
            "SELECT count(*) FROM (SELECT run_id FROM harvest.history"
            " WHERE event_type = 'WorkflowCompleted' GROUP BY run_id HAVING count(*) > 1) d"
        ).fetchone()
        assert dup is not None and dup[0] == 0


def throughput(db_url: str, n_workflows: int, processes: int) -> dict[str, Any]:
    setup(db_url)
    ids = asyncio.run(_enqueue(db_url, n_workflows))
    _pg.wait_idle(db_url)
    commits0, wal0 = _pg.xact_commits(db_url), _pg.wal_stats(db_url)
    started = time.perf_counter()
    with WorkerPool(db_url, processes):
        asyncio.run(_wait_all_closed(db_url, ids, timeout=600))
        seconds = time.perf_counter() - started
    _pg.wait_idle(db_url)
    commits1, wal1 = _pg.xact_commits(db_url), _pg.wal_stats(db_url)
    _verify(db_url, ids)
    return {
        "system": "harvest",
        "workflows": n_workflows,
        "seconds": seconds,
        "per_second": n_workflows / seconds,
        "wal_commits": commits1 - commits0,
        **{k: wal1[k] - wal0[k] for k in wal0},
    }


async def _latency(url: str, samples: int) -> list[float]:
    async with hs.AsyncClient(url) as client:
        for i in range(20):  # warm-up: connections, listener, worker cache
            await (await client.start(one_step, i, force=True)).result(timeout=30)
        out = []
        for i in range(samples):
            t0 = time.perf_counter()
            handle = await client.start(one_step, i, force=True)
            await handle.result(timeout=30)
            out.append((time.perf_counter() - t0) * 1000)
        return out


def latency(db_url: str, samples: int) -> dict[str, Any]:
    setup(db_url)
    with WorkerPool(db_url, 1):
        values = sorted(asyncio.run(_latency(db_url, samples)))
    return {
        "system": "harvest",
        "p50_ms": statistics.median(values),
        "p95_ms": values[int(0.95 * (len(values) - 1))],
        "p99_ms": values[int(0.99 * (len(values) - 1))],
    }
