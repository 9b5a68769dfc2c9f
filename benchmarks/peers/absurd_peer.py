"""Absurd (absurd-sdk / absurdctl 0.5.1) as a benchmark peer.

Configuration (see README.md in this folder for the reasoning):

* ``setup`` installs the schema exactly as ``absurdctl init`` would (the SQL that
  ``absurdctl.load_absurd_sql`` resolves for the bundled target version, i.e. the
  ``absurd.sql`` shipped inside the absurdctl package) unless ``absurd.get_schema_version()``
  already exists, then creates one unpartitioned queue with ``Absurd.create_queue``;
* tasks are spawned with ``Absurd.spawn``; each worker process runs the SDK's own
  ``Absurd.start_worker`` loop (claim in batches, run on a thread pool) on
  ``CLIENTS_PER_PROCESS`` clients, each client owning one connection;
* a task is a handler whose steps are ``ctx.step`` checkpoints.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from multiprocessing.synchronize import Event
from typing import Any

import absurdctl  # type: ignore[import-untyped]
import psycopg
from absurd_sdk import Absurd, TaskContext

from benchmarks import _pg
from benchmarks.peers import Workers, measure_drain, percentiles

SYSTEM = "absurd"
QUEUE = "bench"
THREE_STEPS = "bench_three_steps"
ONE_STEP = "bench_one_step"

# Throughput tuning, per worker process.
CLIENTS_PER_PROCESS = 4  # Absurd clients per process, each with its own connection + worker loop
CONCURRENCY = 1  # start_worker(concurrency=...): >1 only adds threads sharing ONE connection
BATCH_SIZE = 16  # start_worker(batch_size=...): the fastest of the sweep in README.md
THROUGHPUT_POLL_S = 0.01  # idle poll / wait-for-progress interval
CLAIM_TIMEOUT_S = 120
# Latency tuning: one warmed-up worker with a short idle poll.
LATENCY_POLL_S = 0.005
RESULT_POLL_S = 0.001  # fetch_task_result polling interval on the client side
WARMUP = 10


def _three_steps(params: Any, ctx: TaskContext) -> int:
    x = int(params["x"])
    a = ctx.step("step1", lambda: x + 1)
    b = ctx.step("step2", lambda: a + 1)
    return ctx.step("step3", lambda: b + 1)


def _one_step(params: Any, ctx: TaskContext) -> int:
    x = int(params["x"])
    return ctx.step("step1", lambda: x + 1)


def _schema_sql() -> str:
    """The SQL ``absurdctl init`` applies for its default (bundled) schema version."""
    script_dir = os.path.dirname(os.path.abspath(absurdctl.__file__))
    sql_text, _source = absurdctl.load_absurd_sql(
        script_dir, absurdctl.ABSURD_SCHEMA_TARGET_VERSION, False
    )
    return str(sql_text)


def setup(db_url: str) -> None:
    """Install the Absurd schema (once) and create the benchmark queue in ``db_url``."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT to_regprocedure('absurd.get_schema_version()') IS NOT NULL"
        ).fetchone()
        if not (row and row[0]):
            with conn.transaction():
                conn.execute(_schema_sql().encode())  # no parameters: simple query protocol
        client = Absurd(conn, queue_name=QUEUE)
        client.create_queue(QUEUE)  # idempotent


def _client(db_url: str) -> Absurd:
    client = Absurd(db_url, queue_name=QUEUE)
    client.register_task(THREE_STEPS)(_three_steps)
    client.register_task(ONE_STEP)(_one_step)
    return client


def _worker_main(
    ready: Event,
    start: Event,
    stop: Event,
    db_url: str,
    worker_id: str,
    clients: int,
    concurrency: int,
    batch_size: int,
    poll_interval: float,
) -> None:
    """``clients`` Absurd workers (one connection each) in this process until ``stop``."""
    ready.set()
    start.wait()
    if stop.is_set():
        return
    absurds = [_client(db_url) for _ in range(clients)]
    errors: list[BaseException] = []

    def run(client: Absurd, index: int) -> None:
        try:
            client.start_worker(
                worker_id=f"{worker_id}-{index}",
                claim_timeout=CLAIM_TIMEOUT_S,
                concurrency=concurrency,
                batch_size=batch_size,
                poll_interval=poll_interval,
            )
        except BaseException as exc:  # surfaced below as a non-zero exit code
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(client, i), daemon=True)
        for i, client in enumerate(absurds)
    ]
    for thread in threads:
        thread.start()
    stop.wait()
    for client in absurds:
        client.stop_worker()
    for thread in threads:
        thread.join(30)
    for client in absurds:
        client.close()
    if errors:
        raise errors[0]


