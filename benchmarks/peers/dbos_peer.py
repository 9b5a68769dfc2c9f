"""DBOS Transact 3.4 as a benchmark peer.

Configuration (see README.md in this folder for the reasoning):

* the system database is the database passed in (``system_database_url``); its
  schema is created once by ``setup`` via ``DBOS.migrate`` and workers launch with
  ``run_migrations=False``;
* two database-backed queues are registered by ``setup`` through ``DBOSClient``:
  ``bench_throughput`` (``worker_concurrency`` per executor, short polling interval)
  and ``bench_latency`` (very short polling interval);
* every worker process is its own DBOS executor (distinct ``executor_id``), shares
  one pinned ``application_version`` with the enqueuer and calls
  ``DBOS.listen_queues`` for the one queue it drains;
* workflows are enqueued from outside the application with ``DBOSClient.enqueue``
  (the queue API), so the parent process never runs a DBOS executor itself.
"""

from __future__ import annotations

import time
import uuid
from multiprocessing.synchronize import Event
from typing import Any

import psycopg
from dbos import DBOS, DBOSClient, DBOSConfig, EnqueueOptions, WorkflowHandle

from benchmarks import _pg
from benchmarks.peers import Workers, measure_drain, percentiles

SYSTEM = "dbos"
APP_NAME = "harvest-bench"
APP_VERSION = "harvest-bench-1"  # pinned so enqueuer and every executor agree
THROUGHPUT_QUEUE = "bench_throughput"
LATENCY_QUEUE = "bench_latency"
THREE_STEPS = "bench_three_steps"
ONE_STEP = "bench_one_step"

# Throughput tuning, per worker process (executor).
WORKER_CONCURRENCY = 12  # workflows running at once per executor (each on its own thread)
THROUGHPUT_POLL_S = 0.03  # queue polling interval: how soon freed slots are refilled
# Latency tuning: one warmed-up executor, polling the queue every few milliseconds.
LATENCY_POLL_S = 0.005
RESULT_POLL_S = 0.001  # WorkflowHandle.get_result polling interval on the client side
WARMUP = 10


@DBOS.step(name="bench_step")
def _step(x: int) -> int:
    return x + 1


@DBOS.workflow(name=THREE_STEPS)
def _three_steps(x: int) -> int:
    return _step(_step(_step(x)))


@DBOS.workflow(name=ONE_STEP)
def _one_step(x: int) -> int:
    return _step(x)


def _client(db_url: str) -> DBOSClient:
    return DBOSClient(system_database_url=db_url, application_name=APP_NAME)


def _options(queue: str, workflow: str, workflow_id: str) -> EnqueueOptions:
    return {
        "queue_name": queue,
        "workflow_name": workflow,
        "workflow_id": workflow_id,
        "app_version": APP_VERSION,
        "application_name": APP_NAME,
    }


def setup(db_url: str) -> None:
    """Create/migrate the DBOS system schema in ``db_url`` and register both queues."""
    DBOS.migrate(db_url)
    client = _client(db_url)
    try:
        client.register_queue(
            THROUGHPUT_QUEUE,
            worker_concurrency=WORKER_CONCURRENCY,
            polling_interval_sec=THROUGHPUT_POLL_S,
            on_conflict="always_update",
            application_name=APP_NAME,
        )
        client.register_queue(
            LATENCY_QUEUE,
            polling_interval_sec=LATENCY_POLL_S,
            on_conflict="always_update",
            application_name=APP_NAME,
        )
    finally:
        client.destroy()


def _worker_main(
    ready: Event,
    start: Event,
    stop: Event,
    db_url: str,
    executor_id: str,
    queue: str,
    pool_size: int,
) -> None:
    """One DBOS executor draining ``queue`` until ``stop`` is set."""
    config: DBOSConfig = {
        "name": APP_NAME,
        "system_database_url": db_url,
        "executor_id": executor_id,
        "application_version": APP_VERSION,
        "sys_db_pool_size": pool_size,
        "run_migrations": False,
        "log_level": "WARNING",
    }
    DBOS(config=config)
    DBOS.listen_queues([queue])
    ready.set()
    start.wait()
    if stop.is_set():
        DBOS.destroy()
        return
    DBOS.launch()
    stop.wait()
    DBOS.destroy(workflow_completion_timeout_sec=0)


