"""Replaying workflow code against its history.

A :class:`WorkflowInstance` owns one run's coroutine on a :class:`DeterministicLoop`.
History is consumed in order: each *inbound* event (start, activity result, timer firing)
resolves a future and the code runs until every workflow task is blocked again; every
*command* the code issues is matched, in order, against the next recorded command event.
Commands issued past the end of what was recorded are new decisions, returned to the worker
to be written in the same transaction as the inbound events that caused them.

Because an inbound event and the commands it caused are always written together, history is
an exact trace: replay of the same code gives the same commands, and any other outcome is a
:class:`~harvest_studio.NonDeterminismError`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import uuid
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from ..model import serde
from ..model.definitions import ActivityDefinition, WorkflowDefinition
from ..model.errors import (
    ActivityError,
    ChildWorkflowError,
    NonDeterminismError,
    PayloadError,
    WorkflowCodeError,
)
from ..model.events import (
    COMMAND,
    INFO,
    ActivityCancelRequested,
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    ActivityTimedOut,
    CancelRequested,
    ChildWorkflowCompleted,
    ChildWorkflowFailed,
    Event,
    HistoryEvent,
    MarkerRecorded,
    SignalReceived,
    TimerCancelled,
    TimerFired,
    TimerStarted,
    UpdateAdmitted,
    UpdateCompleted,
    UpdateFailed,
    UpdateRequested,
    WorkflowCancelled,
    WorkflowCompleted,
    WorkflowContinuedAsNew,
    WorkflowFailed,
    WorkflowResetFork,
    WorkflowStarted,
    role_of,
)
from ..model.payloads import decode_args
from .deterministic_loop import DeterministicLoop
from .futures import ActivityFuture, ResultFuture
from .history_rules import (
    CommandInValidatorError,
    Diverged,
    InstanceClosedError,
    code_error,
    command_divergence,
    error_dict,
    fails_run,
    inbound_divergence,
    is_start_signal,
    same_command,
    undecided,
)
from .workflow_context import ContinueAsNewRequest, WorkflowContext, WorkflowInfo

log = logging.getLogger("harvest_studio.worker")


class WorkflowInstance:
    """One run's workflow code, advanced event by event."""

    def __init__(self, definition: WorkflowDefinition, run_id: str) -> None:
        self.definition = definition
        self.run_id = run_id
        self.loop = DeterministicLoop()  # type: ignore[abstract]
        self.events: list[HistoryEvent] = []
        self.pos = 0
        self.new: list[HistoryEvent] = []
        self.pending: dict[int, ResultFuture] = {}
        self.now: datetime | None = None
        self.rng = random.Random(uuid.UUID(run_id).int)
        self.info: WorkflowInfo | None = None
        self.closed = False
        self.accept_new = False
        # why this run cannot go on with this code: it diverged, or the code raised an
        # exception that blocks the run (WorkflowCodeError) instead of failing it
        self.divergence: NonDeterminismError | WorkflowCodeError | None = None
        self.evicted = False
        self.ctx = WorkflowContext(self)
        self._main: asyncio.Task[None] | None = None
        self.cancel_requested = False
        self.signal_buffer: dict[str, collections.deque[Any]] = {}
        self.signal_waiters: dict[str, collections.deque[asyncio.Future[Any]]] = {}
        self.wait_timeouts: dict[int, int] = {}
        """the timer that ends a wait, by the wait's future's id (the timer's seq)"""
        self.signal_handlers: dict[str, Callable[[Any], Any]] = {}
        self.handler_tasks: list[asyncio.Task[None]] = []  # async signal and update handlers
        # wait_condition's waiters: checked after every event the run takes in
        self.conditions: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self.validating = False  # an update validator runs: it may not issue commands
        self.query_handlers: dict[str, Callable[..., Any]] = {}
        self.patches: dict[str, bool] = {}
        self.timer_seqs: dict[int, int] = {}
        # local activities the code waits on that this worker must run now, by seq
        self.local_due: list[int] = []
        self.local_definitions: dict[int, ActivityDefinition] = {}
        self.update_handlers: dict[str, tuple[Callable[..., Any], Callable[..., Any] | None]] = {}
        self.update_outcomes: list[tuple[str, str, Any, Any]] = []

    # -- entry points used by the worker --------------------------------------------------
    @property
    def is_replaying(self) -> bool:
        return not self.accept_new

    @property
    def position(self) -> int:
        """How many history events the code has reached: the same at the same point of the
        code, live or replayed (``len(events)`` is not: a replay loads all history first)."""
        return self.pos

    def replay(self, recorded: list[HistoryEvent]) -> list[HistoryEvent]:
        """Apply recorded events. Returns the new events owed to an undecided tail
        (a freshly started run); raises :class:`NonDeterminismError` on divergence."""
        if recorded and recorded[0].seq != len(self.events) + 1:
            raise InstanceClosedError(
                f"history gap: have {len(self.events)} events, got seq {recorded[0].seq}"
            )
        self.new = []
        self.events.extend(recorded)
        decisive = [e for e in recorded if role_of(e.event) != INFO]
        forked = bool(recorded) and isinstance(recorded[-1].event, WorkflowResetFork)
        self.accept_new = bool(decisive) and (forked or undecided(decisive[-1].event))
        try:
            self._drive()
        finally:
            self.accept_new = False
        return self.new

    def advance(self, inbound: list[tuple[Event, datetime]]) -> list[HistoryEvent]:
        """Apply events that are new to history; returns every event to append, in order.

        Update requests are validated here, live: a rejected one leaves no trace in history
        (its outcome is in :attr:`update_outcomes`), an accepted one becomes ``UpdateAdmitted``.
        """
        self.new = []
        self.accept_new = True
        self.update_outcomes = []
        try:
            for event, at in inbound:
                if isinstance(event, UpdateRequested):
                    admitted = self._admit(event)
                    if admitted is None:
                        continue
                    event = admitted
                record = HistoryEvent(len(self.events) + 1, at, event)
                self.events.append(record)
                self.new.append(record)
                self._drive()
        finally:
            self.accept_new = False
        return self.new

    def _admit(self, request: UpdateRequested) -> UpdateAdmitted | None:
        entry = self.update_handlers.get(request.name)
        if self.closed:
            reason = "the run has ended"
        elif entry is None:
            reason = f"no update handler {request.name!r}"
        else:
            validator = entry[1]
            self.validating = True
            try:
                if validator is not None:
                    checked = validator(*decode_args(validator, request.args))
                    if asyncio.iscoroutine(checked):
                        checked.close()
                        raise CommandInValidatorError(
                            "an update validator must be a plain function, not async")
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                self.update_outcomes.append((request.update_id, "ADMITTED", None, None))
                return UpdateAdmitted(request.update_id, request.name, request.args)
            finally:
                self.validating = False
        self.update_outcomes.append(
            (request.update_id, "REJECTED", None, {"type": "Rejected", "message": reason})
        )
        return None

    async def _run_update(self, update: UpdateAdmitted) -> None:
        handler = self.update_handlers[update.name][0]
        try:
            value = handler(*decode_args(handler, update.args))
            if asyncio.iscoroutine(value):
                value = await value
            value = serde.check(value, what=f"result of update {update.name}")
        except Exception as exc:
            self.emit(UpdateFailed(update.update_id, error_dict(exc)))
            if self.accept_new:
                self.update_outcomes.append((update.update_id, "FAILED", None, error_dict(exc)))
        else:
            self.emit(UpdateCompleted(update.update_id, value))
            if self.accept_new:
                self.update_outcomes.append((update.update_id, "COMPLETED", value, None))

    def evict(self) -> None:
        """Drop this instance: close its coroutines now (their ``finally`` blocks find
        the instance evicted and stop) rather than leave them to the garbage collector."""
        self.evicted = True
        for task in list(self.loop.tasks):
            with contextlib.suppress(BaseException):
                task.get_coro().close()  # type: ignore[union-attr]
        self.loop.close()

    # -- driver ---------------------------------------------------------------------------
    def _drive(self) -> None:
        try:
            self._drive_events()
        except Diverged:
            pass
        if self.divergence is not None:
            raise self.divergence

    def _drive_events(self) -> None:
        while self.pos < len(self.events):
            record = self.events[self.pos]
            role = role_of(record.event)
            if role == INFO:
                self.pos += 1
                continue
            if role == COMMAND:
                self._diverge(record, None)
            self.pos += 1
            self._apply(record)
            if isinstance(record.event, WorkflowStarted):
                # signals sent with the start reach the code before it first runs
                while self.pos < len(self.events) and is_start_signal(self.events[self.pos]):
                    self._apply(self.events[self.pos])
                    self.pos += 1
            self.loop.run_until_quiescent()
            while self.divergence is None and self._check_conditions():
                self.loop.run_until_quiescent()  # what the met conditions let run
            if self.divergence is not None:
                return

    def _check_conditions(self) -> bool:
        """Resolve the waits whose condition now holds; whether any did. A condition that
        raises fails its wait with that error (the workflow code sees it)."""
        met = False
        waiting = []
        for predicate, waiter in self.conditions:
            if waiter.done():
                continue
            try:
                holds = bool(predicate())
            except Exception as exc:
                waiter.set_exception(exc)
                met = True
                continue
            if holds:
                waiter.set_result(None)
                met = True
            else:
                waiting.append((predicate, waiter))
        self.conditions = waiting
        return met

    def _apply(self, record: HistoryEvent) -> None:
        self.now = record.at
        event = record.event
        if isinstance(event, WorkflowStarted):
            self.info = WorkflowInfo(
                run_id=self.run_id,
                workflow_id=event.workflow_id,
                workflow_type=event.workflow_type,
                namespace=event.namespace,
                queue=event.queue,
                started_at=record.at,
                fingerprint=event.fingerprint,
            )
            self._main = self.loop.create_task(self._run_main(event.args))
            return
        if isinstance(event, ActivityCompleted):
            self._resolve(record, event.scheduled_seq).settle(event.result)
        elif isinstance(event, ActivityFailed):
            scheduled = self._scheduled_activity(event.scheduled_seq)
            error = event.error
            self._resolve(record, event.scheduled_seq).set_exception(
                ActivityError(
                    f"activity {scheduled} failed after {event.attempt} attempt(s): "
                    f"{error.get('type')}: {error.get('message')}",
                    activity_type=scheduled,
                    error_type=str(error.get("type")),
                    attempt=event.attempt,
                    details=error,
                )
            )
        elif isinstance(event, ActivityTimedOut):
            scheduled = self._scheduled_activity(event.scheduled_seq)
            self._resolve(record, event.scheduled_seq).set_exception(
                ActivityError(
                    f"activity {scheduled} timed out ({event.timeout_type}) "
                    f"on attempt {event.attempt}",
                    activity_type=scheduled,
                    error_type="TimeoutError",
                    attempt=event.attempt,
                    timeout_type=event.timeout_type,
                )
            )
        elif isinstance(event, TimerFired):
            self._resolve(record, event.started_seq).set_result(None)
        elif isinstance(event, ChildWorkflowCompleted):
            self._resolve(record, event.started_seq).settle(event.result)
        elif isinstance(event, ChildWorkflowFailed):
            error = event.error or {}
            self._resolve(record, event.started_seq).set_exception(
                ChildWorkflowError(
                    f"child run {event.run_id} ended {event.status}: "
                    f"{error.get('type', '')}: {error.get('message', '')}",
                    run_id=event.run_id,
                    status=event.status,
                    error=event.error,
                )
            )
        elif isinstance(event, SignalReceived):
            self._deliver_signal(event.name, event.payload)
        elif isinstance(event, UpdateAdmitted):
            if event.name not in self.update_handlers:
                self._diverge_inbound(record, record.seq)
            self._track_handler(self._run_update(event))
        elif isinstance(event, CancelRequested):
            self.cancel_requested = True
            if self._main is not None and not self._main.done():
                self._main.cancel(event.reason)
        else:  # pragma: no cover - the closed event set has no other inbound type
            raise InstanceClosedError(f"cannot apply {event.type_name}")

    def _resolve(self, record: HistoryEvent, seq: int) -> ResultFuture:
        future = self.pending.pop(seq, None)
        if future is None:
            self._diverge_inbound(record, seq)
        assert future is not None
        if future.cancelled():  # nobody waits any more (cancelled with its scope)
            return ResultFuture(self.loop)
        return future

    def _deliver_signal(self, name: str, payload: Any) -> None:
        handler = self.signal_handlers.get(name)
        if handler is not None:
            self.call_signal_handler(handler, payload)
            return
        waiters = self.signal_waiters.get(name)
        while waiters and waiters[0].done():
            waiters.popleft()
        if waiters:
            waiters.popleft().set_result(payload)
        else:
            self.signal_buffer.setdefault(name, collections.deque()).append(payload)

    def call_signal_handler(self, handler: Callable[[Any], Any], payload: Any) -> None:
        try:
            args = decode_args(handler, [payload])
        except PayloadError as exc:  # a sender cannot fail the run with a bad payload
            if not self.is_replaying:
                log.warning("run %s dropped a signal: %s", self.run_id, exc)
            return
        try:
            outcome = handler(*args)
        except Diverged:
            raise
        except Exception as exc:
            self._handler_failed(exc)
            return
        if asyncio.iscoroutine(outcome):
            # an async handler runs as a task of the workflow's loop: tasks start in the
            # order their signals arrived, the same on every replay
            self._track_handler(self._run_async_handler(outcome))

    def _track_handler(self, running: Coroutine[Any, Any, None]) -> None:
        """Run an update or async signal handler as a task; finished ones are dropped here,
        so a long-lived cached instance does not keep every handler it ever ran."""
        self.handler_tasks = [t for t in self.handler_tasks if not t.done()]
        self.handler_tasks.append(self.loop.create_task(running))

    async def _run_async_handler(self, running: Coroutine[Any, Any, Any]) -> None:
        try:
            await running
        except (Diverged, asyncio.CancelledError):
            raise
        except Exception as exc:
            if not self.closed:
                self._handler_failed(exc)

    def _fails_run(self, exc: Exception) -> bool:
        """Whether ``exc``, escaping workflow code, fails the run; otherwise the run is
        blocked with it (a bug is fixed and deployed, and the run goes on)."""
        if fails_run(exc, self.definition.failure_exceptions):
            return True
        self.divergence = code_error(exc, self.pos)
        return False

    def _handler_failed(self, exc: Exception) -> None:
        """A failing signal handler fails or blocks the run, like the workflow body."""
        if not self._fails_run(exc):
            return
        self.emit(WorkflowFailed(error=error_dict(exc)))
        self.closed = True
        if self._main is not None:
            self._main.cancel()

    def _scheduled_activity(self, seq: int) -> str:
        event = self.events[seq - 1].event if 0 < seq <= len(self.events) else None
        return event.activity_type if isinstance(event, ActivityScheduled) else "?"

    async def _run_main(self, args: list[Any]) -> None:
        try:
            fn = self.definition.fn
            result = await fn(self.ctx, *decode_args(fn, args, skip=1))
            result = serde.check(result, what="workflow result")
        except ContinueAsNewRequest as request:
            if self.closed:
                return
            self.emit(
                WorkflowContinuedAsNew(
                    new_run_id=str(self.ctx.uuid4()), args=request.args_for_next
                )
            )
        except asyncio.CancelledError as exc:
            if self.closed:  # ended by a failing signal handler
                return
            if not self.cancel_requested:
                self.emit(WorkflowFailed(error=error_dict(exc)))
            else:
                self.emit(WorkflowCancelled(reason=str(exc.args[0]) if exc.args else None))
        except Exception as exc:
            if self.closed:
                return
            if not self._fails_run(exc):
                return
            self.emit(WorkflowFailed(error=error_dict(exc)))
        else:
            if self.closed:
                return
            await self._let_handlers_finish()
            if self.closed:
                return
            self.emit(WorkflowCompleted(result=result))
        self.closed = True

    async def _let_handlers_finish(self, patience: int = 3) -> None:
        """Let update and async signal handlers that can finish in this step finish before
        the close (as Temporal orders them); stop after ``patience`` idle yields."""
        idle = 0
        while idle < patience:
            waiting = [t for t in self.handler_tasks if not t.done()]
            if not waiting:
                return
            await asyncio.sleep(0)
            idle = 0 if any(t.done() for t in waiting) else idle + 1

    # -- commands issued by workflow code -------------------------------------------------
    def peek_recorded_command(self) -> HistoryEvent | None:
        """The recorded command the next issued command must match, if replaying."""
        pos = self.pos
        while pos < len(self.events) and role_of(self.events[pos].event) == INFO:
            pos += 1
        if pos < len(self.events) and role_of(self.events[pos].event) == COMMAND:
            return self.events[pos]
        return None

    def emit(self, command: Event) -> HistoryEvent:
        if self.evicted or self.divergence is not None:
            raise Diverged()
        if self.validating:
            raise CommandInValidatorError(
                f"an update validator must not issue commands ({command.type_name}): it "
                "only accepts or rejects; do the work in the update handler"
            )
        if self.closed:
            raise InstanceClosedError("the workflow has already completed")
        while self.pos < len(self.events) and role_of(self.events[self.pos].event) == INFO:
            self.pos += 1
        if self.pos < len(self.events):
            recorded = self.events[self.pos]
            if role_of(recorded.event) != COMMAND or not same_command(recorded.event, command):
                self._diverge(recorded, command)
            self.pos += 1
            return recorded
        if not self.accept_new:
            self._diverge(None, command)
        assert self.now is not None
        record = HistoryEvent(len(self.events) + 1, self.now, command)
        self.events.append(record)
        self.new.append(record)
        self.pos += 1
        return record

    def patched(self, patch_id: str) -> bool:
        """True on the new code path. Replay of a run that recorded the patch marker at this
        point takes the new path; a run recorded before the patch takes the old one."""
        if patch_id not in self.patches:
            marker = MarkerRecorded(name=f"patch:{patch_id}")
            self.patches[patch_id] = self.emit_late_command(marker)
        return self.patches[patch_id]

    def deprecate_patch(self, patch_id: str) -> None:
        """Consume the patch marker if this run recorded one; never writes one."""
        recorded = self.peek_recorded_command()
        marker = MarkerRecorded(name=f"patch:{patch_id}")
        if recorded is not None and same_command(recorded.event, marker):
            self.emit(marker)
        self.patches[patch_id] = True

    def register(self, seq: int, future: ResultFuture | None = None) -> ResultFuture:
        future = ResultFuture(self.loop) if future is None else future
        self.pending[seq] = future
        # Exceptions of futures nobody awaits (a losing branch) are not worth a warning.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        return future

    def schedule_activity(
        self, event: ActivityScheduled, definition: ActivityDefinition | None = None
    ) -> ResultFuture:
        record = self.emit(event)
        seq = record.seq
        if event.options.get("local") and self.new and self.new[-1] is record:
            self.local_due.append(seq)  # new: the worker runs it before committing
            if definition is not None:
                self.local_definitions[seq] = definition
        return self.register(seq, ActivityFuture(self.loop, lambda: self._cancel_activity(seq)))

    def _cancel_activity(self, seq: int) -> None:
        """The code cancelled an activity's future: record it (the store drops the task)."""
        if self.closed or self.evicted or self.divergence is not None:
            return
        if seq in self.local_due:  # a local activity not run yet: it never will be
            self.local_due.remove(seq)
            self.local_definitions.pop(seq, None)
        self.emit_late_command(ActivityCancelRequested(scheduled_seq=seq))

    def emit_late_command(self, command: Event) -> bool:
        """Issue a command older code did not issue here: matched where recorded, written
        where history ends, else left out (older runs replay as they ran). Whether issued."""
        recorded = self.peek_recorded_command()
        if recorded is None:
            pos = self.pos
            while pos < len(self.events) and role_of(self.events[pos].event) == INFO:
                pos += 1
            if not self.accept_new or pos < len(self.events):
                return False
        elif not same_command(recorded.event, command):
            return False
        self.emit(command)
        return True

    def start_timer(self, event: TimerStarted) -> asyncio.Future[Any]:
        record = self.emit(event)
        future = self.register(record.seq)
        self.timer_seqs[id(future)] = record.seq
        return future

    def timer_seq(self, future: asyncio.Future[Any]) -> int | None:
        return self.timer_seqs.get(id(future))

    def cancel_timer(self, future: asyncio.Future[Any]) -> None:
        """Stop a pending timer: its row is deleted, a late firing is ignored."""
        seq = self.timer_seqs.pop(id(future), None)
        if seq is None or future.done():
            return
        self.emit(TimerCancelled(started_seq=seq))
        future.cancel()

    # -- divergence -----------------------------------------------------------------------
    def _diverge(self, recorded: HistoryEvent | None, issued: Event | None) -> None:
        self.divergence = command_divergence(recorded, issued, len(self.events) + 1)
        raise Diverged()

    def _diverge_inbound(self, record: HistoryEvent, seq: int) -> None:
        self.divergence = inbound_divergence(record, seq)
        raise Diverged()