def _spawn_all(db_url: str, n: int) -> list[str]:
    client = _client(db_url)
    try:
        return [str(client.spawn(THREE_STEPS, {"x": i})["task_id"]) for i in range(n)]
    finally:
        client.close()


def _verify(db_url: str, task_ids: list[str]) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            f"SELECT count(*) FROM absurd.t_{QUEUE}"
            " WHERE task_id = ANY(%s::uuid[]) AND state = 'completed'",
            (task_ids,),
        ).fetchone()
        done = int(row[0]) if row is not None else 0
        if done != len(task_ids):
            raise RuntimeError(f"absurd: only {done} of {len(task_ids)} tasks completed")
        client = Absurd(conn, queue_name=QUEUE)
        # Spot-check results through the API: task i returns i + 3.
        for i in sorted({0, len(task_ids) // 2, len(task_ids) - 1}):
            snapshot = client.fetch_task_result(task_ids[i])
            if snapshot is None or snapshot.result != i + 3:
                raise RuntimeError(f"absurd: task {task_ids[i]} finished as {snapshot!r}")


def throughput(db_url: str, n_workflows: int, processes: int) -> dict[str, Any]:
    """Spawn ``n_workflows`` 3-step tasks; time ``processes`` worker processes draining them."""
    setup(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            f"SELECT count(*) FROM absurd.t_{QUEUE} WHERE state = 'completed'"
        ).fetchone()
    already_done = int(row[0]) if row is not None else 0
    task_ids = _spawn_all(db_url, n_workflows)
    run_id = uuid.uuid4().hex[:12]
    args = [
        (
            db_url,
            f"bench-{run_id}-{i}",
            CLIENTS_PER_PROCESS,
            CONCURRENCY,
            BATCH_SIZE,
            THROUGHPUT_POLL_S,
        )
        for i in range(processes)
    ]
    drain = measure_drain(
        db_url,
        _worker_main,
        args,
        f"SELECT count(*) - %s FROM absurd.t_{QUEUE} WHERE state = 'completed'",
        (already_done,),
        n_workflows,
    )
    _verify(db_url, task_ids)
    return {
        "system": SYSTEM,
        "workflows": n_workflows,
        "processes": processes,
        **drain,
        "config": {
            "clients_per_process": CLIENTS_PER_PROCESS,
            "concurrency": CONCURRENCY,
            "batch_size": BATCH_SIZE,
            "poll_interval": THROUGHPUT_POLL_S,
        },
    }


def latency(db_url: str, samples: int) -> dict[str, Any]:
    """Sequential spawn-and-wait of a 1-step task against one warmed-up worker."""
    setup(db_url)
    run_id = uuid.uuid4().hex[:12]
    args = [(db_url, f"bench-lat-{run_id}", 1, 1, 1, LATENCY_POLL_S)]
    timings_ms: list[float] = []
    with Workers(_worker_main, args) as workers:
        workers.wait_ready()
        workers.start()
        client = _client(db_url)
        try:
            for i in range(WARMUP + samples):
                workers.check_alive()
                t0 = time.perf_counter()
                task_id = str(client.spawn(ONE_STEP, {"x": i})["task_id"])
                while True:
                    snapshot = client.fetch_task_result(task_id)
                    if snapshot is not None and snapshot.state in (
                        "completed",
                        "failed",
                        "cancelled",
                    ):
                        break
                    time.sleep(RESULT_POLL_S)
                elapsed_ms = (time.perf_counter() - t0) * 1000.0
                if snapshot.state != "completed" or snapshot.result != i + 1:
                    raise RuntimeError(f"absurd: latency task finished as {snapshot!r}")
                if i >= WARMUP:
                    timings_ms.append(elapsed_ms)
        finally:
            client.close()
    _pg.wait_idle(db_url)
    return {
        "system": SYSTEM,
        "samples": samples,
        **percentiles(timings_ms),
        "config": {"poll_interval": LATENCY_POLL_S, "result_poll_sec": RESULT_POLL_S},
    }
