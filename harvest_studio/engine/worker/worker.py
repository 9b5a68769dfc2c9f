"""The worker: claims tasks, runs activities, replays workflows, writes results in batches.

One asyncio loop runs a handful of cooperating parts, each in its own module:

* the claimer (``claimer.py``): a listener on ``LISTEN harvest_tasks`` (plus a poll
  fallback) wakes it, and it claims as many tasks as there are free slots in one statement;
* the decision loop (``decisions.py``): replays claimed workflow tasks (from the in-memory
  cache when it can) and commits all their decisions in one transaction;
* the activity executor (``activities.py``): runs attempts and writes finished ones in one
  transaction; when this worker serves the woken workflow it takes the new workflow task
  at once;
* the query answerer (``queries.py``);
* the sweeper (``sweeper.py``): lease renewal, reclaiming dead workers' tasks, timers,
  timeouts;
* the scheduler (``scheduler.py``): starts the runs of due schedule slots.

Batching is what keeps commits per activity low under load; the eager hand-offs (activity
tasks created already claimed by the deciding worker, and workflow tasks created already
claimed by the worker that finished the activity) are what keep latency low when idle.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from ... import store
from ..._version import __version__
from ...model.definitions import ActivityDefinition, WorkflowDefinition
from ...model.durations import to_seconds
from ...model.errors import NamespaceNotFoundError, UsageError
from ...model.limits import check_name
from ...model.schedules import ScheduleDeclaration
from ...store.connection import database_url, ensure_migrated
from .. import attempt_output
from .activities import ActivityExecutor
from .claimer import Claimer
from .core import Row, WorkerCore
from .decisions import DecisionLoop
from .local_activities import LocalActivityRunner
from .options import WorkerOptions
from .queries import QueryAnswerer
from .scheduler import Scheduler
from .sweeper import Sweeper
from .webhooks import WebhookSender

log = logging.getLogger("harvest_studio.worker")


class Worker:
    """Serve workflows and activities from the database.

    In a script or notebook, use it as a context manager; it runs on its own thread and
    event loop so the caller never blocks::

        with hs.Worker(client, workflows=[onboarding], activities=[send_welcome_email]):
            run = client.start(onboarding, 42)
            print(run.result(timeout=60))

    In a process of its own, ``harvest worker app.module`` (or ``await worker.run()``).
    """

    def __init__(
        self,
        client: Any = None,
        *,
        workflows: Iterable[WorkflowDefinition] = (),
        activities: Iterable[ActivityDefinition] = (),
        schedules: Iterable[ScheduleDeclaration] = (),
        queues: Sequence[str] | None = None,
        namespace: str | None = None,
        url: str | None = None,
        worker_id: str | None = None,
        options: WorkerOptions | None = None,
        **tuning: Any,
    ) -> None:
        self.workflows = {w.name: w for w in workflows}
        self.activities = {a.name: a for a in activities}
        self.schedules = list(schedules) + [
            declared
            for w in self.workflows.values()
            if (declared := getattr(w, "schedule", None)) is not None
        ]
        for declared in self.schedules:
            if not isinstance(declared, ScheduleDeclaration):
                raise UsageError(f"not a schedule (hs.Schedule.make(...)): {declared!r}")
        for definition in [*self.workflows.values(), *self.activities.values()]:
            if not isinstance(definition, WorkflowDefinition | ActivityDefinition):
                raise UsageError(f"not a @workflow or @activity: {definition!r}")
        if not self.workflows and not self.activities:
            raise UsageError("a worker needs at least one workflow or activity")
        self.url = url or getattr(client, "url", None) or database_url()
        self.namespace = namespace or getattr(client, "namespace", None) or "default"
        if queues is None:
            found = {w.queue for w in self.workflows.values()}
            found |= {a.options.queue for a in self.activities.values()}
            queues = sorted(found)
        self.queues = [str(check_name("a queue name", q)) for q in queues]
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.options = options or WorkerOptions()
        for key, value in tuning.items():
            if not hasattr(self.options, key):
                raise UsageError(f"unknown worker option {key!r}")
            setattr(self.options, key, value)
        for workflow_type, sla in self.options.slas.items():  # refused here, not later
            check_name("a workflow type", workflow_type)
            if to_seconds(sla) <= 0:
                raise UsageError(f"the SLA of {workflow_type!r} must be positive")
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._serving = False
        self._startup_error: BaseException | None = None
        self.stats: collections.Counter[str] = collections.Counter()

    @property
    def version(self) -> str:
        """``harvest-studio version+code digest``: which engine and which code this worker
        runs (the digest covers the fingerprints of every type it serves)."""
        prints = sorted(
            [f"w:{d.name}={d.fingerprint}" for d in self.workflows.values()]
            + [f"a:{d.name}={d.fingerprint}" for d in self.activities.values()]
        )
        digest = hashlib.sha256("\n".join(prints).encode()).hexdigest()[:10]
        return f"{__version__}+{digest}"

    # ---------------------------------------------------------------------------------------
    # running on a background thread
    # ---------------------------------------------------------------------------------------
    def start(self) -> Worker:
        """Run on a background thread; returns once the worker is serving."""
        if self._thread is not None:
            raise UsageError("worker already started")
        self._started.clear()
        self._thread = threading.Thread(
            target=self._thread_main, name=f"harvest-worker-{self.worker_id}", daemon=True
        )
        self._thread.start()
        self._started.wait()
        if self._startup_error is not None:
            self._thread.join()
            self._thread = None
            raise self._startup_error
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop claiming, let in-flight work finish (up to ``drain_timeout``), then return.

        Waits at most ``timeout`` seconds (default: the drain timeout plus 20 s); a worker
        thread still alive then is left to finish on its own (its leases expire).
        """
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None or loop is None or stop is None:
            return
        if loop.is_closed():  # it already stopped by itself (drained on request)
            thread.join(timeout)
            return
        loop.call_soon_threadsafe(stop.set)
        thread.join(self.options.drain_timeout + 20.0 if timeout is None else timeout)
        if thread.is_alive():
            log.error("worker %s did not stop in time; leaving its thread", self.worker_id)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Worker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _thread_main(self) -> None:
        try:
            asyncio.run(self.run())
        except BaseException as exc:
            if not self._serving:
                self._startup_error = exc
            else:
                log.exception("worker %s crashed", self.worker_id)
        finally:
            self._started.set()

    # ---------------------------------------------------------------------------------------
    # the main coroutine
    # ---------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Serve until ``stop`` is set (or :meth:`stop` is called), then drain."""
        self._loop = asyncio.get_running_loop()
        self._stop = stop or asyncio.Event()
        opts = self.options
        await ensure_migrated(self.url)
        # The hot statements are few and always the same shape: plan them once.
        pool = AsyncConnectionPool(
            self.url,
            min_size=2,
            max_size=6,
            kwargs={"autocommit": True, "options": "-c plan_cache_mode=force_generic_plan"},
            open=False,
            **store.clock_pool_options(),
        )
        await pool.open(wait=True)
        core = WorkerCore(
            worker_id=self.worker_id,
            namespace=self.namespace,
            queues=self.queues,
            workflows=self.workflows,
            activities=self.activities,
            options=opts,
            pool=pool,
            stats=self.stats,
            loop=self._loop,
            slots=opts.max_concurrent_tasks,
        )
        executor = ActivityExecutor(core)
        decisions = DecisionLoop(
            core, executor.start, LocalActivityRunner(core))
        queries = QueryAnswerer(core)

        def accept(row: Row) -> None:
            core.slots -= 1
            core.hold(row)
            if row["kind"] == "workflow":
                core.submit_workflow_task(row)
            elif row["kind"] == "query":
                core.spawn(queries.answer_query(row))
            else:
                core.spawn(executor.run_activity(row))

        claimer = Claimer(core, self.url, accept)
        sweeper = Sweeper(core)
        scheduler = Scheduler(core)
        tasks: list[asyncio.Task[None]] = []
        if opts.capture_output:
            attempt_output.install()
        try:
            async with pool.connection() as conn:
                await self._register(conn)
            loops = [
                claimer.listen(),
                claimer.claim_loop(),
                decisions.decision_loop(),
                executor.outcome_loop(),
                executor.heartbeat_loop(),
                sweeper.lease_loop(),
                sweeper.timer_loop(),
                sweeper.maintenance_loop(),
            ]
            if self.options.run_scheduler:
                loops.append(scheduler.loop())
            loops.append(WebhookSender(core).loop())
            if self.options.slas:
                loops.append(sweeper.sla_loop())
            tasks = [asyncio.create_task(c) for c in loops]
            self._serving = True
            self._started.set()
            log.info("worker %s serving %s", self.worker_id, self.queues)
            stopped = asyncio.create_task(self._stop.wait())
            drained = asyncio.create_task(core.drain.wait())
            await asyncio.wait([stopped, drained], return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            drained.cancel()
            if core.drain.is_set():
                log.info("worker %s drains on request: finishing its work, then exiting",
                         self.worker_id)
            await self._drain(core, executor)
        finally:
            core.closing = True
            for task in tasks:
                task.cancel()
            if tasks:
                # bounded: a loop that swallowed its cancellation must not hold up the stop
                _, stuck = await asyncio.wait(tasks, timeout=5.0)
                for task in stuck:
                    log.error("worker loop %r did not stop when cancelled", task.get_coro())
            try:
                async with asyncio.timeout(5.0), pool.connection() as conn:
                    await store.set_worker_status(conn, self.worker_id, "STOPPED")
            except Exception:
                pass
            await pool.close(timeout=5.0)
            executor.threads.shutdown(wait=False, cancel_futures=True)
            core.evict_all()
            if opts.capture_output:
                attempt_output.uninstall()

    async def _register(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if not await store.namespace_exists(conn, self.namespace):
            raise NamespaceNotFoundError(f"no namespace {self.namespace!r}")
        await store.register_types(
            conn,
            self.namespace,
            [
                store.workflow_registration(w) for w in self.workflows.values()
            ]
            + [
                store.Registration("activity", a.name, a.fingerprint, a.options.queue)
                for a in self.activities.values()
            ],
        )
        for declared in self.schedules:
            outcome = await store.sync_declared_schedule(conn, self.namespace, declared)
            if outcome != "unchanged":
                log.info("schedule %s %s from code", declared.name, outcome)
        await store.upsert_worker(
            conn, self.worker_id, self.namespace, socket.gethostname(), os.getpid(), self.queues,
            self.options.lease_seconds, version=self.version,
            slots=self.options.max_concurrent_tasks,
        )

    async def _drain(self, core: WorkerCore, executor: ActivityExecutor) -> None:
        core.claiming = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.drain_timeout
        while loop.time() < deadline:
            busy = (
                core.inflight or core.wf_queue or executor.outcomes or core.busy or core.retrying
            )
            if not busy:
                break
            core.wf_ready.set()
            executor.outcome_ready.set()
            await asyncio.sleep(0.02)
        # Attempts still running, and tasks still held (a batch that kept failing), are handed
        # back now rather than left to lease expiry, which would count as a crash strike.
        for ctx in executor.running.values():
            ctx.cancel("worker shutting down")
        leftovers = [{"task_id": t, "attempt": a} for t, a in core.held.items()]
        if leftovers:
            try:
                async with asyncio.timeout(10.0):
                    await core.release_tasks(leftovers, delay=0.0)
            except TimeoutError:
                log.error("could not hand back %d tasks in time; their leases will expire",
                          len(leftovers))
