"""Activity tasks: run each attempt (async on the loop, sync on a thread pool), then write
finished attempts in batches; flush heartbeats and pass cancellation back to attempts."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

import psycopg

from ... import store
from ...model import serde
from ...model.errors import ApplicationError, NonRetryableError, PayloadError
from ...model.events import ActivityCompleted, ActivityFailed, ActivityStarted, Event
from ...model.payloads import decode_args
from ...model.retry import is_retryable, retry_delay
from .. import telemetry
from ..activity_context import ActivityCancelledError, ActivityContext, ActivityInfo
from ..attempt_output import AttemptOutput
from ..history_rules import error_dict
from .core import Row, WorkerCore, backoff

log = logging.getLogger("harvest_studio.worker")


class ActivityExecutor:
    def __init__(self, core: WorkerCore) -> None:
        self.core = core
        self.threads = ThreadPoolExecutor(
            max_workers=core.options.max_concurrent_tasks, thread_name_prefix="harvest-activity"
        )
        self.outcomes: list[store.ActivityOutcome] = []
        self.outcome_ready = asyncio.Event()
        self.running: dict[tuple[int, int], ActivityContext] = {}
        """attempts in progress, by (task id, fenced attempt)"""

    def start(self, row: Row) -> None:
        """Run an activity task this worker holds (one slot)."""
        self.core.slots -= 1
        self.core.hold(row)
        self.core.spawn(self.run_activity(row))

    async def run_activity(self, row: Row) -> None:
        definition = self.core.activities[row["type_name"]]
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
            workflow_id=row["workflow_id"] or "",
            workflow_type=row["workflow_type"] or "",
        )
        ctx = ActivityContext(info, row["heartbeat_details"], fence_attempt=int(row["attempt"]))
        running_key = (info.task_id, ctx.fence_attempt)
        self.running[running_key] = ctx
        started = ActivityStarted(
            scheduled_seq=info.activity_id,
            attempt=attempt,
            worker_id=self.core.worker_id,
            started_at=(row["started_at"].isoformat() if row["started_at"] else ""),
        )
        events: list[Event] = [started]
        policy = row["retry_policy"] or {}
        outcome: store.ActivityOutcome | None
        deadline: asyncio.Timeout | None = None
        opts = self.core.options
        output = AttemptOutput(opts.echo_output) if opts.capture_output else None
        capturing = output if output is not None else nullcontext()
        span, span_token = telemetry.begin_attempt(
            info.run_id, info.namespace, definition.name, attempt, info.queue,
            info.activity_id, info.workflow_type)
        began = time.monotonic()
        error: Exception | None = None
        outcome = None
        try:
            args = decode_args(definition.fn, row["input"] or [], skip=1)
            with capturing:  # the thread of a sync activity gets a copy of this context
                if definition.is_async:
                    limit = row["start_to_close"]
                    running = asyncio.ensure_future(definition.fn(ctx, *args))
                    ctx.on_cancel(running.cancel)  # a cancelled attempt's code is cancelled
                    async with asyncio.timeout(limit + 1.0 if limit else None) as deadline:
                        try:
                            result = await running
                        except asyncio.CancelledError:
                            if not (running.cancelled() and ctx.is_cancelled):
                                raise  # the worker itself is being cancelled
                            ctx.check_cancelled()
                            raise
                else:
                    call = functools.partial(definition.fn, ctx, *args)
                    context = contextvars.copy_context()
                    result = await asyncio.get_running_loop().run_in_executor(
                        self.threads, context.run, call
                    )
            result = serde.check(result, what=f"result of activity {definition.name}")
        except TimeoutError as exc:
            if deadline is not None and deadline.expired():
                # The start-to-close deadline passed here; the sweeper writes the timeout
                # (the database clock is the only judge of deadlines).
                outcome = None
            else:  # the activity's own code raised TimeoutError: an ordinary failure
                error = exc
                outcome = self.failure(row, ctx, events, policy, exc)
        except Exception as exc:
            error = exc
            outcome = self.failure(row, ctx, events, policy, exc)
        else:
            events.append(ActivityCompleted(info.activity_id, attempt, result))
            outcome = self.outcome(row, True, events)
        finally:
            self.running.pop(running_key, None)
            flushed, details = ctx.take_heartbeat()
            ended = ("cancelled" if sys.exc_info()[1] is not None  # the worker stops
                     else "timed_out" if outcome is None else "completed" if error is None
                     else "failed" if outcome.final else "retrying")
            telemetry.end_attempt(span, span_token, definition.name, info.queue, ended,
                                  time.monotonic() - began, error)
        if outcome is not None:
            if flushed and details is not None and not outcome.final:
                outcome.details_json = serde.dumps(details)
            text = output.text() if output is not None else ""
            if text:
                outcome.output = store.AttemptText(info.activity_id, attempt, text,
                                                   output.dropped if output else 0)
            self.outcomes.append(outcome)
            self.outcome_ready.set()
        else:
            # the attempt's deadline passed: the sweeper times it out; its lease is not ours
            self.core.let_go([row])
            self.core.release_slot()

    def failure(
        self,
        row: Row,
        ctx: ActivityContext,
        events: list[Event],
        policy: Row,
        exc: Exception,
    ) -> store.ActivityOutcome:
        attempt = ctx.attempt
        error = error_dict(exc)
        # an attempt cancelled for good is not retried: its activity or run was cancelled
        final_error = _final(exc) or (
            isinstance(exc, ActivityCancelledError) and ctx.cancelled_for_good)
        retryable = is_retryable(policy, type(exc).__name__, final_error)
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
        outcome = self.outcome(row, delay is None, events)
        outcome.delay = delay or 0.0
        outcome.last_error_json = serde.dumps(error)
        return outcome

    def outcome(
        self, row: Row, final: bool, events: list[Event]
    ) -> store.ActivityOutcome:
        return store.ActivityOutcome(
            task_id=int(row["task_id"]),
            worker_id=self.core.worker_id,
            attempt=int(row["attempt"]),
            final=final,
            events=[(e.type_name, serde.dumps(e.fields())) for e in events],
        )

    async def outcome_loop(self) -> None:
        core = self.core
        failures = 0
        while True:
            await self.outcome_ready.wait()
            self.outcome_ready.clear()
            while self.outcomes:
                batch, self.outcomes = self.outcomes, []
                core.busy += 1
                try:
                    async with core.pool.connection() as conn:
                        result = await store.apply_activity_outcomes(
                            conn,
                            batch,
                            eager_worker=core.worker_id if core.claiming else None,
                            eager_types=list(core.workflows),
                            lease_seconds=core.options.lease_seconds,
                        )
                except Exception as exc:
                    if store.is_transient(exc):
                        # A finished attempt's result is kept until it is written (or the
                        # write's fence shows the claim was lost): never run it twice for a
                        # blip. The tasks stay held, so their leases are renewed meanwhile.
                        log.warning("could not write %d activity outcomes (%s); retrying",
                                    len(batch), exc)
                        self.outcomes[:0] = batch
                        await asyncio.sleep(backoff(failures))
                        failures += 1
                        continue
                    log.exception("could not write %d activity outcomes", len(batch))
                    core.let_go(_task(o) for o in batch)
                    core.release_slot(len(batch))
                    continue
                finally:
                    core.busy -= 1
                failures = 0
                core.let_go(_task(o) for o in batch)
                core.stats["activities"] += len(result.ended)
                for outcome in batch:
                    if not outcome.final and outcome.task_id in result.ended:
                        core.wake_later(outcome.delay)
                core.release_slot(len(batch))
                for row in result.owned_workflow_tasks:
                    core.slots -= 1
                    core.hold(row)
                    core.submit_workflow_task(dict(row))

    async def heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.core.options.heartbeat_flush_interval)
            for (task_id, _), ctx in list(self.running.items()):
                has, details = ctx.take_heartbeat()
                if not has:
                    continue
                try:
                    async with self.core.pool.connection() as conn:
                        state = await store.heartbeat_activity(
                            conn,
                            task_id=task_id,
                            worker_id=self.core.worker_id,
                            attempt=ctx.fence_attempt,
                            details_json=None if details is None else serde.dumps(details),
                        )
                except psycopg.Error as exc:
                    log.warning("heartbeat failed: %s", exc)
                    continue
                if state == "lost":
                    ctx.cancel("the attempt is no longer current (the activity was cancelled,"
                               " or the attempt reclaimed or timed out, or the run ended)",
                               for_good=True)
                elif state == "cancel":
                    ctx.cancel("the workflow was asked to cancel", for_good=True)


def _task(outcome: store.ActivityOutcome) -> Row:
    return {"task_id": outcome.task_id, "attempt": outcome.attempt}


def _final(exc: Exception) -> bool:
    """Whether an attempt's exception stops retries whatever the policy says."""
    return isinstance(exc, NonRetryableError | PayloadError) or (
        isinstance(exc, ApplicationError) and exc.non_retryable)
