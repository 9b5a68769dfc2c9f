"""Local activities: short activities a workflow task runs itself, on this worker, before it
commits. Their attempts become inbound events of the same decision (no task, no queue
round trip); retries back off in process within the activity's ``schedule_to_close``."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from ...model import serde
from ...model.definitions import ActivityDefinition
from ...model.errors import NonRetryableError
from ...model.events import (
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    ActivityStarted,
    ActivityTimedOut,
    Event,
    HistoryEvent,
)
from ...model.payloads import decode_args
from ...model.retry import is_retryable, retry_delay
from ...store import clock as store_clock
from ..activity_context import ActivityContext, ActivityInfo, TransactionContext
from ..history_rules import error_dict
from ..replay import WorkflowInstance
from .activities import _final
from .core import WorkerCore

Inbound = list[tuple[Event, datetime]]


class LocalActivityRunner:
    """Runs the local activities a workflow instance waits on (sync ones on ``threads``)."""

    def __init__(self, core: WorkerCore, threads: ThreadPoolExecutor | None = None) -> None:
        self.core = core
        # their own threads: a local activity must not queue behind long activities
        self.threads = threads or ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="harvest-local-activity")

    async def settle(
        self, instance: WorkflowInstance, namespace: str, held: DecisionTransaction
    ) -> list[HistoryEvent]:
        """Run the local activities the code waits on and feed their outcomes back in, until
        it waits on none; returns the events this added to the decision. Transactional
        steps run in ``held``'s transaction, which the decision must then commit in."""
        new: list[HistoryEvent] = []
        outcomes = list(instance.update_outcomes)  # each advance() starts a fresh list
        while instance.local_due and not instance.closed:
            due, instance.local_due = instance.local_due, []
            # transactional steps share one connection: they run one after another
            plain = [s for s in due if not _transactional(instance, s)]
            done = list(await asyncio.gather(*(self.run(instance, s, namespace, held)
                                               for s in plain)))
            for seq in (s for s in due if s not in plain):
                done.append(await self.run(instance, seq, namespace, held))
            new += instance.advance([item for events in done for item in events])
            outcomes += instance.update_outcomes
        instance.local_due = []
        instance.update_outcomes = outcomes
        return new

    async def run(
        self, instance: WorkflowInstance, seq: int, namespace: str, held: DecisionTransaction
    ) -> Inbound:
        """Every attempt of the local activity scheduled at ``seq``, as inbound events."""
        scheduled = instance.events[seq - 1].event
        assert isinstance(scheduled, ActivityScheduled)
        definition = instance.local_definitions.pop(seq, None) or self.core.activities.get(
            scheduled.activity_type)
        options = scheduled.options
        policy = options.get("retry") or {}
        loop = asyncio.get_running_loop()
        budget = options.get("schedule_to_close")
        deadline = None if budget is None else loop.time() + float(budget)
        events: Inbound = []
        attempt = 0
        while True:
            attempt += 1
            began = _now()
            events.append((ActivityStarted(seq, attempt, self.core.worker_id, began.isoformat()),
                           began))
            raw = options.get("start_to_close")
            limit = None if raw is None else float(raw)
            left = None if deadline is None else max(0.0, deadline - loop.time())
            by_limit = limit is not None and (left is None or limit <= left)
            timeout = limit if by_limit else left
            timed_out: str | None = None
            error: dict[str, Any] = {}
            try:
                if definition is None:
                    raise NonRetryableError(
                        f"no activity {scheduled.activity_type!r} to run locally: pass its "
                        "@activity to execute_local_activity, or register it on the worker")
                info = self._info(instance, scheduled, seq, attempt, namespace, timeout)
                if options.get("transaction"):
                    result = await self._in_transaction(
                        definition, info, scheduled.args, await held.connection())
                else:
                    result = await self._attempt(definition, info, scheduled.args, timeout)
            except _TimedOut:
                timed_out = "start_to_close" if by_limit else "schedule_to_close"
                retryable = by_limit
            except Exception as exc:
                error = error_dict(exc)
                retryable = is_retryable(policy, type(exc).__name__, _final(exc))
            else:
                events.append((ActivityCompleted(seq, attempt, result), _now()))
                return events
            delay = retry_delay(policy, attempt) if retryable else None
            if delay is not None and deadline is not None and loop.time() + delay >= deadline:
                delay = None  # the activity's time is spent
            retrying = delay is not None
            failure: Event = (
                ActivityTimedOut(seq, attempt, timed_out, retrying, delay) if timed_out
                else ActivityFailed(seq, attempt, error, retrying, delay))
            events.append((failure, _now()))
            if delay is None:
                return events
            await asyncio.sleep(delay)

    def _info(self, instance: WorkflowInstance, scheduled: ActivityScheduled, seq: int,
              attempt: int, namespace: str, timeout: float | None) -> ActivityInfo:
        workflow = instance.info
        deadline = None if timeout is None else datetime.now(UTC).timestamp() + timeout
        return ActivityInfo(
            run_id=instance.run_id,
            activity_type=scheduled.activity_type,
            activity_id=seq,
            attempt=attempt,
            task_id=0,
            namespace=namespace,
            queue=scheduled.queue,
            deadline=None if deadline is None else datetime.fromtimestamp(deadline, UTC),
            workflow_id=workflow.workflow_id if workflow else "",
            workflow_type=workflow.workflow_type if workflow else "",
            is_local=True,
        )

    async def _attempt(self, definition: ActivityDefinition, info: ActivityInfo,
                       args: list[Any], timeout: float | None) -> Any:
        ctx = ActivityContext(info)
        values = decode_args(definition.fn, list(args), skip=1)
        try:
            async with asyncio.timeout(timeout) as limit:
                if definition.is_async:
                    result = await definition.fn(ctx, *values)
                else:
                    call = functools.partial(definition.fn, ctx, *values)
                    result = await asyncio.get_running_loop().run_in_executor(
                        self.threads, contextvars.copy_context().run, call)
        except TimeoutError:
            if not limit.expired():
                raise  # the activity's own TimeoutError: an ordinary failure
            ctx.cancel("the local activity timed out", for_good=True)  # a thread may listen
            raise _TimedOut() from None
        return serde.check(result, what=f"result of activity {definition.name}")


    async def _in_transaction(self, definition: ActivityDefinition, info: ActivityInfo,
                              args: list[Any], conn: AsyncConnection[Any]) -> Any:
        """One attempt of a transactional step, in a savepoint of the decision's
        transaction: a failed attempt leaves nothing behind."""
        values = decode_args(definition.fn, list(args), skip=1)
        async with conn.transaction():
            result = await definition.fn(TransactionContext(info, conn), *values)
        return serde.check(result, what=f"result of step {definition.name}")


