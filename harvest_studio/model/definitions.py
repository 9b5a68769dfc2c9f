"""``@workflow`` and ``@activity``: turn plain functions into registered definitions."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from .durations import Duration, optional_seconds
from .errors import UsageError
from .retry import RetryPolicy

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_QUEUE = "default"
DEFAULT_START_TO_CLOSE = 600.0


def fingerprint(fn: Callable[..., Any]) -> str:
    """A short hash of a function's code: its source if available, else its bytecode."""
    try:
        text = inspect.getsource(fn).encode()
    except (OSError, TypeError):
        code = fn.__code__
        text = code.co_code + repr(code.co_consts).encode() + repr(code.co_names).encode()
    return hashlib.sha256(text).hexdigest()[:16]


@dataclass(frozen=True)
class WorkflowDefinition:
    name: str
    fn: Callable[..., Any]
    fingerprint: str
    queue: str = DEFAULT_QUEUE
    execution_timeout: float | None = None
    failure_exceptions: tuple[type[BaseException], ...] = ()
    """exception types that fail a run when its code lets them escape (besides
    ``ApplicationError`` and uncaught activity and child failures); others block it"""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def arity(self) -> tuple[int, int | None] | None:
        """How many arguments a start takes: ``(least, most)`` (``most`` None: any number);
        None when the code does not say (it is recorded with the type, so a start by name
        is checked too)."""
        try:
            params = list(inspect.signature(self.fn).parameters.values())[1:]
        except (TypeError, ValueError):
            return None
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        least = sum(1 for p in positional if p.default is p.empty)
        varargs = any(p.kind is p.VAR_POSITIONAL for p in params)
        return least, None if varargs else len(positional)

    def check_args(self, args: Sequence[Any]) -> None:
        """Raise a :class:`UsageError` for start arguments this workflow cannot take (too
        many or too few for its parameters; a DAG checks its params); called before a
        start writes anything."""
        arity = self.arity()
        if arity is not None:
            check_arity(self.name, arity, len(args))

    def details(self) -> dict[str, Any] | None:
        """What is recorded with the type beyond its code (a DAG's graph), as JSON."""
        return None


def check_arity(name: str, arity: tuple[int, int | None], given: int) -> None:
    """Refuse a start of workflow ``name`` with ``given`` arguments if its code takes
    ``arity`` = (least, most) and ``given`` is outside it."""
    least, most = arity
    if given >= least and (most is None or given <= most):
        return
    wanted = f"{least}" if least == most else (
        f"at least {least}" if most is None else f"{least} to {most}")
    raise UsageError(f"workflow {name} takes {wanted} argument(s), got {given}")


PRIORITY_RANGE = (-1000, 1000)


def check_priority(priority: int | None) -> None:
    """Raise :class:`UsageError` unless ``priority`` is None or an int in PRIORITY_RANGE."""
    low, high = PRIORITY_RANGE
    if priority is not None and (
        isinstance(priority, bool) or not isinstance(priority, int) or not low <= priority <= high
    ):
        raise UsageError(f"priority must be an int from {low} to {high}, got {priority!r}")


@dataclass(frozen=True)
class ActivityOptions:
    start_to_close: float | None = DEFAULT_START_TO_CLOSE
    schedule_to_start: float | None = None
    schedule_to_close: float | None = None
    heartbeat_timeout: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    queue: str = DEFAULT_QUEUE
    max_concurrent: int | None = None
    priority: int | None = None

    def to_json(self) -> dict[str, Any]:
        extra = {} if self.priority is None else {"priority": self.priority}
        return extra | {
            "start_to_close": self.start_to_close,
            "schedule_to_start": self.schedule_to_start,
            "schedule_to_close": self.schedule_to_close,
            "heartbeat_timeout": self.heartbeat_timeout,
            "retry": self.retry.to_json(),
            "max_concurrent": self.max_concurrent,
        }


@dataclass(frozen=True)
class ActivityDefinition:
    name: str
    fn: Callable[..., Any]
    fingerprint: str
    options: ActivityOptions
    is_async: bool
    transactional: bool = False
    """a transactional step (``@transaction``): run in the transaction of the workflow task
    that records it"""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


def _exception_types(types: Sequence[type[BaseException]]) -> tuple[type[BaseException], ...]:
    found = tuple(types)
    for t in found:
        if not (isinstance(t, type) and issubclass(t, Exception)):
            raise UsageError(f"failure_exceptions takes exception classes, got {t!r}")
    return found


def _check_name(name: str) -> str:
    if not name or len(name) > 200:
        raise UsageError(f"bad definition name {name!r}")
    return name


@overload
def workflow(fn: F, /) -> WorkflowDefinition: ...
@overload
def workflow(
    *, name: str | None = None, queue: str = ..., execution_timeout: Duration | None = ...,
    failure_exceptions: Sequence[type[BaseException]] = ...,
) -> Callable[[F], WorkflowDefinition]: ...


