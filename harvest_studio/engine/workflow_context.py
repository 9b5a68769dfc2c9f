"""What workflow code sees: ``ctx`` with deterministic time, randomness, activities, timers."""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn, Protocol

from ..model import serde
from ..model.definitions import (
    DEFAULT_QUEUE,
    ActivityDefinition,
    ActivityOptions,
    WorkflowDefinition,
    check_priority,
)
from ..model.durations import Duration, optional_seconds, to_seconds
from ..model.errors import UsageError
from ..model.events import (
    ActivityScheduled,
    ChildWorkflowStarted,
    Event,
    HistoryEvent,
    MarkerRecorded,
    SearchAttributesUpserted,
    SideEffectRecorded,
    TimerCancelled,
    TimerStarted,
)
from ..model.payloads import return_hint
from ..model.retry import RetryPolicy
from .futures import ChildHandle, ResultFuture

PARENT_CLOSE_POLICIES = ("request_cancel", "terminate", "abandon")
LOCAL_ACTIVITY_BUDGET = 60.0  # seconds a local activity may take in all, retries included


@dataclass(frozen=True)
class WorkflowInfo:
    run_id: str
    workflow_id: str
    workflow_type: str
    namespace: str
    queue: str
    started_at: datetime
    fingerprint: str | None = None


class ContinueAsNewRequest(BaseException):
    """Raised by ``ctx.continue_as_new``; a BaseException so ``except Exception`` in
    workflow code lets it through."""

    def __init__(self, args: list[Any]) -> None:
        super().__init__("continue as new")
        self.args_for_next = args


class WorkflowRuntime(Protocol):
    """What the context needs from the replaying instance behind it (``replay.WorkflowInstance``
    provides it; the context never imports the replayer)."""

    @property
    def info(self) -> WorkflowInfo | None: ...
    @property
    def is_replaying(self) -> bool: ...
    @property
    def position(self) -> int: ...
    @property
    def now(self) -> datetime | None: ...
    @property
    def rng(self) -> random.Random: ...
    @property
    def loop(self) -> asyncio.AbstractEventLoop: ...
    @property
    def events(self) -> list[HistoryEvent]: ...
    @property
    def cancel_requested(self) -> bool: ...
    @property
    def signal_buffer(self) -> dict[str, collections.deque[Any]]: ...
    @property
    def signal_waiters(self) -> dict[str, collections.deque[asyncio.Future[Any]]]: ...
    @property
    def wait_timeouts(self) -> dict[int, int]: ...
    @property
    def signal_handlers(self) -> dict[str, Callable[[Any], Any]]: ...
    def call_signal_handler(self, handler: Callable[[Any], Any], payload: Any) -> None: ...
    @property
    def conditions(self) -> list[tuple[Callable[[], bool], asyncio.Future[None]]]: ...
    @property
    def handler_tasks(self) -> list[asyncio.Task[None]]: ...
    @property
    def query_handlers(self) -> dict[str, Callable[..., Any]]: ...
    @property
    def update_handlers(
        self,
    ) -> dict[str, tuple[Callable[..., Any], Callable[..., Any] | None]]: ...

    def emit(self, command: Event) -> HistoryEvent: ...
    def register(self, seq: int, future: ResultFuture | None = None) -> ResultFuture: ...
    def schedule_activity(
        self, event: ActivityScheduled, definition: ActivityDefinition | None = None
    ) -> asyncio.Future[Any]: ...
    def start_timer(self, event: TimerStarted) -> asyncio.Future[Any]: ...
    def timer_seq(self, future: asyncio.Future[Any]) -> int | None: ...
    def cancel_timer(self, future: asyncio.Future[Any]) -> None: ...
    def peek_recorded_command(self) -> HistoryEvent | None: ...
    def patched(self, patch_id: str) -> bool: ...
    def deprecate_patch(self, patch_id: str) -> None: ...