STEP_LOCK_TIMEOUT = 10  # seconds a transactional step's statement waits for a row lock
STEP_STATEMENT_TIMEOUT = 60  # seconds one statement of a transactional step may run


class DecisionTransaction:
    """A connection in a transaction, opened by a workflow task's first transactional
    step; the task's decision is committed in it, so the steps' SQL and the record of
    their results commit together or not at all."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool
        self._conn: AsyncConnection[Any] | None = None
        self._lease: Any = None
        self._transaction: Any = None

    @property
    def active(self) -> bool:
        return self._conn is not None

    async def connection(self) -> AsyncConnection[Any]:
        if self._conn is None:
            lease = self.pool.connection()
            conn = await lease.__aenter__()
            try:
                transaction = conn.transaction()
                await transaction.__aenter__()
                # a step waiting on another's lock, or a runaway statement, fails its
                # attempt instead of holding the workflow task (and this connection)
                await conn.execute(f"SET LOCAL lock_timeout = '{STEP_LOCK_TIMEOUT}s'")
                await conn.execute(f"SET LOCAL statement_timeout = '{STEP_STATEMENT_TIMEOUT}s'")
            except BaseException:
                await lease.__aexit__(None, None, None)
                raise
            self._lease, self._transaction, self._conn = lease, transaction, conn
        return self._conn

    async def finish(self, *, commit: bool) -> None:
        """Commit (or roll back) and give the connection back; a no-op once finished."""
        if self._conn is None:
            return
        self._conn = None
        try:
            if commit:
                await self._transaction.__aexit__(None, None, None)
            else:
                abandon = _Abandoned()
                await self._transaction.__aexit__(type(abandon), abandon, None)
        finally:
            await self._lease.__aexit__(None, None, None)


class _Abandoned(Exception):
    """Rolls a decision's transaction back (its decision was not committed)."""


def _transactional(instance: WorkflowInstance, seq: int) -> bool:
    event = instance.events[seq - 1].event
    return isinstance(event, ActivityScheduled) and bool(event.options.get("transaction"))


class _TimedOut(Exception):
    """The attempt ran out of time (its start-to-close or the activity's budget)."""


def _now() -> datetime:
    return store_clock.engine_time(datetime.now(UTC))  # (skewed only in time-skipping tests)
