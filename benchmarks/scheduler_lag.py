"""Scheduler lag: how late a slot's run starts, with many schedules firing at once.

1,000 schedules of a trivial workflow, every minute on the minute (the worst case: all
their slots fall on the same instant), served by 2 worker processes whose schedulers share
the work. The lag of a slot is its run's ``created_at`` minus the slot time (never
negative: runs never start early). Two minutes are measured.

    python -m benchmarks.scheduler_lag [--schedules 1000] [--minutes 2] [--processes 2]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import time
from datetime import UTC, date, datetime
from typing import Any

import psycopg

import harvest_studio as hs

from . import _pg
from .peers import Workers, percentiles


@hs.workflow
async def on_the_minute(ctx: hs.WorkflowContext) -> int:
    return 1


def _worker_main(ready: Any, start: Any, stop: Any, url: str) -> None:
    worker = hs.Worker(url=url, workflows=[on_the_minute], max_concurrent_tasks=64)
    ready.set()
    start.wait()

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--minutes", type=int, default=2)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    base = _pg.start_server()
    url = _pg.create_database(base, "sched_lag")
    client = hs.connect(url)
    for i in range(args.schedules):
        client.create_schedule(f"s{i:04d}", on_the_minute, cron="* * * * *", catchup="skip_all")
    print(f"# {date.today()} {platform.machine()} {platform.python_version()}, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; {args.schedules} schedules, "
          f"{args.processes} worker processes, {args.minutes} minutes", flush=True)
    with Workers(_worker_main, [(url,)] * args.processes) as workers:
        workers.wait_ready()
        started = datetime.now(UTC)
        workers.start()
        # the minutes after the workers are up; the first whole minute is the first measured
        time.sleep(60 * (args.minutes + 1) - started.second + 5)
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM created_at - (search_attributes->>'scheduled_at')"
            "::timestamptz) * 1000 FROM harvest.runs"
            " WHERE (search_attributes->>'scheduled_at')::timestamptz > %s",
            (started,),
        ).fetchall()
    lags = [float(r[0]) for r in rows]
    expected = args.schedules * args.minutes
    print(f"runs started: {len(lags)} (expected at least {expected})")
    stats = percentiles(lags)
    print(f"lag slot -> run started: p50 {stats['p50_ms']:.0f} ms, p95 {stats['p95_ms']:.0f} ms,"
          f" p99 {stats['p99_ms']:.0f} ms, max {stats['max_ms']:.0f} ms (target p99 <= 1000 ms);"
          f" min {stats['min_ms']:.0f} ms")
    client.close()


if __name__ == "__main__":
    main()
