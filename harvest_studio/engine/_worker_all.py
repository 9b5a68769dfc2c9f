"""The worker: claims tasks, runs activities, replays workflows, writes results in batches.

One asyncio loop runs a handful of cooperating tasks:

* a listener on ``LISTEN harvest_tasks`` (plus a poll fallback) that wakes the claimer;
* the claimer, which claims as many tasks as there are free slots in one statement;
* the decision loop, which replays claimed workflow tasks (from the in-memory cache when it
  can) and commits all their decisions in one transaction;
* the outcome loop, which writes finished activity attempts in one transaction and, when
  this worker serves the woken workflow, takes the new workflow task at once;
* maintenance: lease renewal, reclaiming dead workers' tasks, timers, timeouts.

Batching is what keeps commits per activity low under load; the eager hand-offs (activity
tasks created already claimed by the deciding worker, and workflow tasks created already
claimed by the worker that finished the activity) are what keep latency low when idle.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import functools
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from .. import store
from ..model import serde
from ..model.definitions import ActivityDefinition, WorkflowDefinition
from ..model.errors import (
    NamespaceNotFoundError,
    NonDeterminismError,
    NonRetryableError,
    UsageError,
)
from ..model.events import (
    ActivityScheduled,
    ActivityStarted,
    ChildWorkflowStarted,
    Event,
    HistoryEvent,
    SearchAttributesUpserted,
    TimerCancelled,
    TimerStarted,
    WorkflowCancelled,
    WorkflowCompleted,
    WorkflowContinuedAsNew,
    WorkflowFailed,
    WorkflowStarted,
    decode,
)
from ..model.retry import is_retryable, retry_delay
from ..store.connection import database_url, ensure_migrated
from .activity_context import ActivityContext, ActivityInfo
from .replay import WorkflowInstance, error_dict

log = logging.getLogger("harvest_studio.worker")


@dataclass
class WorkerOptions:
    """Tuning knobs. Defaults suit production; tests shorten the intervals."""

    max_concurrent_tasks: int = 32
    lease_seconds: float = 30.0
    poll_interval: float = 1.0
    maintenance_interval: float = 1.0
    max_crash_strikes: int = 3
    blocked_backoff: float = 1.0
    blocked_backoff_max: float = 60.0
    cache_size: int = 2000
    drain_timeout: float = 30.0
    heartbeat_flush_interval: float = 1.0


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
        queues: Sequence[str] | None = None,
        namespace: str | None = None,
        url: str | None = None,
        worker_id: str | None = None,
        options: WorkerOptions | None = None,
        **tuning: Any,
    ) -> None:
        self.workflows = {w.name: w for w in workflows}
        self.activities = {a.name: a for a in activities}
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
        self.queues = list(queues)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.options = options or WorkerOptions()
        for key, value in tuning.items():
            if not hasattr(self.options, key):
                raise UsageError(f"unknown worker option {key!r}")
            setattr(self.options, key, value)
        self._uncapped_activities = [
            a.name for a in self.activities.values() if a.options.max_concurrent is None
        ]
        self._capped = {
            a.name: a.options.max_concurrent
            for a in self.activities.values()
            if a.options.max_concurrent is not None
        }
        self._cache: collections.OrderedDict[str, WorkflowInstance] = collections.OrderedDict()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._serving = False
        self._startup_error: BaseException | None = None
        self.stats: collections.Counter[str] = collections.Counter()

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
        self._pool = AsyncConnectionPool(
            self.url,
            min_size=2,
            max_size=6,
            kwargs={"autocommit": True, "options": "-c plan_cache_mode=force_generic_plan"},
            open=False,
        )
        await self._pool.open(wait=True)
        self._threads = ThreadPoolExecutor(
            max_workers=opts.max_concurrent_tasks, thread_name_prefix="harvest-activity"
        )
        self._wake = asyncio.Event()
        self._timer_wake = asyncio.Event()
        self._slots = opts.max_concurrent_tasks
        self._wf_queue: collections.deque[dict[str, Any]] = collections.deque()
        self._wf_ready = asyncio.Event()
        self._outcomes: list[store.ActivityOutcome] = []
        self._outcome_ready = asyncio.Event()
        self._running: dict[tuple[int, int], ActivityContext] = {}
        self._inflight: set[asyncio.Task[Any]] = set()
        self._claiming = True
        self._closing = False
        self._starved = False
        self._queue_turn = 0
        self._busy = 0
        try:
            async with self._pool.connection() as conn:
                if not await store.namespace_exists(conn, self.namespace):
                    raise NamespaceNotFoundError(f"no namespace {self.namespace!r}")
                await store.register_types(
                    conn,
                    self.namespace,
                    [
                        store.Registration(
                            "workflow", w.name, w.fingerprint, w.queue, w.execution_timeout
                        )
                        for w in self.workflows.values()
                    ]
                    + [
                        store.Registration("activity", a.name, a.fingerprint, a.options.queue)
                        for a in self.activities.values()
                    ],
                )
                await store.upsert_worker(
                    conn, self.worker_id, self.namespace, socket.gethostname(), os.getpid(),
                    self.queues,
                )
            loops = [
                self._listen(),
                self._claim_loop(),
                self._decision_loop(),
                self._outcome_loop(),
                self._lease_loop(),
                self._timer_loop(),
                self._maintenance_loop(),
                self._heartbeat_loop(),
            ]
            self._tasks = [asyncio.create_task(c) for c in loops]
            self._serving = True
            self._started.set()
            log.info("worker %s serving %s", self.worker_id, self.queues)
            await self._stop.wait()
            await self._drain()
        finally:
            self._closing = True
            tasks = list(getattr(self, "_tasks", []))
            for task in tasks:
                task.cancel()
            if tasks:
                # bounded: a loop that swallowed its cancellation must not hold up the stop
                _, stuck = await asyncio.wait(tasks, timeout=5.0)
                for task in stuck:
                    log.error("worker loop %r did not stop when cancelled", task.get_coro())
            try:
                async with asyncio.timeout(5.0), self._pool.connection() as conn:
                    await store.set_worker_status(conn, self.worker_id, "STOPPED")
            except Exception:
                pass
            await self._pool.close(timeout=5.0)
            self._threads.shutdown(wait=False, cancel_futures=True)
            for instance in self._cache.values():
                instance.evict()
            self._cache.clear()

    async def _drain(self) -> None:
        self._claiming = False
        deadline = asyncio.get_running_loop().time() + self.options.drain_timeout
        while asyncio.get_running_loop().time() < deadline:
            busy = self._inflight or self._wf_queue or self._outcomes or self._busy
            if not busy:
                break
            self._wf_ready.set()
            self._outcome_ready.set()
            await asyncio.sleep(0.02)
        # Attempts still running are handed back now rather than left to lease expiry, which
        # would count as a crash strike against the task.
        leftovers = list(self._running.values())
        for ctx in leftovers:
            ctx.cancel("worker shutting down")
        if leftovers:
            try:
                async with self._pool.connection() as conn:
                    for ctx in leftovers:
                        await store.release_task(
                            conn, task_id=ctx.info.task_id, attempt=ctx.fence_attempt,
                            worker_id=self.worker_id, delay=0.0,
                        )
            except psycopg.Error:
                log.exception("could not hand back running attempts; their leases will expire")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    # ---------------------------------------------------------------------------------------
    # wake-ups and claiming
    # ---------------------------------------------------------------------------------------
    async def _listen(self) -> None:
        while not self._closing:
            try:
                conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {store.TASKS_CHANNEL}")
                    self._wake.set()  # anything queued while we were not listening
                    async for _ in conn.notifies():
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("listener lost (%s); reconnecting", exc)
                await asyncio.sleep(self.options.poll_interval)

    async def _claim_loop(self) -> None:
        opts = self.options
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=opts.poll_interval)
            except TimeoutError:
                pass
            self._wake.clear()
            while self._claiming:
                if self._slots <= 0:
                    self._starved = True
                    break
                limit = self._slots
                if await self._claim_once(limit) < limit:
                    break

    async def _claim_once(self, limit: int) -> int:
        rows: list[dict[str, Any]] = []
        try:
            async with self._pool.connection() as conn:
                self._queue_turn = (self._queue_turn + 1) % len(self.queues)
                queues = self.queues[self._queue_turn :] + self.queues[: self._queue_turn]
                rows = await store.claim_tasks(
                    conn,
                    worker_id=self.worker_id,
                    namespace=self.namespace,
                    queues=queues,
                    workflows=list(self.workflows),
                    activities=self._uncapped_activities,
                    limit=limit,
                    lease_seconds=self.options.lease_seconds,
                )
                for type_name, cap in self._capped.items():
                    room = limit - len(rows)
                    if room <= 0:
                        break
                    rows += await store.claim_capped_tasks(
                        conn,
                        worker_id=self.worker_id,
                        namespace=self.namespace,
                        queues=self.queues,
                        type_name=type_name,
                        cap=int(cap or 0),
                        limit=room,
                        lease_seconds=self.options.lease_seconds,
                    )
        except psycopg.Error as exc:
            log.warning("claim failed: %s", exc)
            await asyncio.sleep(self.options.poll_interval)
            return 0
        self.stats["claimed"] += len(rows)
        for row in rows:
            self._accept(row)
        return len(rows)

    def _accept(self, row: dict[str, Any]) -> None:
        self._slots -= 1
        if row["kind"] == "workflow":
            self._wf_queue.append(row)
            self._wf_ready.set()
        elif row["kind"] == "query":
            self._spawn(self._answer_query(row))
        else:
            self._spawn(self._run_activity(row))

    def _release_slot(self, n: int = 1) -> None:
        self._slots += n
        if self._starved:
            self._starved = False
            self._wake.set()

    def _wake_later(self, delay: float) -> None:
        """Claim again when a task this worker re-queued with a delay becomes visible."""
        assert self._loop is not None
        self._loop.call_later(delay + 0.005, self._wake.set)

    # ---------------------------------------------------------------------------------------
    # workflow tasks
    # ---------------------------------------------------------------------------------------
    async def _decision_loop(self) -> None:
        while True:
            await self._wf_ready.wait()
            self._wf_ready.clear()
            while self._wf_queue:
                batch = list(self._wf_queue)
                self._wf_queue.clear()
                self._busy += 1
                try:
                    await self._decide(batch)
                except Exception:
                    log.exception("decision batch failed; tasks will be reclaimed")
                    for row in batch:
                        self._evict(row["run_id"])
                    await self._release_tasks(batch, delay=1.0)
                finally:
                    self._busy -= 1
                    self._release_slot(len(batch))

    async def _decide(self, batch: list[dict[str, Any]]) -> None:
        tails = []
        histories: dict[str, list[dict[str, Any]]] = {}
        inboxes: dict[str, list[dict[str, Any]]] = {}
        for row in batch:
            run_id = row["run_id"]
            cached = self._cache.get(run_id)
            if cached is not None and row.get("last_seq") == len(cached.events) and "inbox" in row:
                # a task this worker created together with its inbox events: nothing to load
                histories[run_id], inboxes[run_id] = [], row["inbox"]
            elif cached is None and row.get("first_event") and not row.get("has_inbox"):
                # a fresh run: the claim brought its only event
                first = dict(row["first_event"])
                first["at"] = datetime.fromisoformat(first["at"])
                histories[run_id], inboxes[run_id] = [first], []
            else:
                tails.append((run_id, len(cached.events) if cached else 0, 2**31 - 1))
        if tails:
            async with self._pool.connection() as conn:
                loaded_history, loaded_inbox = await store.load_for_decisions(conn, tails)
            histories.update(loaded_history)
            inboxes.update(loaded_inbox)
        decisions: list[store.Decision] = []
        instances: dict[int, WorkflowInstance] = {}
        blocked: list[tuple[dict[str, Any], NonDeterminismError]] = []
        broken: list[dict[str, Any]] = []
        updates: dict[int, list[tuple[str, str, Any, Any]]] = {}
        for row in batch:
            run_id = row["run_id"]
            definition = self.workflows[row["type_name"]]
            instance = self._cache.pop(run_id, None)
            if instance is not None and instance.definition is not definition:
                instance.evict()
                instance = None
                histories[run_id] = (await self._full_history([run_id]))[run_id]
            if instance is None:
                instance = WorkflowInstance(definition, run_id)
            try:
                recorded = [_history_event(r) for r in histories[run_id]]
                owed = instance.replay(recorded) if recorded else []
                expected = len(instance.events) - len(owed)
                inbox = inboxes.get(run_id, [])
                new = instance.advance(
                    [(decode(r["event_type"], r["payload"]), r["at"]) for r in inbox]
                )
            except NonDeterminismError as exc:
                started = instance.events[0].event if instance.events else None
                exc.fingerprints = {
                    "run": getattr(started, "fingerprint", None),
                    "worker": definition.fingerprint,
                }
                instance.evict()
                blocked.append((row, exc))
                continue
            except Exception:
                log.exception("workflow task for run %s failed", run_id)
                instance.evict()
                broken.append(row)
                continue
            decision = self._decision(row, instance, expected, owed + new, inbox)
            if instance.update_outcomes:
                updates[decision.task_id] = list(instance.update_outcomes)
            decisions.append(decision)
            instances[row["task_id"]] = instance
        if blocked:
            await self._block(blocked)
        if broken:
            await self._release_tasks(broken, delay=self.options.blocked_backoff)
        if not decisions:
            return
        async with self._pool.connection() as conn:
            outcome = await store.commit_decisions(
                conn, decisions, worker_id=self.worker_id, lease_seconds=self.options.lease_seconds
            )
        self.stats["decisions"] += len(outcome.committed)
        closed = set(outcome.closed_runs)
        for decision in decisions:
            done = decision.task_id in outcome.committed
            if done and (decision.task_id in updates or decision.run_id in closed):
                await self._record_updates(
                    decision.run_id, updates.get(decision.task_id, []), decision.run_id in closed
                )
        if outcome.closed_runs:
            try:
                async with self._pool.connection() as conn:
                    await store.apply_parent_close_policies(conn, outcome.closed_runs)
            except psycopg.Error:
                log.exception("parent close policies failed; the sweep will retry them")
        for decision in decisions:
            instance = instances[decision.task_id]
            if decision.task_id in outcome.committed and not instance.closed:
                self._remember(decision.run_id, instance)
            else:
                instance.evict()
        if any(d.timers for d in decisions):
            self._timer_wake.set()
        for row in outcome.eager_activities:
            self._slots -= 1
            self._spawn(self._run_activity(row))

    def _decision(
        self,
        row: dict[str, Any],
        instance: WorkflowInstance,
        expected: int,
        new: list[HistoryEvent],
        inbox: list[dict[str, Any]],
    ) -> store.Decision:
        decision = store.Decision(
            task_id=row["task_id"],
            attempt=row["attempt"],
            run_id=row["run_id"],
            namespace=row["namespace"],
            expected_seq=expected,
            inbox_ids=[r["id"] for r in inbox],
        )
        free = self._slots
        for record in new:
            event = record.event
            decision.events.append(
                (record.seq, event.type_name, record.at, serde.dumps(event.fields()))
            )
            if isinstance(event, ActivityScheduled):
                eager = (
                    free > 0
                    and event.activity_type in self.activities
                    and event.queue in self.queues
                    and event.options.get("max_concurrent") is None
                )
                free -= int(eager)
                decision.activities.append(
                    store.NewActivity(
                        seq=record.seq,
                        activity_type=event.activity_type,
                        queue=event.queue,
                        args_json=serde.dumps(event.args),
                        options=event.options,
                        eager=eager,
                        run_id=row["run_id"],
                    )
                )
            elif isinstance(event, TimerStarted):
                decision.timers.append((record.seq, datetime.fromisoformat(event.fire_at)))
            elif isinstance(event, TimerCancelled):
                armed_now = [t for t in decision.timers if t[0] == event.started_seq]
                if armed_now:  # started and stopped in one decision: never arm it
                    decision.timers.remove(armed_now[0])
                else:
                    decision.cancelled_timers.append(event.started_seq)
            elif isinstance(event, WorkflowCompleted):
                decision.close_status = "COMPLETED"
                decision.result_json = serde.dumps(event.result)
            elif isinstance(event, WorkflowFailed):
                decision.close_status = "FAILED"
                decision.error_json = serde.dumps(event.error)
            elif isinstance(event, ChildWorkflowStarted):
                decision.children.append(self._child_start(instance, record.seq, event))
            elif isinstance(event, SearchAttributesUpserted):
                merged = json.loads(decision.search_attributes_json or "{}")
                merged.update(event.attributes)
                decision.search_attributes_json = serde.dumps(merged)
            elif isinstance(event, WorkflowContinuedAsNew):
                decision.close_status = "CONTINUED_AS_NEW"
                decision.result_json = serde.dumps({"continued_as": event.new_run_id})
                decision.continuation = self._continuation(instance, event)
            elif isinstance(event, WorkflowCancelled):
                decision.close_status = "CANCELLED"
                decision.error_json = serde.dumps(
                    {"type": "Cancelled", "message": event.reason or "cancelled on request"}
                )
        return decision

    @staticmethod
    def _child_start(
        instance: WorkflowInstance, seq: int, event: ChildWorkflowStarted
    ) -> store.ChildStart:
        parent = instance.info
        assert parent is not None
        started = WorkflowStarted(
            workflow_type=event.workflow_type,
            workflow_id=event.workflow_id,
            namespace=parent.namespace,
            queue=event.queue,
            args=event.args,
        )
        return store.ChildStart(
            run_id=event.run_id,
            workflow_id=event.workflow_id,
            workflow_type=event.workflow_type,
            queue=event.queue,
            input_json=serde.dumps(event.args),
            started_json=serde.dumps(started.fields()),
            parent_close_policy=event.parent_close_policy,
            parent_seq=seq,
        )

    def _continuation(
        self, instance: WorkflowInstance, event: WorkflowContinuedAsNew
    ) -> store.Continuation:
        first = instance.events[0].event
        assert isinstance(first, WorkflowStarted)
        started = WorkflowStarted(
            workflow_type=first.workflow_type,
            workflow_id=first.workflow_id,
            namespace=first.namespace,
            queue=first.queue,
            args=event.args,
            fingerprint=instance.definition.fingerprint,
            execution_timeout=first.execution_timeout,
            continued_from=instance.run_id,
        )
        return store.Continuation(
            run_id=event.new_run_id,
            workflow_id=first.workflow_id,
            workflow_type=first.workflow_type,
            queue=first.queue,
            input_json=serde.dumps(event.args),
            started_json=serde.dumps(started.fields()),
            fingerprint=instance.definition.fingerprint,
            execution_timeout=first.execution_timeout,
        )

    async def _record_updates(
        self, run_id: str, outcomes: list[tuple[str, str, Any, Any]], ended: bool
    ) -> None:
        try:
            async with self._pool.connection() as conn:
                await store.record_update_outcomes(conn, run_id, outcomes, run_ended=ended)
        except psycopg.Error:
            log.exception("could not record update outcomes of run %s", run_id)

    async def _full_history(self, run_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        async with self._pool.connection() as conn:
            return await store.load_history_tails(conn, [(r, 0, 2**31 - 1) for r in run_ids])

    async def _block(self, blocked: list[tuple[dict[str, Any], NonDeterminismError]]) -> None:
        async with self._pool.connection() as conn:
            for row, exc in blocked:
                reason = {
                    "kind": "non_determinism",
                    **exc.to_dict(),
                    "worker_id": self.worker_id,
                    "code_fingerprint": getattr(exc, "fingerprints", None),
                }
                await store.block_run(
                    conn,
                    task_id=row["task_id"],
                    attempt=row["attempt"],
                    worker_id=self.worker_id,
                    run_id=row["run_id"],
                    reason_json=serde.dumps(reason),
                    backoff_base=self.options.blocked_backoff,
                    backoff_max=self.options.blocked_backoff_max,
                )
                log.warning("run %s blocked: %s", row["run_id"], exc)
        self.stats["blocked"] += len(blocked)

    async def _release_tasks(self, rows: list[dict[str, Any]], delay: float) -> None:
        try:
            async with self._pool.connection() as conn:
                for row in rows:
                    await store.release_task(
                        conn, task_id=row["task_id"], attempt=row["attempt"],
                        worker_id=self.worker_id, delay=delay,
                    )
        except psycopg.Error:
            log.exception("could not release tasks; their leases will expire")

    def _remember(self, run_id: str, instance: WorkflowInstance) -> None:
        self._cache[run_id] = instance
        while len(self._cache) > self.options.cache_size:
            _, old = self._cache.popitem(last=False)
            old.evict()

    def _evict(self, run_id: str) -> None:
        instance = self._cache.pop(run_id, None)
        if instance is not None:
            instance.evict()

    # ---------------------------------------------------------------------------------------
    # queries
    # ---------------------------------------------------------------------------------------
    async def _answer_query(self, row: dict[str, Any]) -> None:
        """Ask the run's query handler, on the state that committed history describes.

        A cached instance is used only if it is exactly as long as the committed history
        (checked again right before the handler runs, with no await in between: an
        in-flight decision takes its instance out of the cache). Otherwise the history is
        replayed on a fresh instance.
        """
        query_id = int(row["input"]["query_id"])
        run_id = row["run_id"]
        status, result_json, error_json = "FAILED", None, None
        try:
            async with self._pool.connection() as conn:
                query = await store.get_query(conn, query_id)
                committed = await store.run_last_seq(conn, run_id)
            cached = self._cache.get(run_id)
            history: list[dict[str, Any]] | None = None
            if cached is None or len(cached.events) != committed:
                history = (await self._full_history([run_id]))[run_id]
            if query is not None:
                current = self._cache.get(run_id)
                use_cache = (
                    history is None
                    and current is cached
                    and current is not None
                    and len(current.events) == committed
                )
                if not use_cache and history is None:
                    history = (await self._full_history([run_id]))[run_id]
                    current = None
                instance = (
                    current
                    if use_cache and current is not None
                    else WorkflowInstance(self.workflows[row["type_name"]], run_id)
                )
                try:
                    if not use_cache:
                        instance.replay([_history_event(r) for r in history or []])
                    handler = instance.query_handlers.get(query["name"])
                    if handler is None:
                        known = sorted(instance.query_handlers)
                        error_json = serde.dumps(
                            {
                                "code": "unknown_query",
                                "message": f"no query handler {query['name']!r}"
                                f" (known: {', '.join(known) or 'none'})",
                            }
                        )
                    else:
                        value = handler(*query["args"])
                        result_json = serde.dumps(value, what="query result")
                        status = "ANSWERED"
                except NonDeterminismError as exc:
                    error_json = serde.dumps({"code": exc.code, "message": str(exc)})
                except Exception as exc:
                    error_json = serde.dumps({"code": "query_failed", **error_dict(exc)})
                finally:
                    if not use_cache:
                        instance.evict()
            async with self._pool.connection() as conn:
                await store.answer_query(
                    conn,
                    task_id=int(row["task_id"]),
                    worker_id=self.worker_id,
                    attempt=int(row["attempt"]),
                    query_id=query_id,
                    status=status,
                    result_json=result_json,
                    error_json=error_json,
                )
        except Exception:
            log.exception("could not answer query %s", query_id)
        finally:
            self._release_slot()

    # ---------------------------------------------------------------------------------------
    # activities
    # ---------------------------------------------------------------------------------------
    async def _run_activity(self, row: dict[str, Any]) -> None:
        definition = self.activities[row["type_name"]]
        attempt = int(row["retry_attempt"])
        info = ActivityInfo(
            run_id=row["run_id"],
            activity_type=row["type_name"],
            activity_id=int(row["activity_seq"]),
            attempt=attempt,
            task_id=int(row["task_id"]),
            namespace=row["namespace"],
            queue=row["queue"],
            deadline=row["attempt_deadline"],
        )
        ctx = ActivityContext(info, row["heartbeat_details"], fence_attempt=int(row["attempt"]))
        running_key = (info.task_id, ctx.fence_attempt)
        self._running[running_key] = ctx
        started = ActivityStarted(
            scheduled_seq=info.activity_id,
            attempt=attempt,
            worker_id=self.worker_id,
            started_at=(row["started_at"].isoformat() if row["started_at"] else ""),
        )
        events: list[Event] = [started]
        policy = row["retry_policy"] or {}
        outcome: store.ActivityOutcome | None
        try:
            args = row["input"] or []
            if definition.is_async:
                coro = definition.fn(ctx, *args)
                limit = row["start_to_close"]
                result = await (asyncio.wait_for(coro, limit + 1.0) if limit else coro)
            else:
                call = functools.partial(definition.fn, ctx, *args)
                context = contextvars.copy_context()
                result = await asyncio.get_running_loop().run_in_executor(
                    self._threads, context.run, call
                )
            result = serde.check(result, what=f"result of activity {definition.name}")
        except TimeoutError:
            # The start-to-close deadline passed here; the sweeper writes the timeout
            # (the database clock is the only judge of deadlines).
            outcome = None
        except Exception as exc:
            outcome = self._failure(row, ctx, events, policy, exc)
        else:
            from ..model.events import ActivityCompleted

            events.append(ActivityCompleted(info.activity_id, attempt, result))
            outcome = self._outcome(row, True, events)
        finally:
            self._running.pop(running_key, None)
            flushed, details = ctx.take_heartbeat()
        if outcome is not None:
            if flushed and details is not None and not outcome.final:
                outcome.details_json = serde.dumps(details)
            self._outcomes.append(outcome)
            self._outcome_ready.set()
        else:
            self._release_slot()

    def _failure(
        self,
        row: dict[str, Any],
        ctx: ActivityContext,
        events: list[Event],
        policy: dict[str, Any],
        exc: Exception,
    ) -> store.ActivityOutcome:
        from ..model.events import ActivityFailed

        attempt = ctx.attempt
        error = error_dict(exc)
        retryable = is_retryable(policy, type(exc).__name__, isinstance(exc, NonRetryableError))
        delay = retry_delay(policy, attempt) if retryable else None
        events.append(
            ActivityFailed(
                scheduled_seq=ctx.info.activity_id,
                attempt=attempt,
                error=error,
                retrying=delay is not None,
                next_attempt_in=delay,
            )
        )
        outcome = self._outcome(row, delay is None, events)
        outcome.delay = delay or 0.0
        outcome.last_error_json = serde.dumps(error)
        return outcome

    def _outcome(
        self, row: dict[str, Any], final: bool, events: list[Event]
    ) -> store.ActivityOutcome:
        return store.ActivityOutcome(
            task_id=int(row["task_id"]),
            worker_id=self.worker_id,
            attempt=int(row["attempt"]),
            final=final,
            events=[(e.type_name, serde.dumps(e.fields())) for e in events],
        )

    async def _outcome_loop(self) -> None:
        while True:
            await self._outcome_ready.wait()
            self._outcome_ready.clear()
            while self._outcomes:
                batch, self._outcomes = self._outcomes, []
                self._busy += 1
                try:
                    async with self._pool.connection() as conn:
                        result = await store.apply_activity_outcomes(
                            conn,
                            batch,
                            eager_worker=self.worker_id if self._claiming else None,
                            eager_types=list(self.workflows),
                            lease_seconds=self.options.lease_seconds,
                        )
                except Exception:
                    log.exception("could not write %d activity outcomes", len(batch))
                    self._release_slot(len(batch))
                    continue
                finally:
                    self._busy -= 1
                self.stats["activities"] += len(result.ended)
                for outcome in batch:
                    if not outcome.final and outcome.task_id in result.ended:
                        self._wake_later(outcome.delay)
                self._release_slot(len(batch))
                for row in result.owned_workflow_tasks:
                    self._slots -= 1
                    self._wf_queue.append(dict(row))
                    self._wf_ready.set()

    # ---------------------------------------------------------------------------------------
    # heartbeats, leases, timers, sweeping
    # ---------------------------------------------------------------------------------------
    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.heartbeat_flush_interval)
            for (task_id, _), ctx in list(self._running.items()):
                has, details = ctx.take_heartbeat()
                if not has:
                    continue
                try:
                    async with self._pool.connection() as conn:
                        state = await store.heartbeat_activity(
                            conn,
                            task_id=task_id,
                            worker_id=self.worker_id,
                            attempt=ctx.fence_attempt,
                            details_json=None if details is None else serde.dumps(details),
                        )
                except psycopg.Error as exc:
                    log.warning("heartbeat failed: %s", exc)
                    continue
                if state == "lost":
                    ctx.cancel(
                        "the attempt is no longer current (reclaimed, timed out, or run ended)"
                    )
                elif state == "cancel":
                    ctx.cancel("the workflow was asked to cancel")

    async def _lease_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.lease_seconds / 3)
            try:
                async with self._pool.connection() as conn:
                    await store.renew_leases(conn, self.worker_id, self.options.lease_seconds)
            except psycopg.Error as exc:
                log.warning("lease renewal failed: %s", exc)

    async def _timer_loop(self) -> None:
        while True:
            wait = self.options.poll_interval
            try:
                async with self._pool.connection() as conn:
                    fired = await store.fire_due_timers(conn)
                    if fired:
                        self.stats["timers_fired"] += fired
                        continue
                    soonest = await store.seconds_to_next_timer(conn)
                if soonest is not None:
                    wait = max(0.0, min(wait, soonest))
            except psycopg.Error as exc:
                log.warning("timer poll failed: %s", exc)
            try:
                await asyncio.wait_for(self._timer_wake.wait(), timeout=wait + 0.001)
            except TimeoutError:
                pass
            self._timer_wake.clear()

    async def _maintenance_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.maintenance_interval)
            try:
                async with self._pool.connection() as conn:
                    requeued, quarantined = await store.reclaim_expired_leases(
                        conn, max_strikes=self.options.max_crash_strikes
                    )
                    if requeued or quarantined:
                        log.info("reclaimed %d tasks, quarantined %d", requeued, quarantined)
                        self.stats["reclaimed"] += requeued
                        self.stats["quarantined"] += quarantined
                    await self._sweep_activity_timeouts(conn)
                    await store.apply_parent_close_policies(conn)
                    ended = await store.time_out_runs(conn)
                    for run_id in ended:
                        self._evict(run_id)
            except psycopg.Error as exc:
                log.warning("maintenance failed: %s", exc)

    async def _sweep_activity_timeouts(self, conn: psycopg.AsyncConnection[Any]) -> None:
        from ..model.events import ActivityTimedOut

        async with conn.transaction():
            rows = await store.lock_timed_out_activities(conn)
            if not rows:
                return
            outcomes = []
            for row in rows:
                policy = row["retry_policy"] or {}
                kind = row["timeout_type"]
                retries = kind in ("start_to_close", "heartbeat") and is_retryable(
                    policy, "TimeoutError", False
                )
                delay = retry_delay(policy, int(row["retry_attempt"])) if retries else None
                event = ActivityTimedOut(
                    scheduled_seq=int(row["activity_seq"]),
                    attempt=int(row["retry_attempt"]),
                    timeout_type=kind,
                    retrying=delay is not None,
                    next_attempt_in=delay,
                )
                outcomes.append(
                    store.ActivityOutcome(
                        task_id=int(row["task_id"]),
                        worker_id=row["worker_id"],
                        attempt=int(row["attempt"]),
                        final=delay is None,
                        delay=delay or 0.0,
                        events=[(event.type_name, serde.dumps(event.fields()))],
                        last_error_json=serde.dumps(
                            {"type": "TimeoutError", "message": f"{kind} timeout"}
                        ),
                    )
                )
            await store.apply_activity_outcomes(conn, outcomes)
        self.stats["activity_timeouts"] += len(rows)


def _history_event(row: dict[str, Any]) -> HistoryEvent:
    return HistoryEvent(int(row["seq"]), row["at"], decode(row["event_type"], row["payload"]))
