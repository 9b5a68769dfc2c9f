"""The test kit: a private database, in-process workers and a clock that skips ahead;
and :func:`assert_replays`, the replay gate over exported histories.

With the package installed, pytest finds the ``harvest_env`` fixture by itself (the plugin
:mod:`harvest_studio.testing.plugin`): each test gets a fresh database on a private
PostgreSQL (or on ``HARVEST_TEST_DATABASE_URL``'s server), a client, and workers that stop
when the test ends. :meth:`WorkflowEnvironment.result` waits for a run and, whenever
nothing can happen until some time has passed (every run waits on a timer, a retry's
backoff, a deadline or a schedule's slot), moves the engine's clock to that moment at
once: a workflow that sleeps for 30 days is tested in milliseconds, and ``ctx.now()``,
history times, timeouts and schedules all see the skipped time.

>>> def test_reminder(harvest_env):                      # doctest: +SKIP
...     harvest_env.worker(workflows=[remind_in_a_month])
...     run = harvest_env.client.start(remind_in_a_month, "ann")
...     assert harvest_env.result(run) == "reminded ann"
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import psycopg

from ..client import Client, RunHandle
from ..engine import Worker
from ..model.definitions import ActivityDefinition, WorkflowDefinition
from ..model.errors import RunTimeoutError, UsageError
from ..store import clock
from .replays import assert_replays

__all__ = ["FAST_WORKER", "WorkflowEnvironment", "assert_replays"]

FAST_WORKER: dict[str, Any] = {
    "poll_interval": 0.1,
    "maintenance_interval": 0.1,
    "heartbeat_flush_interval": 0.1,
    "drain_timeout": 5.0,
}
"""worker options that make a test's worker react in tenths of a second"""


class WorkflowEnvironment:
    """One test's engine: ``client``, :meth:`worker`, and the skipping clock (:meth:`result`,
    :meth:`sleep`, :meth:`now`). One environment at a time per process: the clock's skew
    belongs to the process."""

    def __init__(self, url: str, *, namespace: str = "default") -> None:
        clock.enable_skipping()  # before any pool of this environment is made
        clock.set_skew(0.0)
        self.url = url
        self.client = Client(url, namespace=namespace)
        self._workers: list[Worker] = []
        self._conn = psycopg.connect(url, autocommit=True)

    def worker(
        self,
        *,
        workflows: Sequence[WorkflowDefinition] = (),
        activities: Sequence[ActivityDefinition] = (),
        **options: Any,
    ) -> Worker:
        """Start an in-process worker (stopped when the environment closes)."""
        worker = Worker(self.client, workflows=workflows, activities=activities,
                        **{**FAST_WORKER, **options})
        worker.start()
        self._workers.append(worker)
        return worker

    def now(self) -> datetime:
        """The engine's clock (the database's, plus the time skipped so far)."""
        moment: datetime = clock.engine_now(self._conn)
        return moment

    def sleep(self, seconds: float, *, settle: float = 10.0) -> None:
        """Move the engine's clock ``seconds`` ahead (what was due meanwhile, is), once
        what can run now has run (at most ``settle`` seconds of real time): a jump never
        lands in the middle of an attempt, whose lease would look expired."""
        if seconds < 0:
            raise UsageError("the clock only moves forward")
        deadline = time.monotonic() + settle
        while clock.next_due_sync(self._conn)[0] and time.monotonic() < deadline:
            time.sleep(0.02)
        clock.jump(self._conn, seconds)

    def result(self, run: RunHandle | str, timeout: float = 30.0, *,
               skip_time: bool = True) -> Any:
        """Wait (at most ``timeout`` seconds of real time) for the run to end and return its
        result (or raise as ``run.result()`` does). With ``skip_time``, while nothing can
        happen before some moment, the clock jumps to it."""
        handle = run if isinstance(run, RunHandle) else self.client.handle(run)
        deadline = time.monotonic() + timeout
        while True:
            try:
                return handle.result(timeout=0.05)
            except RunTimeoutError:
                if time.monotonic() >= deadline:
                    raise
            if skip_time:
                self.skip_to_next_due()

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        """Skip time until ``predicate()`` holds (checked after every step)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                raise TimeoutError("the condition did not hold in time")
            if not self.skip_to_next_due():
                time.sleep(0.02)

    def skip_to_next_due(self) -> bool:
        """If nothing can run now, move the clock to when the next thing is due; whether
        it moved."""
        busy, next_in = clock.next_due_sync(self._conn)
        if busy or next_in is None or next_in <= 0:
            return False
        clock.jump(self._conn, next_in + 0.001)
        return True

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()
        self.client.close()
        self._conn.close()
        clock.set_skew(0.0)

    def __enter__(self) -> WorkflowEnvironment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
