"""Harvest Studio under a backlog: 3-activity workflows queued up front (2,000 and 20,000),
drained by 1, 2 and 4 worker processes. Reports the drain rate and how long the first run
took to complete (the first completion shows whether runs in progress go ahead of runs not
yet begun). One fresh database per case.

    python -m benchmarks.backlog [--sizes 2000,20000] [--processes 1,2,4]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import time
from datetime import date

import psycopg

from . import _pg, harvest_side
from .peers import COMPLETION_POLL_S, Workers


def _drain(url: str, n: int, processes: int) -> tuple[float, float]:
    """Seconds to the first completed run and to the last, from releasing the workers."""
    with Workers(harvest_side._worker_main, [(url,)] * processes) as workers:
        workers.wait_ready()
        with psycopg.connect(url, autocommit=True) as conn:
            started = workers.start()
            first = None
            while True:
                row = conn.execute(
                    "SELECT count(*) FROM harvest.runs WHERE status = 'COMPLETED'"
                ).fetchone()
                done = int(row[0]) if row else 0
                now = time.perf_counter() - started
                if done and first is None:
                    first = now
                if done >= n:
                    return first or now, now
                workers.check_alive()
                time.sleep(COMPLETION_POLL_S)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="2000,20000")
    parser.add_argument("--processes", default="1,2,4")
    args = parser.parse_args()
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    base = _pg.start_server()
    print(f"# {date.today()} {platform.machine()} {platform.python_version()},"
          f" {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}", flush=True)
    print("| queued | processes | wf/s | first completion | drain |")
    print("|---|---|---|---|---|")
    for n in (int(x) for x in args.sizes.split(",")):
        for processes in (int(x) for x in args.processes.split(",")):
            url = _pg.create_database(base, f"backlog_{n}_{processes}")
            harvest_side.setup(url)
            asyncio.run(harvest_side._enqueue(url, n))
            first, total = _drain(url, n, processes)
            print(f"| {n:,} | {processes} | {n / total:.1f} | {first:.2f} s | {total:.1f} s |",
                  flush=True)


if __name__ == "__main__":
    main()
