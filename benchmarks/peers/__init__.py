"""Peer systems for the Harvest Studio benchmarks: DBOS and Absurd.

Each peer module (``dbos_peer``, ``absurd_peer``) exposes the same three functions::

    setup(db_url) -> None
    throughput(db_url, n_workflows, processes) -> dict
    latency(db_url, samples) -> dict

This package module holds the small harness they share: spawn-context worker
processes gated by a start event, the drain measurement (wall time, transaction
commits and WAL deltas) and percentiles.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable, Sequence
from multiprocessing.synchronize import Event
from types import TracebackType
from typing import Any

import psycopg

from benchmarks import _pg

__all__ = ["Workers", "measure_drain", "percentiles"]

READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
COMPLETION_POLL_S = 0.02  # how often the harness counts finished workflows


class Workers:
    """``len(args)`` spawn-context processes running ``target(ready, start, stop, *args[i])``.

    A worker imports and prepares what it needs, sets ``ready``, waits for ``start``
    and then works until ``stop`` is set. Leaving the ``with`` block sets ``stop``,
    joins every worker and terminates (then kills) any that do not exit in time.
    """

    def __init__(self, target: Callable[..., None], args: Sequence[tuple[Any, ...]]) -> None:
        ctx = mp.get_context("spawn")
        self.start_event: Event = ctx.Event()
        self.stop_event: Event = ctx.Event()
        self.ready_events: list[Event] = [ctx.Event() for _ in args]
        self.processes = [
            ctx.Process(
                target=target,
                args=(ready, self.start_event, self.stop_event, *worker_args),
                name=f"peer-worker-{i}",
                daemon=True,
            )
            for i, (ready, worker_args) in enumerate(zip(self.ready_events, args, strict=True))
        ]

    def __enter__(self) -> Workers:
        for process in self.processes:
            process.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        for ready in self.ready_events:
            while not ready.wait(0.1):
                self.check_alive()
                if time.monotonic() > deadline:
                    raise TimeoutError("peer workers did not get ready in time")

    def start(self) -> float:
        """Release the workers; returns the ``time.perf_counter()`` of the release."""
        started = time.perf_counter()
        self.start_event.set()
        return started

    def check_alive(self) -> None:
        for process in self.processes:
            if process.exitcode is not None and not self.stop_event.is_set():
                raise RuntimeError(f"{process.name} exited early with code {process.exitcode}")

    def stop(self) -> None:
        self.stop_event.set()
        self.start_event.set()  # a worker still waiting to start must see stop too
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in self.processes:
            process.join(max(0.1, deadline - time.monotonic()))
        for process in self.processes:
            if process.is_alive():
                process.terminate()
                process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)


def _count(conn: psycopg.Connection[Any], query: str, params: Sequence[Any]) -> int:
    row = conn.execute(query, params).fetchone()
    return int(row[0]) if row is not None else 0


def measure_drain(
    db_url: str,
    target: Callable[..., None],
    worker_args: Sequence[tuple[Any, ...]],
    count_query: str,
    count_params: Sequence[Any],
    expected: int,
    timeout: float = 1800.0,
) -> dict[str, Any]:
    """Run workers over an already-filled queue and time the drain.

    ``count_query`` (one integer column) is polled on a private connection until it
    reaches ``expected``. The clock runs from releasing the (already spawned and
    imported) workers to the poll that sees ``expected``. Transaction and WAL
    counters are read with no session connected to the database before the workers
    start and after they (and the poller) have disconnected; the poller's own
    transactions (one per poll, plus one for its connection) are subtracted.
    """
    with Workers(target, worker_args) as workers:
        workers.wait_ready()
        _pg.wait_idle(db_url)
        commits_before = _pg.xact_commits(db_url)
        xids_before = _pg.xids_assigned(db_url)
        wal_before = _pg.wal_stats(db_url)
        polls = 0
        with psycopg.connect(db_url, autocommit=True) as conn:
            started = workers.start()
            deadline = started + timeout
            while True:
                polls += 1
                if _count(conn, count_query, count_params) >= expected:
                    seconds = time.perf_counter() - started
                    break
                workers.check_alive()
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"drain did not finish within {timeout}s")
                time.sleep(COMPLETION_POLL_S)
    _pg.wait_idle(db_url)
    commits = _pg.xact_commits(db_url) - commits_before - polls - 1
    writes = _pg.xids_assigned(db_url) - xids_before
    wal_after = _pg.wal_stats(db_url)
    result: dict[str, Any] = {
        "seconds": seconds,
        "per_second": expected / seconds,
        "commits": commits,  # every committed transaction, read-only ones included
        "write_transactions": writes,
    }
    for key in ("wal_records", "wal_bytes", "wal_fpi"):
        if key in wal_before and key in wal_after:
            result[key] = wal_after[key] - wal_before[key]
    return result


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 (linear interpolation between closest ranks) plus mean/min/max."""
    ordered = sorted(samples_ms)
    if not ordered:
        raise ValueError("no samples")

    def pick(q: float) -> float:
        pos = (len(ordered) - 1) * q
        lo = int(pos)
        hi = min(lo + 1, len(ordered) - 1)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)

    return {
        "p50_ms": pick(0.50),
        "p95_ms": pick(0.95),
        "p99_ms": pick(0.99),
        "mean_ms": sum(ordered) / len(ordered),
        "min_ms": ordered[0],
        "max_ms": ordered[-1],
    }
