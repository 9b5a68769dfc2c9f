"""Workflow tasks: replay claimed runs (from the in-memory cache when it can), turn what the
code did into decisions, and commit a whole batch of them in one transaction."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg

from ... import store
from ...model import serde
from ...model.errors import NonDeterminismError, WorkflowCodeError
from ...model.events import (
    ActivityCancelRequested,
    ActivityScheduled,
    ChildWorkflowCancelRequested,
    ChildWorkflowStarted,
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
from .. import run_hooks, telemetry
from ..replay import WorkflowInstance
from .core import Row, WorkerCore, backoff, history_event
from .local_activities import DecisionTransaction, LocalActivityRunner

MAX_DECISION_RETRIES = 30  # about two minutes of backoff (capped at 5 s)

log = logging.getLogger("harvest_studio.worker")


class DecisionLoop:
    def __init__(
        self, core: WorkerCore, start_activity: Callable[[Row], None],
        local: LocalActivityRunner,
    ) -> None:
        self.core = core
        self.start_activity = start_activity
        """runs an activity task this worker's decision created already claimed"""
        self.local = local
        """runs the local activities a decision waits on, before it commits"""
        self.eager_budget = 0
        self.began_ns = time.time_ns()
        """when the batch being decided began (its workflow tasks' spans start there)"""

    async def decision_loop(self) -> None:
        core = self.core
        while True:
            await core.wf_ready.wait()
            core.wf_ready.clear()
            while core.wf_queue:
                batch = list(core.wf_queue)
                core.wf_queue.clear()
                core.busy += 1
                try:
                    await self.decide(batch)
                except Exception as exc:
                    for row in batch:
                        core.evict(row["run_id"])
                    if store.is_transient(exc) and self.retry_later(batch, exc):
                        continue
                    log.exception("decision batch failed; handing its tasks back")
                    await core.release_tasks(batch, delay=1.0)
                    core.release_slot(len(batch))
                else:
                    core.let_go(batch)
                    core.release_slot(len(batch))
                finally:
                    core.busy -= 1

    def retry_later(self, batch: list[Row], exc: BaseException) -> bool:
        """Decide these tasks again after a backoff (they stay held, their leases renewed):
        a database blip must not orphan them. False once they have failed too often."""
        failures = max(int(row.get("decision_failures", 0)) for row in batch) + 1
        if failures > MAX_DECISION_RETRIES:
            return False
        for row in batch:
            row["decision_failures"] = failures
        delay = backoff(failures)
        log.warning(
            "decision batch of %d failed (%s); deciding again in %.1f s", len(batch), exc, delay
        )
        core = self.core
        core.retrying += len(batch)

        def again() -> None:
            core.retrying -= len(batch)
            for row in batch:
                core.submit_workflow_task(row)

        core.loop.call_later(delay, again)
        return True

    async def decide(self, batch: list[Row]) -> None:
        # Activities this batch schedules run here at once while there is room, counting
        # the slots the batch's own workflow tasks give back when it commits: a full batch
        # must not send every activity back through the queue.
        self.eager_budget = self.core.slots + len(batch)
        self.began_ns = time.time_ns()
        tails = []
        histories: dict[str, list[Row]] = {}
        inboxes: dict[str, list[Row]] = {}
        for row in batch:
            run_id = row["run_id"]
            cached = self.core.cache.get(run_id)
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
            async with self.core.pool.connection() as conn:
                loaded_history, loaded_inbox = await store.load_for_decisions(conn, tails)
            histories.update(loaded_history)
            inboxes.update(loaded_inbox)
        instances: dict[int, WorkflowInstance] = {}
        blocked: list[tuple[Row, NonDeterminismError | WorkflowCodeError]] = []
        broken: list[Row] = []
        advanced: list[tuple[Row, int, list[HistoryEvent], list[Row]]] = []
        for row in batch:
            run_id = row["run_id"]
            definition = self.core.workflows[row["type_name"]]
            instance = self.core.cache.pop(run_id, None)
            if instance is not None and instance.definition is not definition:
                instance.evict()
                instance = None
                histories[run_id] = (await self.core.full_history([run_id]))[run_id]
            if instance is None:
                instance = WorkflowInstance(definition, run_id)
            instances[row["task_id"]] = instance
            try:
                recorded = [history_event(r) for r in histories[run_id]]
                owed = instance.replay(recorded) if recorded else []
                expected = len(instance.events) - len(owed)
                inbox = inboxes.get(run_id, [])
                new = instance.advance(
                    [(decode(r["event_type"], r["payload"]), r["at"]) for r in inbox]
                )
            except Exception as exc:
                self.failed(row, instance, exc, blocked, broken)
                continue
            advanced.append((row, expected, owed + new, inbox))
        # Local activities and transactional steps run now, each run's concurrently; a run
        # whose steps ran SQL commits at once, in their transaction (never held open while
        # other runs' steps wait on its locks).
        updates: dict[int, list[tuple[str, str, Any, Any]]] = {}
        decisions: list[store.Decision] = []
        waiting = []  # runs whose code waits on local activities or transactional steps
        for row, expected, new, inbox in advanced:
            instance = instances[row["task_id"]]
            if instance.local_due:
                waiting.append((row, expected, new, inbox))
            else:
                decisions.append(self.make_decision(row, instance, expected, new, inbox, updates))
        helds = {row["task_id"]: DecisionTransaction(self.core.pool) for row, *_ in waiting}
        try:
            settled = await asyncio.gather(*(
                self.settle(row, instances[row["task_id"]], expected, new, inbox,
                            helds[row["task_id"]], instances, updates)
                for row, expected, new, inbox in waiting
            ), return_exceptions=True)
        finally:
            for held in helds.values():
                await held.finish(commit=False)  # (a no-op for those committed already)
        for (row, *_), result in zip(waiting, settled, strict=True):
            if isinstance(result, store.Decision):
                decisions.append(result)
            elif result == "broken":
                broken.append(row)
            elif isinstance(result, Exception):
                self.failed(row, instances[row["task_id"]], result, blocked, broken)
            elif isinstance(result, BaseException):
                raise result
        if blocked:
            await self.block(blocked)
        if broken:
            await self.core.release_tasks(broken, delay=self.core.options.blocked_backoff)
        if not decisions:
            return
        async with self.core.pool.connection() as conn:
            outcome = await store.commit_decisions(
                conn, decisions, worker_id=self.core.worker_id,
                lease_seconds=self.core.options.lease_seconds,
            )
        await self.committed(decisions, outcome, instances, updates)

    async def settle(
        self, row: Row, instance: WorkflowInstance, expected: int, new: list[HistoryEvent],
        inbox: list[Row], held: DecisionTransaction, instances: dict[int, WorkflowInstance],
        updates: dict[int, list[Any]],
    ) -> store.Decision | str | None:
        """Run the local activities and transactional steps the code waits on, then make
        the decision. One whose steps ran SQL is committed here, in their transaction, and
        None returned ("broken" if that failed); the others go to the batch commit."""
        more = await self.local.settle(instance, row["namespace"], held)
        decision = self.make_decision(row, instance, expected, new + more, inbox, updates)
        if not held.active:
            return decision
        part = await self.commit_in(held, decision)
        if part is None:
            return "broken"
        await self.committed([decision], part, instances, updates)
        return None

    def make_decision(
        self, row: Row, instance: WorkflowInstance, expected: int, new: list[HistoryEvent],
        inbox: list[Row], updates: dict[int, list[Any]],
    ) -> store.Decision:
        decision = self.decision(row, instance, expected, new, inbox)
        if instance.update_outcomes:
            updates[decision.task_id] = list(instance.update_outcomes)
            decision.update_outcomes = True
        return decision

    def failed(
        self, row: Row, instance: WorkflowInstance, exc: Exception,
        blocked: list[tuple[Row, NonDeterminismError | WorkflowCodeError]], broken: list[Row],
    ) -> None:
        """A workflow task that cannot be decided: the run is blocked (a divergence, or its
        code raised), or the task is handed back (anything else)."""
        instance.evict()
        if isinstance(exc, NonDeterminismError | WorkflowCodeError):
            started = instance.events[0].event if instance.events else None
            exc.fingerprints = {
                "run": getattr(started, "fingerprint", None),
                "worker": instance.definition.fingerprint,
            }
            blocked.append((row, exc))
        else:
            log.error("workflow task for run %s failed", row["run_id"], exc_info=exc)
            broken.append(row)

    async def commit_in(
        self, held: DecisionTransaction, decision: store.Decision
    ) -> store.DecisionOutcome | None:
        """Commit a decision in the transaction its transactional steps ran in; None if
        the database failed (nothing of it is written: the task is handed back)."""
        try:
            part = await store.commit_decisions(
                await held.connection(), [decision], worker_id=self.core.worker_id,
                lease_seconds=self.core.options.lease_seconds,
            )
            await held.finish(commit=decision.task_id in part.committed)
        except psycopg.Error as exc:
            log.warning("could not commit the decision of run %s (%s)", decision.run_id, exc)
            await held.finish(commit=False)
            return None
        return part

    async def committed(
        self, decisions: list[store.Decision], outcome: store.DecisionOutcome,
        instances: dict[int, WorkflowInstance], updates: dict[int, list[Any]],
    ) -> None:
        """After a commit: record update outcomes, apply parent-close policies, keep the
        instances of runs that go on, wake timers and start the activities handed over."""
        self.core.stats["decisions"] += len(outcome.committed)
        closed = set(outcome.closed_runs)
        for decision in decisions:
            # (updates left waiting on a closed run were failed by the commit, unless this
            # decision itself completed some: then they are failed after those are recorded)
            if decision.task_id in outcome.committed and decision.task_id in updates:
                await self.record_updates(
                    decision.run_id, updates.get(decision.task_id, []), decision.run_id in closed
                )
        if outcome.closed_runs:
            try:
                async with self.core.pool.connection() as conn:
                    await store.apply_parent_close_policies(conn, outcome.closed_runs)
            except psycopg.Error:
                log.exception("parent close policies failed; the sweep will retry them")
        for decision in decisions:
            instance = instances[decision.task_id]
            if decision.task_id in outcome.committed:
                try:
                    self.observe(decision, instance, decision.run_id in closed)
                except Exception:  # telemetry must never hold up the work
                    log.exception("telemetry of run %s failed", decision.run_id)
            if decision.task_id in outcome.committed and not instance.closed:
                self.core.remember(decision.run_id, instance)
            else:
                instance.evict()
        if any(d.timers for d in decisions):
            self.core.timer_wake.set()
        for row in outcome.eager_activities:
            self.start_activity(row)

    def observe(self, decision: store.Decision, instance: WorkflowInstance, closed: bool) -> None:
        """Telemetry of a committed workflow task, and of the run's end if it ended."""
        queue = getattr(instance.events[0].event, "queue", "") if instance.events else ""
        telemetry.workflow_task_done(
            decision.run_id, decision.workflow_type, decision.namespace, queue,
            self.began_ns, len(decision.events))
        if closed and decision.close_status is not None and instance.events:
            run_hooks.run_ended(
                self.core.options.on_run_end, run_id=decision.run_id,
                workflow_id=decision.workflow_id, workflow_type=decision.workflow_type,
                namespace=decision.namespace, status=decision.close_status,
                error_json=decision.error_json, started_at=instance.events[0].at,
            )

    def decision(
        self,
        row: Row,
        instance: WorkflowInstance,
        expected: int,
        new: list[HistoryEvent],
        inbox: list[Row],
    ) -> store.Decision:
        decision = store.Decision(
            task_id=row["task_id"],
            attempt=row["attempt"],
            run_id=row["run_id"],
            namespace=row["namespace"],
            expected_seq=expected,
            inbox_ids=[r["id"] for r in inbox],
            workflow_id=instance.info.workflow_id if instance.info else "",
            workflow_type=row["type_name"],
        )
        for record in new:
            event = record.event
            decision.events.append(
                (record.seq, event.type_name, record.at, serde.dumps(event.fields()))
            )
            if isinstance(event, ActivityScheduled) and not event.options.get("local"):
                eager = (
                    self.eager_budget > 0
                    and event.activity_type in self.core.activities
                    and event.queue in self.core.queues
                    and event.options.get("max_concurrent") is None
                    and not self.core.throttled(event.queue, event.activity_type)
                )
                self.eager_budget -= int(eager)
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
            elif isinstance(event, ActivityCancelRequested):
                unsent = [a for a in decision.activities if a.seq == event.scheduled_seq]
                if unsent:  # scheduled and cancelled in one decision: never insert it
                    decision.activities.remove(unsent[0])
                    self.eager_budget += int(unsent[0].eager)
                else:
                    decision.cancelled_activities.append(event.scheduled_seq)
            elif isinstance(event, ChildWorkflowCancelRequested):
                decision.cancelled_children.append((event.run_id, event.reason))
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
                decision.children.append(self.child_start(instance, record.seq, event))
            elif isinstance(event, SearchAttributesUpserted):
                merged = json.loads(decision.search_attributes_json or "{}")
                merged.update(event.attributes)
                decision.search_attributes_json = serde.dumps(merged)
            elif isinstance(event, WorkflowContinuedAsNew):
                decision.close_status = "CONTINUED_AS_NEW"
                decision.result_json = serde.dumps({"continued_as": event.new_run_id})
                decision.continuation = self.continuation(instance, event)
            elif isinstance(event, WorkflowCancelled):
                decision.close_status = "CANCELLED"
                decision.error_json = serde.dumps(
                    {"type": "Cancelled", "message": event.reason or "cancelled on request"}
                )
        waiting = open_waits(instance)
        decision.waiting_json = serde.dumps(waiting) if waiting else None
        return decision

    @staticmethod
    def child_start(
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

    def continuation(
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

    async def record_updates(
        self, run_id: str, outcomes: list[tuple[str, str, Any, Any]], ended: bool
    ) -> None:
        try:
            async with self.core.pool.connection() as conn:
                await store.record_update_outcomes(conn, run_id, outcomes, run_ended=ended)
        except psycopg.Error:
            log.exception("could not record update outcomes of run %s", run_id)

    async def block(
        self, blocked: list[tuple[Row, NonDeterminismError | WorkflowCodeError]]
    ) -> None:
        async with self.core.pool.connection() as conn:
            for row, exc in blocked:
                kind = "non_determinism" if isinstance(exc, NonDeterminismError) else "code_error"
                reason = {
                    "kind": kind,
                    **exc.to_dict(),
                    "worker_id": self.core.worker_id,
                    "code_fingerprint": getattr(exc, "fingerprints", None),
                }
                await store.block_run(
                    conn,
                    task_id=row["task_id"],
                    attempt=row["attempt"],
                    worker_id=self.core.worker_id,
                    run_id=row["run_id"],
                    reason_json=serde.dumps(reason),
                    backoff_base=self.core.options.blocked_backoff,
                    backoff_max=self.core.options.blocked_backoff_max,
                )
                said = self.core.blocked_said
                if said.get(row["run_id"]) != str(exc):
                    if len(said) > 10_000:  # bounded: a worker may meet many blocked runs
                        said.clear()
                    said[row["run_id"]] = str(exc)
                    log.warning("run %s blocked: %s", row["run_id"], exc)
                else:
                    log.debug("run %s still blocked: %s", row["run_id"], exc)
        self.core.stats["blocked"] += len(blocked)


def open_waits(instance: WorkflowInstance) -> list[dict[str, Any]]:
    """What the code waits on that tasks and timers do not show: each signal it waits for
    and each condition (``wait_condition``), with the seq of the timer that ends the wait
    (if it has a timeout)."""
    found = []
    for name, waiters in instance.signal_waiters.items():
        for waiter in waiters:
            if not waiter.done():
                timer = instance.wait_timeouts.get(id(waiter))
                found.append({"kind": "signal", "name": name, "timer_seq": timer})
                break
    for predicate, waiter in instance.conditions:
        if not waiter.done():
            found.append({"kind": "condition",
                          "name": getattr(predicate, "__name__", "condition"),
                          "timer_seq": instance.wait_timeouts.get(id(waiter))})
    return found
