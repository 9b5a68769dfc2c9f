"""Benchmark (3): latency of claiming one task with 1,000, 100,000 and 1,000,000 pending
tasks, on a connection set up as the worker's are (``plan_cache_mode=force_generic_plan``,
statements prepared after psycopg's default five runs), so the plan measured is the plan a
worker gets. Backlog sizes alternate (1k, 100k, 1M, 1k, 100k, 1M).

    python -m benchmarks.claim_latency [--samples 300] [--sizes 1000,100000,1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import psycopg

from harvest_studio import store
from harvest_studio.store.connection import ensure_migrated

from . import _pg


async def fill(url: str, pending: int) -> None:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await conn.execute("TRUNCATE harvest.tasks")
        await conn.execute(
            "INSERT INTO harvest.tasks (namespace, kind, run_id, type_name, queue, state,"
            " activity_seq, input, retry_policy, visible_at)"
            " SELECT 'default', 'activity', %s, 'work', 'default', 'PENDING', g, '[]', '{}',"
            " now() - make_interval(secs => g * 0.001) FROM generate_series(1, %s) g",
            (str(uuid.uuid4()), pending),
        )
        await conn.commit()


WORKER_OPTIONS = "-c plan_cache_mode=force_generic_plan"  # as engine/worker/worker.py sets


async def measure(url: str, samples: int) -> list[float]:
    async with await psycopg.AsyncConnection.connect(
        url, autocommit=True, options=WORKER_OPTIONS
    ) as conn:
        out = []
        for _ in range(samples):
            t0 = time.perf_counter()
            rows = await store.claim_tasks(
                conn, worker_id="bench", namespace="default", queues=["default"],
                workflows=["wf"], activities=["work"], limit=1, lease_seconds=30,
            )
            out.append((time.perf_counter() - t0) * 1000)
            assert len(rows) == 1
        return out


async def vacuum(url: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("VACUUM ANALYZE harvest.tasks")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--sizes", default="1000,100000,1000000")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    url = _pg.create_database(_pg.start_server(), "bench_claim")
    asyncio.run(ensure_migrated(url))
    results: dict[int, list[float]] = {}
    for pending in sizes * 2:
        asyncio.run(fill(url, pending))
        asyncio.run(vacuum(url))
        values = sorted(asyncio.run(measure(url, args.samples)))
        results.setdefault(pending, []).append(statistics.median(values))
        print(f"{pending:>9} pending: p50 {statistics.median(values):.3f} ms,"
              f" p95 {values[int(0.95 * (len(values) - 1))]:.3f} ms", flush=True)
    base = statistics.median(results[sizes[0]])
    for pending in sizes[1:]:
        ratio = statistics.median(results[pending]) / base
        print(f"ratio p50({pending:,}) / p50({sizes[0]:,}) = {ratio:.2f}  (target <= 2)")


if __name__ == "__main__":
    main()
