"""Benchmark (3): latency of claiming one task with 1,000 vs 100,000 pending tasks.

    python -m benchmarks.claim_latency [--samples 300]
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


async def measure(url: str, samples: int) -> list[float]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
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
    args = parser.parse_args()
    url = _pg.create_database(_pg.start_server(), "bench_claim")
    asyncio.run(ensure_migrated(url))
    results = {}
    for pending in (1_000, 100_000, 1_000, 100_000):
        asyncio.run(fill(url, pending))
        asyncio.run(vacuum(url))
        values = sorted(asyncio.run(measure(url, args.samples)))
        results.setdefault(pending, []).append(statistics.median(values))
        print(f"{pending:>7} pending: p50 {statistics.median(values):.3f} ms,"
              f" p95 {values[int(0.95 * (len(values) - 1))]:.3f} ms")
    ratio = statistics.median(results[100_000]) / statistics.median(results[1_000])
    print(f"ratio p50(100k) / p50(1k) = {ratio:.2f}  (target <= 2)")


if __name__ == "__main__":
    main()
