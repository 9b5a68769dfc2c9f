"""A 100-node DAG (10 levels of 10 no-op tasks; every node depends on the whole level
before it): trigger -> done time and per-node overhead, Harvest Studio against Dagster
(in-process executor) and Prefect 3 (a local ephemeral server, thread-pool task runner),
alternating round by round in one invocation.

Harvest Studio runs on a private PostgreSQL with one worker process (16 slots); Dagster
and Prefect keep their own state where their defaults put it (a temporary Dagster
instance; Prefect's ephemeral server with SQLite). Each system's first run is a warm-up
(imports, connections, server start) and is not counted. No-op tasks make every
millisecond overhead: per-node overhead = trigger -> done / 100.

    pip install -e ".[bench,bench-dag]"
    python -m benchmarks.dag_bench [--rounds 5] [--peers dagster,prefect]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import statistics
import time
from datetime import date
from typing import Any

import harvest_studio as hs

from . import _pg
from .peers import Workers

LEVELS, WIDTH = 10, 10
NODES = LEVELS * WIDTH


@hs.activity(start_to_close="60s")
def noop(ctx: hs.ActivityContext) -> None:
    return None


@hs.dag
def layered(d: hs.Dag) -> None:
    previous: list[hs.Node] = []
    for level in range(LEVELS):
        previous = [
            d.task(noop, name=f"n{level}_{i}", upstream=previous) for i in range(WIDTH)
        ]


def _worker_main(ready: Any, start: Any, stop: Any, url: str) -> None:
    worker = hs.Worker(url=url, workflows=[layered], activities=[noop], max_concurrent_tasks=16)
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


class HarvestSide:
    name = "harvest"

    def __init__(self, url: str) -> None:
        self.client = hs.connect(url)
        self.workers = Workers(_worker_main, [(url,)])
        self.workers.__enter__()
        self.workers.wait_ready()
        self.workers.start()

    def run_once(self) -> float:
        began = time.perf_counter()
        run = self.client.start(layered)
        result = run.result(timeout=120)
        elapsed = time.perf_counter() - began
        assert len(result) == NODES, len(result)
        return elapsed

    def close(self) -> None:
        self.workers.__exit__(None, None, None)
        self.client.close()


class DagsterSide:
    name = "dagster"

    def __init__(self) -> None:
        from dagster import (
            DependencyDefinition,
            GraphDefinition,
            In,
            MultiDependencyDefinition,
            NodeInvocation,
            Nothing,
            op,
        )

        @op(ins={"after": In(Nothing)})
        def noop_op() -> None:
            return None

        dependencies: dict[Any, Any] = {}
        for level in range(LEVELS):
            for i in range(WIDTH):
                after = [DependencyDefinition(f"n{level - 1}_{j}") for j in range(WIDTH)]
                dependencies[NodeInvocation("noop_op", alias=f"n{level}_{i}")] = (
                    {"after": MultiDependencyDefinition(after)} if level else {}
                )
        graph = GraphDefinition(name="layered", node_defs=[noop_op], dependencies=dependencies)
        self.job = graph.to_job(name="layered_job")

    def run_once(self) -> float:
        began = time.perf_counter()
        result = self.job.execute_in_process()
        elapsed = time.perf_counter() - began
        assert result.success
        return elapsed

    def close(self) -> None:
        pass


class PrefectSide:
    name = "prefect"

    def __init__(self) -> None:
        from prefect import flow, task
        from prefect.task_runners import ThreadPoolTaskRunner

        @task
        def noop_task() -> None:
            return None

        @flow(task_runner=ThreadPoolTaskRunner(max_workers=WIDTH), log_prints=False)
        def layered_flow() -> int:
            previous: list[Any] = []
            for _ in range(LEVELS):
                previous = [noop_task.submit(wait_for=previous) for _ in range(WIDTH)]
            for future in previous:
                future.result()
            return NODES

        self.flow = layered_flow

    def run_once(self) -> float:
        began = time.perf_counter()
        assert self.flow() == NODES
        return time.perf_counter() - began

    def close(self) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--peers", default="dagster,prefect")
    args = parser.parse_args()
    for noisy in ("pgserver", "dagster", "prefect", "httpx", "uvicorn"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    base = _pg.start_server()
    url = _pg.create_database(base, "dag_bench")
    print(f"# {date.today()} {platform.machine()} {platform.python_version()}, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; {NODES} nodes "
          f"({LEVELS} levels x {WIDTH}), {args.rounds} rounds", flush=True)
    systems: list[Any] = [HarvestSide(url)]
    for peer in [p.strip() for p in args.peers.split(",") if p.strip()]:
        systems.append({"dagster": DagsterSide, "prefect": PrefectSide}[peer]())
    times: dict[str, list[float]] = {s.name: [] for s in systems}
    try:
        for system in systems:
            system.run_once()  # warm-up
        for _ in range(args.rounds):
            for system in systems:
                times[system.name].append(system.run_once())
    finally:
        for system in systems:
            system.close()
    harvest = statistics.median(times["harvest"])
    for name, values in times.items():
        median = statistics.median(values)
        line = (f"{name:8} trigger->done median {median * 1000:7.0f} ms"
                f" (min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f})"
                f"   per-node overhead {median / NODES * 1000:.2f} ms")
        if name != "harvest":
            line += f"   harvest x{median / harvest:.2f} faster"
        print(line, flush=True)


if __name__ == "__main__":
    main()