def workflow(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    queue: str = DEFAULT_QUEUE,
    execution_timeout: Duration | None = None,
    failure_exceptions: Sequence[type[BaseException]] = (),
) -> Any:
    """Declare a workflow: an ``async def f(ctx, *args)`` replayed from its history.

    Example::

        @hs.workflow
        async def onboarding(ctx: hs.WorkflowContext, user_id: int) -> str:
            await ctx.execute_activity(send_welcome_email, user_id)
            await ctx.sleep("3d")
            return "done"

    Options: ``name`` (defaults to the function's name), ``queue`` the workflow tasks go
    to, ``execution_timeout`` after which the run ends ``TIMED_OUT``,
    ``failure_exceptions``: exception types that fail the run when the code lets them
    escape. By default only :class:`ApplicationError` and activity and child failures the
    code does not catch fail it; any other exception is taken for a bug and *blocks* the
    run (retried with backoff, so fixed code lets it go on).
    """

    def wrap(f: Callable[..., Any]) -> WorkflowDefinition:
        if not inspect.iscoroutinefunction(f):
            raise UsageError(f"@workflow needs an async def function, got {f!r}")
        return WorkflowDefinition(
            name=_check_name(name or f.__name__),
            fn=f,
            fingerprint=fingerprint(f),
            queue=queue,
            execution_timeout=optional_seconds(execution_timeout),
            failure_exceptions=_exception_types(failure_exceptions),
        )

    return wrap(fn) if fn is not None else wrap


@overload
def activity(fn: F, /) -> ActivityDefinition: ...
@overload
def activity(
    *,
    name: str | None = None,
    start_to_close: Duration | None = ...,
    schedule_to_start: Duration | None = ...,
    schedule_to_close: Duration | None = ...,
    heartbeat_timeout: Duration | None = ...,
    retry: RetryPolicy | None = ...,
    queue: str = ...,
    max_concurrent: int | None = ...,
    priority: int | None = ...,
) -> Callable[[F], ActivityDefinition]: ...


def activity(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    start_to_close: Duration | None = DEFAULT_START_TO_CLOSE,
    schedule_to_start: Duration | None = None,
    schedule_to_close: Duration | None = None,
    heartbeat_timeout: Duration | None = None,
    retry: RetryPolicy | None = None,
    queue: str = DEFAULT_QUEUE,
    max_concurrent: int | None = None,
    priority: int | None = None,
) -> Any:
    """Declare an activity: a sync or async ``f(ctx, *args)`` run at least once.

    Example::

        @hs.activity(start_to_close="30s", heartbeat_timeout="10s",
                     retry=hs.RetryPolicy(max_attempts=5, non_retryable=["ValueError"]))
        def send_welcome_email(ctx: hs.ActivityContext, user_id: int) -> dict:
            ctx.heartbeat({"progress": 1})
            return {"sent": True, "key": ctx.idempotency_key}

    Timeouts: ``start_to_close`` bounds one attempt, ``schedule_to_start`` the wait in the
    queue, ``schedule_to_close`` everything including retries, ``heartbeat_timeout`` the
    gap between heartbeats. ``max_concurrent`` caps running attempts of this activity type
    across all workers. ``priority`` orders its attempts within their queue (higher first;
    by default the run's priority).
    """
    if max_concurrent is not None and max_concurrent < 1:
        raise UsageError("max_concurrent must be >= 1")
    check_priority(priority)
    options = ActivityOptions(
        start_to_close=optional_seconds(start_to_close),
        schedule_to_start=optional_seconds(schedule_to_start),
        schedule_to_close=optional_seconds(schedule_to_close),
        heartbeat_timeout=optional_seconds(heartbeat_timeout),
        retry=retry or RetryPolicy(),
        queue=queue,
        max_concurrent=max_concurrent,
        priority=priority,
    )

    def wrap(f: Callable[..., Any]) -> ActivityDefinition:
        return ActivityDefinition(
            name=_check_name(name or f.__name__),
            fn=f,
            fingerprint=fingerprint(f),
            options=options,
            is_async=inspect.iscoroutinefunction(f),
        )

    return wrap(fn) if fn is not None else wrap


def transaction(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    retry: RetryPolicy | None = None,
) -> Any:
    """Declare a transactional step (DBOS's ``@transaction``): an ``async def f(tx, *args)``
    whose SQL (``await tx.conn.execute(...)``) runs on the engine's PostgreSQL in the same
    transaction that records the step's completion, so its database effects happen exactly
    once. Workflow code runs it with ``await ctx.execute_transaction(f, *args)``.

    Example::

        @hs.transaction
        async def reserve_seat(tx: hs.TransactionContext, flight: str) -> int:
            cur = await tx.conn.execute(
                "UPDATE app.flights SET free = free - 1 WHERE id = %s AND free > 0"
                " RETURNING free", (flight,))
            row = await cur.fetchone()
            if row is None:
                raise hs.ApplicationError("sold out", non_retryable=True)
            return row[0]

    A failed attempt's SQL is rolled back (to a savepoint) before the next; ``retry``
    defaults to :class:`RetryPolicy`'s defaults.
    """

    def wrap(f: Callable[..., Any]) -> ActivityDefinition:
        if not inspect.iscoroutinefunction(f):
            raise UsageError(f"@transaction needs an async def function, got {f!r}")
        return ActivityDefinition(
            name=_check_name(name or f.__name__),
            fn=f,
            fingerprint=fingerprint(f),
            options=ActivityOptions(start_to_close=None, retry=retry or RetryPolicy()),
            is_async=True,
            transactional=True,
        )

    return wrap(fn) if fn is not None else wrap