def _enqueue_all(db_url: str, run_id: str, n: int) -> list[str]:
    client = _client(db_url)
    ids = [f"{run_id}-{i}" for i in range(n)]
    try:
        for i, workflow_id in enumerate(ids):
            client.enqueue(_options(THROUGHPUT_QUEUE, THREE_STEPS, workflow_id), i)
    finally:
        client.destroy()
    return ids


def _verify(db_url: str, ids: list[str]) -> None:
    client = _client(db_url)
    try:
        with psycopg.connect(db_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM dbos.workflow_status"
                " WHERE workflow_uuid = ANY(%s) AND status = 'SUCCESS'",
                (ids,),
            ).fetchone()
        done = int(row[0]) if row is not None else 0
        if done != len(ids):
            raise RuntimeError(f"dbos: only {done} of {len(ids)} workflows succeeded")
        # Spot-check results through the API: workflow i returns i + 3.
        for i in sorted({0, len(ids) // 2, len(ids) - 1}):
            result: object = client.retrieve_workflow(ids[i]).get_result()
            if result != i + 3:
                raise RuntimeError(f"dbos: workflow {ids[i]} returned {result!r}")
    finally:
        client.destroy()


def throughput(db_url: str, n_workflows: int, processes: int) -> dict[str, Any]:
    """Enqueue ``n_workflows`` 3-step workflows, then time ``processes`` executors draining them."""
    setup(db_url)
    run_id = f"tp-{uuid.uuid4().hex[:12]}"
    ids = _enqueue_all(db_url, run_id, n_workflows)
    pool_size = WORKER_CONCURRENCY + 4  # a connection per running workflow + background threads
    args = [(db_url, f"bench-{run_id}-{i}", THROUGHPUT_QUEUE, pool_size) for i in range(processes)]
    drain = measure_drain(
        db_url,
        _worker_main,
        args,
        "SELECT count(*) FROM dbos.workflow_status"
        " WHERE queue_name = %s AND workflow_uuid LIKE %s AND status = 'SUCCESS'",
        (THROUGHPUT_QUEUE, f"{run_id}-%"),
        n_workflows,
    )
    _verify(db_url, ids)
    return {
        "system": SYSTEM,
        "workflows": n_workflows,
        "processes": processes,
        **drain,
        "config": {
            "worker_concurrency": WORKER_CONCURRENCY,
            "polling_interval_sec": THROUGHPUT_POLL_S,
            "sys_db_pool_size": pool_size,
        },
    }


def latency(db_url: str, samples: int) -> dict[str, Any]:
    """Sequential enqueue-and-wait of a 1-step workflow against one warmed-up executor."""
    setup(db_url)
    run_id = f"lat-{uuid.uuid4().hex[:12]}"
    args = [(db_url, f"bench-{run_id}", LATENCY_QUEUE, 8)]
    timings_ms: list[float] = []
    with Workers(_worker_main, args) as workers:
        workers.wait_ready()
        workers.start()
        client = _client(db_url)
        try:
            for i in range(WARMUP + samples):
                workers.check_alive()
                t0 = time.perf_counter()
                handle: WorkflowHandle[int] = client.enqueue(
                    _options(LATENCY_QUEUE, ONE_STEP, f"{run_id}-{i}"), i
                )
                result = handle.get_result(polling_interval_sec=RESULT_POLL_S)
                elapsed_ms = (time.perf_counter() - t0) * 1000.0
                if result != i + 1:
                    raise RuntimeError(f"dbos: latency workflow returned {result!r}")
                if i >= WARMUP:
                    timings_ms.append(elapsed_ms)
        finally:
            client.destroy()
    _pg.wait_idle(db_url)
    return {
        "system": SYSTEM,
        "samples": samples,
        **percentiles(timings_ms),
        "config": {"polling_interval_sec": LATENCY_POLL_S, "result_poll_sec": RESULT_POLL_S},
    }