class _ReplaySafeLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Drops records while the workflow replays; prefixes the workflow id."""

    def __init__(self, logger: logging.Logger, ctx: WorkflowContext) -> None:
        super().__init__(logger, {})
        self.ctx = ctx

    def isEnabledFor(self, level: int) -> bool:
        return not self.ctx.is_replaying and self.logger.isEnabledFor(level)

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        name = self.ctx.info.workflow_id
        if args:  # the message is then a format string: a "%" in the id must stay one
            name = name.replace("%", "%%")
        self.logger.log(level, f"[{name}] {msg}", *args, **kwargs)


class WorkflowContext:
    """The handle workflow code gets as its first argument.

    Everything here is deterministic under replay: ``now()`` is the time of the event being
    handled, ``uuid4()`` and ``random()`` come from a generator seeded by the run id, and
    ``side_effect`` records its value once.
    """

    def __init__(self, instance: WorkflowRuntime) -> None:
        self._instance = instance
        self._logger: logging.LoggerAdapter[logging.Logger] | None = None

    # -- facts ------------------------------------------------------------------------------
    @property
    def info(self) -> WorkflowInfo:
        assert self._instance.info is not None
        return self._instance.info

    @property
    def is_replaying(self) -> bool:
        """True while the code is re-running against recorded history."""
        return self._instance.is_replaying

    @property
    def logger(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger for workflow code that speaks once: records made while the code is
        replayed are dropped (``print`` would repeat on every replay; the first decision of
        a reset run, which re-runs the kept prefix with new events accepted, repeats its
        lines once). Its records go to
        the worker's log (``harvest_studio.worker.workflow.<type>``; in a notebook,
        ``%harvest worker log``), prefixed with the workflow id::

            ctx.logger.info("charging %s", order_id)
        """
        if self._logger is None:
            name = f"harvest_studio.worker.workflow.{self.info.workflow_type}"
            self._logger = _ReplaySafeLogger(logging.getLogger(name), self)
        return self._logger

    def now(self) -> datetime:
        """The workflow's clock: the database time of the event currently being handled."""
        assert self._instance.now is not None
        return self._instance.now

    def uuid4(self) -> uuid.UUID:
        """A random UUID that is the same on every replay."""
        return uuid.UUID(int=self._instance.rng.getrandbits(128), version=4)

    def random(self) -> float:
        """A float in [0, 1) that is the same on every replay."""
        return self._instance.rng.random()

    # -- activities ------------------------------------------------------------------------
    def execute_activity(
        self,
        activity: ActivityDefinition | str,
        *args: Any,
        start_to_close: Duration | None = None,
        schedule_to_start: Duration | None = None,
        schedule_to_close: Duration | None = None,
        heartbeat_timeout: Duration | None = None,
        retry: RetryPolicy | None = None,
        queue: str | None = None,
        priority: int | None = None,
    ) -> asyncio.Future[Any]:
        """Schedule an activity and return a future of its result.

        ``await ctx.execute_activity(charge, order_id)`` waits for it; several futures can be
        awaited together with :meth:`gather` or :meth:`wait_first`. Keyword options override
        the ones given to ``@activity`` for this call (``priority``: higher is claimed first
        within the queue; the run's priority by default). If every attempt fails the future
        raises :class:`~harvest_studio.ActivityError`.
        """
        overrides: dict[str, Any] = {
            "start_to_close": optional_seconds(start_to_close),
            "schedule_to_start": optional_seconds(schedule_to_start),
            "schedule_to_close": optional_seconds(schedule_to_close),
            "heartbeat_timeout": optional_seconds(heartbeat_timeout),
        }
        if retry is not None:
            overrides["retry"] = retry.to_json()
        if priority is not None:
            check_priority(priority)
            overrides["priority"] = priority
        return self.schedule_activity(activity, list(args), overrides, queue)

    def schedule_activity(
        self,
        activity: ActivityDefinition | str,
        args: list[Any],
        overrides: dict[str, Any],
        queue: str | None = None,
    ) -> asyncio.Future[Any]:
        """Schedule ``activity(*args)`` with the options of ``@activity`` updated by the
        non-None ``overrides`` (JSON-ready values; extra keys are recorded as they are)."""
        result_type = None
        if isinstance(activity, ActivityDefinition):
            name, base = activity.name, activity.options
            result_type = return_hint(activity.fn)
        elif isinstance(activity, str):
            name, base = activity, ActivityOptions()
        else:
            raise UsageError(f"execute_activity needs an @activity or a name, got {activity!r}")
        options = base.to_json()
        options.update({k: v for k, v in overrides.items() if v is not None})
        payload = serde.check(args, what=f"arguments of activity {name}")
        event = ActivityScheduled(
            activity_type=name,
            args=payload,
            queue=queue or base.queue or DEFAULT_QUEUE,
            options=options,
        )
        local = activity if options.get("local") and isinstance(activity, ActivityDefinition) \
            else None
        future = self._instance.schedule_activity(event, local)
        if isinstance(future, ResultFuture):
            future.result_type = result_type
        return future

    start_activity = execute_activity

    def execute_local_activity(
        self,
        activity: ActivityDefinition | str,
        *args: Any,
        start_to_close: Duration | None = None,
        schedule_to_close: Duration | None = LOCAL_ACTIVITY_BUDGET,
        retry: RetryPolicy | None = None,
    ) -> asyncio.Future[Any]:
        """Run a short activity on this worker, inside the workflow task that awaits it: no
        task, no queue round trip; its attempts are recorded with that task's decision.

        For cheap steps (a lookup, a small computation, a call to a fast service) where the
        latency of a queued activity matters. Attempts retry by ``retry`` (the activity's
        policy by default), backing off in process, within ``schedule_to_close`` in all
        (default 60 s: the workflow task is held meanwhile); each attempt within
        ``start_to_close``. A local activity is run again if its worker dies before the
        decision commits. Long or heartbeating work belongs in :meth:`execute_activity`.
        """
        overrides: dict[str, Any] = {
            "local": True,
            "start_to_close": optional_seconds(start_to_close),
            "schedule_to_close": optional_seconds(schedule_to_close),
            "heartbeat_timeout": None,
        }
        if retry is not None:
            overrides["retry"] = retry.to_json()
        return self.schedule_activity(activity, list(args), overrides)

    def execute_transaction(
        self, step: ActivityDefinition, *args: Any, retry: RetryPolicy | None = None
    ) -> asyncio.Future[Any]:
        """Run a ``@transaction`` step: its SQL commits in the same transaction as the
        workflow task that records its result (exactly once), on this worker, like a local
        activity. See :func:`~harvest_studio.transaction`."""
        if not isinstance(step, ActivityDefinition) or not step.transactional:
            raise UsageError(f"execute_transaction needs a @transaction step, got {step!r}")
        overrides: dict[str, Any] = {"local": True, "transaction": True,
                                     "schedule_to_close": LOCAL_ACTIVITY_BUDGET}
        if retry is not None:
            overrides["retry"] = retry.to_json()
        return self.schedule_activity(step, list(args), overrides)

    # -- child workflows ---------------------------------------------------------------------
    def start_child(
        self,
        workflow: WorkflowDefinition | str,
        *args: Any,
        id: str | None = None,
        queue: str | None = None,
        parent_close_policy: str = "request_cancel",
    ) -> ChildHandle:
        """Start a child run; ``await`` the returned handle for its result (a failed child
        raises :class:`~harvest_studio.ChildWorkflowError`).

        When this run closes, a still-running child is terminated (``terminate``), asked to
        cancel (``request_cancel``, the default) or left alone (``abandon``).
        """
        if parent_close_policy not in PARENT_CLOSE_POLICIES:
            raise UsageError(
                f"unknown parent_close_policy {parent_close_policy!r}; "
                f"use one of {PARENT_CLOSE_POLICIES}"
            )
        if isinstance(workflow, WorkflowDefinition):
            name, default_queue = workflow.name, workflow.queue
        elif isinstance(workflow, str) and workflow:
            name, default_queue = workflow, self.info.queue
        else:
            raise UsageError(f"start_child needs a @workflow or a name, got {workflow!r}")
        run_id = str(self.uuid4())
        event = ChildWorkflowStarted(
            workflow_type=name,
            workflow_id=id or run_id,
            run_id=run_id,
            args=serde.check(list(args), what=f"arguments of child {name}"),
            queue=queue or default_queue,
            parent_close_policy=parent_close_policy,
        )
        record = self._instance.emit(event)
        recorded = record.event
        assert isinstance(recorded, ChildWorkflowStarted)
        future = self._instance.register(record.seq)
        if isinstance(future, ResultFuture) and isinstance(workflow, WorkflowDefinition):
            future.result_type = return_hint(workflow.fn)
        return ChildHandle(recorded.workflow_id, recorded.run_id, future,
                           self._instance.emit, record.seq)

    async def execute_child(self, workflow: WorkflowDefinition | str, *args: Any, **kw: Any) -> Any:
        """Start a child run and wait for its result (see :meth:`start_child`)."""
        return await self.start_child(workflow, *args, **kw)

    # -- time ------------------------------------------------------------------------------
    def sleep(self, duration: Duration) -> asyncio.Future[Any]:
        """A durable timer: survives restarts, fires once, never early."""
        seconds = to_seconds(duration)
        fire_at = self.now() + timedelta(seconds=seconds)
        return self._instance.start_timer(
            TimerStarted(fire_at=fire_at.isoformat(), duration=seconds)
        )

    def sleep_until(self, moment: datetime) -> asyncio.Future[Any]:
        """Sleep until an aware datetime (returns at once if it is already past)."""
        if moment.tzinfo is None:
            raise UsageError("sleep_until needs a timezone-aware datetime")
        return self.sleep(max(0.0, (moment - self.now()).total_seconds()))

    # -- recorded values ------------------------------------------------------------------
    def side_effect(self, fn: Callable[[], Any], *, name: str | None = None) -> Any:
        """Run ``fn`` once and record its (JSON) value; replays return the recorded value."""
        label: str = name or str(getattr(fn, "__name__", "side_effect"))
        recorded = self._instance.peek_recorded_command()
        if recorded is not None and isinstance(recorded.event, SideEffectRecorded):
            self._instance.emit(SideEffectRecorded(name=label))
            return recorded.event.value
        value = serde.check(fn(), what=f"side effect {label}")
        self._instance.emit(SideEffectRecorded(name=label, value=value))
        return value

    def patched(self, patch_id: str) -> bool:
        """Version a change to workflow code without breaking runs already in flight::

            if ctx.patched("send-sms"):
                await ctx.execute_activity(send_sms, user)      # new behaviour
            else:
                await ctx.execute_activity(send_email, user)    # what old runs did

        New runs record a ``patch:<id>`` marker and take the new branch; runs that reached
        this point before the patch existed replay the old branch. Once no old run is left,
        keep only the new branch and call :meth:`deprecate_patch` in place of the ``if``.
        """
        return self._instance.patched(patch_id)

    def deprecate_patch(self, patch_id: str) -> None:
        """Mark a patch whose old branch is gone (see :meth:`patched`)."""
        self._instance.deprecate_patch(patch_id)

    def record_marker(self, name: str, details: Any = None) -> None:
        """Write a named marker into history (shown in tools; checked on replay)."""
        self._instance.emit(MarkerRecorded(name=name, details=serde.check(details)))

    # -- signals and cancellation ---------------------------------------------------------
    async def wait_signal(
        self, name: str, *, timeout: Duration | None = None, default: Any = None
    ) -> Any:
        """Wait for the next signal called ``name`` and return its payload.

        With ``timeout`` (a durable timer), returns ``default`` if no signal came in time.
        Signals that arrived earlier are buffered, so none is missed.
        """
        inst = self._instance
        buffered = inst.signal_buffer.get(name)
        if buffered:
            return buffered.popleft()
        waiter: asyncio.Future[Any] = inst.loop.create_future()
        inst.signal_waiters.setdefault(name, collections.deque()).append(waiter)
        if timeout is None:
            return await waiter
        timer = self.sleep(timeout)
        seq = inst.timer_seq(timer)
        if seq is not None:
            inst.wait_timeouts[id(waiter)] = seq
        index, value = await self.wait_first(waiter, timer)
        if index == 1:
            waiter.cancel()
            return default
        self._instance.cancel_timer(timer)
        return value

    async def wait_condition(self, predicate: Callable[[], bool], *,
                             timeout: Duration | None = None) -> None:
        """Wait until ``predicate()`` is true. It is checked now, then again after every
        event the run takes in (a signal, an update, an activity's or a child's result, a
        timer), so it may read state that handlers change; it must be quick, deterministic,
        and change nothing. With ``timeout`` (a durable timer), raises ``TimeoutError`` if
        it is still false then; when the condition wins, the timer is cancelled::

            await ctx.wait_condition(lambda: state["approved"], timeout="1h")
        """
        if predicate():
            return
        inst = self._instance
        waiter: asyncio.Future[None] = inst.loop.create_future()
        inst.conditions.append((predicate, waiter))
        if timeout is None:
            await waiter
            return
        timer = self.sleep(timeout)
        seq = inst.timer_seq(timer)
        if seq is not None:
            inst.wait_timeouts[id(waiter)] = seq
        index, _ = await self.wait_first(waiter, timer)
        if index == 1:
            waiter.cancel()
            raise TimeoutError(f"condition not met within {to_seconds(timeout):g} s")
        inst.cancel_timer(timer)

    def all_handlers_finished(self) -> bool:
        """Whether every update handler and async signal handler started so far has
        finished (wait for it before returning: ``await ctx.wait_condition(
        ctx.all_handlers_finished)``)."""
        return all(task.done() for task in self._instance.handler_tasks)

    def signals(self, name: str) -> list[Any]:
        """Take every buffered signal called ``name`` without waiting (oldest first)."""
        buffered = self._instance.signal_buffer.pop(name, None)
        return list(buffered or [])

    def set_signal_handler(self, name: str, handler: Callable[[Any], Any]) -> None:
        """Call ``handler(payload)`` for every signal called ``name``, in history order,
        starting with any already buffered. Handlers must be deterministic; an ``async``
        handler runs as a task of the workflow (they start in the order the signals
        arrived and may await activities and timers); a handler that raises fails the
        run."""
        inst = self._instance
        inst.signal_handlers[name] = handler
        for payload in self.signals(name):
            inst.call_signal_handler(handler, payload)

    def set_query_handler(self, name: str, handler: Callable[..., Any]) -> None:
        """Answer queries called ``name`` with ``handler(*args)``. Queries replay the run to
        its current state and call the handler; they write nothing, so the handler must
        only read workflow state."""
        if not name:
            raise UsageError("a query handler needs a name")
        self._instance.query_handlers[name] = handler

    def set_update_handler(
        self,
        name: str,
        handler: Callable[..., Any],
        *,
        validator: Callable[..., None] | None = None,
    ) -> None:
        """Handle updates called ``name``: ``handler(*args)`` (sync or async; it may run
        activities) returns the caller's result. ``validator(*args)`` runs first and rejects
        the update by raising; a rejected update writes nothing to history."""
        if not name:
            raise UsageError("an update handler needs a name")
        self._instance.update_handlers[name] = (handler, validator)

    @property
    def is_cancel_requested(self) -> bool:
        """True once a cancel request reached the run (the code also sees
        ``asyncio.CancelledError`` at its current ``await``)."""
        return self._instance.cancel_requested

    # -- long-running loops -----------------------------------------------------------------
    def continue_as_new(self, *args: Any) -> NoReturn:
        """End this run and continue as a fresh run of the same workflow (same workflow id,
        new run id, empty history) with ``args``. Use it to bound the history of loops."""
        raise ContinueAsNewRequest(serde.check(list(args), what="continue_as_new arguments"))

    def should_continue_as_new(self, threshold: int = 10_000) -> bool:
        """True once this run's history, as far as the code has come, has ``threshold``
        events or more (deterministic: a replay gives the same answer at the same point)."""
        return self._instance.position >= threshold

    def upsert_search_attributes(self, attributes: dict[str, Any]) -> None:
        """Set (or with ``None`` values, remove) indexed attributes that
        ``client.list(query=...)`` can filter on."""
        if not isinstance(attributes, dict) or not all(isinstance(k, str) for k in attributes):
            raise UsageError("search attributes are a dict of str keys")
        value = serde.check(attributes, what="search attributes")
        self._instance.emit(SearchAttributesUpserted(attributes=value))

    # -- composition ------------------------------------------------------------------------
    @staticmethod
    async def gather(*aws: Awaitable[Any], return_exceptions: bool = False) -> list[Any]:
        """Wait for all; results in argument order (``asyncio.gather`` on the workflow loop)."""
        return list(await asyncio.gather(*aws, return_exceptions=return_exceptions))

    async def wait_first(self, *aws: Awaitable[Any]) -> tuple[int, Any]:
        """Wait until one finishes; returns ``(index, result)`` of the first in argument order
        among those done. The others keep running (their results are simply not awaited),
        except durable timers (``ctx.sleep``), which are cancelled (``TimerCancelled``)."""
        if not aws:
            raise UsageError("wait_first needs at least one awaitable")
        futures = [asyncio.ensure_future(a) for a in aws]
        await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)
        for index, future in enumerate(futures):
            if future.done():
                self._cancel_losing_timers(futures, index)
                return index, future.result()
        raise AssertionError("asyncio.wait returned with nothing done")  # pragma: no cover

    def _cancel_losing_timers(self, futures: Sequence[asyncio.Future[Any]], won: int) -> None:
        inst = self._instance
        for index, future in enumerate(futures):
            seq = inst.timer_seq(future)
            if index == won or seq is None or future.done():
                continue
            recorded = inst.peek_recorded_command()
            # a run recorded before losing timers were cancelled replays without it
            if recorded is None or (isinstance(recorded.event, TimerCancelled)
                                    and recorded.event.started_seq == seq):
                inst.cancel_timer(future)
