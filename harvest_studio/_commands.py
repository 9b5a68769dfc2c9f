"""The command layer: one function per operation, shared by every front end.

The ``harvest`` CLI, the ``%harvest`` magics and the management HTTP API are thin shells
over these functions. A command takes an :class:`~harvest_studio.AsyncClient` (or, for the
``db`` commands, a database URL) and plain arguments, checks its input before it touches the
database, and returns data: a dataclass with a ``to_json()`` method or an engine object
(:class:`~harvest_studio.RunInfo`, :class:`~harvest_studio.RunPage`). Commands never print.

Errors are the typed :class:`~harvest_studio.HarvestError` family; front ends map
:class:`~harvest_studio.UsageError` subclasses to "usage" (CLI exit 2, HTTP 400) and the
rest to "failure".
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from . import _serde
from ._client import TERMINAL_STATUSES, AsyncClient, RunInfo, RunPage
from ._database import describe_url, ensure_migrated, migration_status
from ._definitions import ActivityDefinition, WorkflowDefinition
from ._durations import Duration, to_seconds
from ._errors import (
    DurationError,
    RunNotFoundError,
    UsageError,
    WorkflowFailedError,
)
from ._events import HistoryEvent

RUN_STATUSES = ("RUNNING", *TERMINAL_STATUSES)

# The client's signal_with_start, given a start idempotency key that already started a run
# which has since ended, returns that run and drops the signal without an error.
SIGNAL_WITH_KEY = (
    "an idempotency key cannot be combined with signal-with-start: once the first run has "
    "ended, a repeat would return it without delivering the signal"
)


class BadTimeError(UsageError):
    """A point in time that is neither ISO-8601 nor a duration ("2h" = two hours ago)."""

    code = "bad_time"


class AppLoadError(UsageError):
    """A worker module cannot be imported or holds no workflow or activity."""

    code = "bad_app_module"


# ---------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DbStatus:
    """Schema state of one database; ``migrated_now`` lists what ``db_migrate`` applied."""

    url: str
    applied: list[dict[str, Any]]
    pending: list[dict[str, Any]]
    migrated_now: list[dict[str, Any]] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        return not self.pending

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "up_to_date": self.up_to_date,
            "applied": self.applied,
            "pending": self.pending,
            "migrated_now": self.migrated_now,
        }


@dataclass(frozen=True)
class StartedRun:
    """What ``start`` (or ``signal_with_start``) did: the ids to follow the run by.

    For a signal-with-start, ``signal`` names the signal and ``started`` says whether a new
    run was started (False: the open run of the id was only signalled).
    """

    workflow_id: str
    run_id: str
    workflow_type: str
    namespace: str
    signal: str | None = None
    started: bool = True

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "workflow_id": self.workflow_id,
            "run_id": self.run_id,
            "workflow_type": self.workflow_type,
            "namespace": self.namespace,
            "status": "RUNNING",
        }
        if self.signal is not None:
            data["signal"] = self.signal
            data["started"] = self.started
        return data


@dataclass(frozen=True)
class RunAction:
    """What ``signal``, ``cancel``, ``terminate``, ``pause`` or ``resume`` did to one run.

    ``changed`` is False for a no-op: a duplicate signal idempotency key, a cancel already
    requested, pausing a paused run, resuming a run that is not paused. ``paused`` is
    whether the run is paused after the action (a paused run sees signals and cancel
    requests only once resumed).
    """

    action: str
    run_id: str
    workflow_id: str
    workflow_type: str
    changed: bool
    reason: str | None = None
    signal: str | None = None
    idempotency_key: str | None = None
    paused: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "action": self.action,
            "run_id": self.run_id,
            "workflow_id": self.workflow_id,
            "workflow_type": self.workflow_type,
            "changed": self.changed,
        }
        if self.action == "signal":
            data["signal"] = self.signal
            data["idempotency_key"] = self.idempotency_key
        else:
            data["reason"] = self.reason
        data["paused"] = self.paused
        return data


@dataclass(frozen=True)
class RunResult:
    """How a run ended: ``status`` is COMPLETED (``result`` set) or FAILED/TIMED_OUT
    (``error`` set)."""

    workflow_id: str
    run_id: str
    workflow_type: str
    status: str
    result: Any = None
    error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "COMPLETED"

    def to_json(self) -> dict[str, Any]:
        return {
            "workflow_id": self.workflow_id,
            "run_id": self.run_id,
            "workflow_type": self.workflow_type,
            "status": self.status,
            "result": self.result,
            "error": self.error,
        }


@dataclass(frozen=True)
class RunHistory:
    """Events of one run, oldest first. ``next_after_seq`` is set when ``limit`` cut the
    list short: pass it as ``after_seq`` for the next page."""

    run_id: str
    workflow_id: str
    workflow_type: str
    status: str
    events: list[HistoryEvent]
    next_after_seq: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "workflow_id": self.workflow_id,
            "workflow_type": self.workflow_type,
            "status": self.status,
            "events": [e.to_json() for e in self.events],
            "next_after_seq": self.next_after_seq,
        }


@dataclass(frozen=True)
class App:
    """The definitions a worker module exposes."""

    module: str
    workflows: list[WorkflowDefinition]
    activities: list[ActivityDefinition]

    def to_json(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "workflows": [w.name for w in self.workflows],
            "activities": [a.name for a in self.activities],
        }


# ---------------------------------------------------------------------------------------
# input parsing shared by front ends
# ---------------------------------------------------------------------------------------
def parse_json_args(texts: Sequence[str]) -> list[Any]:
    """Parse each text as one JSON value (``'42'``, ``'"ada"'``, ``'{"a": 1}'``)."""
    return [_serde.loads_arg(t, what=f"argument {i} ({t!r})") for i, t in enumerate(texts, 1)]


def parse_payload(text: str | None, *, what: str = "signal payload") -> Any:
    """One JSON value from the command line; ``None`` (no text given) stays ``None``."""
    return None if text is None else _serde.loads_arg(text, what=f"{what} ({text!r})")


def parse_time(value: datetime | str, *, now: datetime | None = None) -> datetime:
    """An aware datetime from a datetime, an ISO-8601 text, or a duration meaning "ago".

    Naive values are taken as local time. ``parse_time("90m")`` is 90 minutes ago.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.astimezone()
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        pass
    else:
        return moment if moment.tzinfo is not None else moment.astimezone()
    try:
        ago = to_seconds(text)
    except DurationError:
        raise BadTimeError(
            f"not a time: {value!r} (use ISO-8601 like 2026-01-31T12:00 or an age like 2h)"
        ) from None
    return (now or datetime.now(UTC)) - timedelta(seconds=ago)


def _statuses(status: str | Sequence[str] | None) -> list[str]:
    raw = [status] if isinstance(status, str) else list(status or [])
    found: list[str] = []
    for item in raw:
        for part in item.split(","):
            name = part.strip().upper()
            if not name:
                continue
            if name not in RUN_STATUSES:
                raise UsageError(f"unknown status {part.strip()!r}; use one of {RUN_STATUSES}")
            if name not in found:
                found.append(name)
    return found


# ---------------------------------------------------------------------------------------
# db
# ---------------------------------------------------------------------------------------
async def db_status(url: str) -> DbStatus:
    """Which migrations are applied and which are pending (reads only)."""
    status = await migration_status(url)
    return DbStatus(describe_url(url), status["applied"], status["pending"])


async def db_migrate(url: str) -> DbStatus:
    """Apply pending migrations and report the resulting state."""
    done = await ensure_migrated(url)
    status = await migration_status(url)
    return DbStatus(
        describe_url(url),
        status["applied"],
        status["pending"],
        [{"version": m.version, "name": m.name} for m in done],
    )


# ---------------------------------------------------------------------------------------
# runs
# ---------------------------------------------------------------------------------------
async def start(
    client: AsyncClient,
    workflow: str,
    args: Sequence[Any] = (),
    *,
    id: str | None = None,
    id_reuse_policy: str = "allow_duplicate",
    idempotency_key: str | None = None,
    execution_timeout: Duration | None = None,
    queue: str | None = None,
    force: bool = False,
) -> StartedRun:
    """Start a run of the workflow type named ``workflow`` with ``args`` (JSON values).

    Everything is checked before anything is written: an unknown type raises
    :class:`~harvest_studio.UnknownWorkflowError` (unless ``force``), bad arguments
    :class:`~harvest_studio.PayloadError`, a taken id
    :class:`~harvest_studio.WorkflowAlreadyStartedError`.
    """
    if not workflow:
        raise UsageError("a workflow name is required")
    handle = await client.start(
        workflow,
        *args,
        id=id,
        id_reuse_policy=id_reuse_policy,
        idempotency_key=idempotency_key,
        execution_timeout=execution_timeout,
        queue=queue,
        force=force,
    )
    assert handle.run_id is not None
    return StartedRun(handle.workflow_id, handle.run_id, workflow, client.namespace)


async def signal_with_start(
    client: AsyncClient,
    workflow: str,
    args: Sequence[Any] = (),
    *,
    id: str,
    signal: str,
    signal_payload: Any = None,
    id_reuse_policy: str = "allow_duplicate",
    idempotency_key: str | None = None,
    execution_timeout: Duration | None = None,
    queue: str | None = None,
    force: bool = False,
) -> StartedRun:
    """Signal the open run of workflow id ``id``, or start ``workflow`` with ``args`` and the
    signal delivered before its code first runs.

    ``started`` in the result says which happened (judged against the run that was open
    just before the call). Input is checked before anything is written, as for ``start``.
    An ``idempotency_key`` is refused (:data:`SIGNAL_WITH_KEY`).
    """
    if not workflow:
        raise UsageError("a workflow name is required")
    if not id:
        raise UsageError("signal-with-start needs a workflow id")
    if idempotency_key is not None:
        raise UsageError(SIGNAL_WITH_KEY)
    check_signal(signal, signal_payload)
    try:
        before = await client.describe(id)
    except RunNotFoundError:
        before = None
    open_run = before.run_id if before is not None and before.status == "RUNNING" else None
    handle = await client.signal_with_start(
        workflow,
        *args,
        id=id,
        signal=signal,
        signal_payload=signal_payload,
        id_reuse_policy=id_reuse_policy,
        idempotency_key=idempotency_key,
        execution_timeout=execution_timeout,
        queue=queue,
        force=force,
    )
    assert handle.run_id is not None
    started = handle.run_id != open_run
    workflow_type = workflow
    if not started and before is not None:
        workflow_type = before.workflow_type
    return StartedRun(
        handle.workflow_id, handle.run_id, workflow_type, client.namespace, signal, started
    )


async def list_runs(
    client: AsyncClient,
    *,
    workflow_type: str | None = None,
    status: str | Sequence[str] | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    workflow_id: str | None = None,
    blocked: bool | None = None,
    limit: int = 50,
    page_token: str | None = None,
) -> RunPage:
    """Runs, newest first, filtered. ``status`` may be a list or comma-separated text (any
    case); ``since``/``until`` bound the start time (ISO-8601, or an age such as ``"2h"``)."""
    statuses = _statuses(status)
    started_after = parse_time(since) if since is not None else None
    started_before = parse_time(until) if until is not None else None
    return await client.list(
        workflow_type=workflow_type or None,
        status=statuses,
        started_after=started_after,
        started_before=started_before,
        workflow_id=workflow_id or None,
        blocked=blocked,
        limit=limit,
        page_token=page_token or None,
    )


async def show(client: AsyncClient, ref: str) -> RunInfo:
    """One run by run id or workflow id (the open, else the newest, run of that id)."""
    return await client.describe(ref)


async def history(
    client: AsyncClient, ref: str, *, after_seq: int = 0, limit: int | None = None
) -> RunHistory:
    """Events of a run with ``seq > after_seq``, at most ``limit`` of them."""
    if after_seq < 0:
        raise UsageError("after_seq must be >= 0")
    if limit is not None and limit < 1:
        raise UsageError("limit must be >= 1")
    info = await client.describe(ref)
    events = await client.history(info.run_id, after_seq=after_seq, limit=limit)
    more = limit is not None and len(events) == limit and events[-1].seq < info.events
    return RunHistory(
        run_id=info.run_id,
        workflow_id=info.workflow_id,
        workflow_type=info.workflow_type,
        status=info.status,
        events=events,
        next_after_seq=events[-1].seq if more else None,
    )


async def result(client: AsyncClient, ref: str, timeout: float | None = None) -> RunResult:
    """Wait for a run to end and say how it ended (a failed run is a result, not an error).

    Raises :class:`~harvest_studio.RunTimeoutError` if it is still running after ``timeout``
    seconds.
    """
    if timeout is not None and timeout < 0:
        raise UsageError("timeout must be >= 0")
    info = await client.describe(ref)
    try:
        value = await client.result(info.run_id, timeout)
    except WorkflowFailedError as exc:
        return RunResult(
            info.workflow_id, info.run_id, info.workflow_type, exc.status, error=exc.error
        )
    return RunResult(info.workflow_id, info.run_id, info.workflow_type, "COMPLETED", value)


# ---------------------------------------------------------------------------------------
# talking to running runs
# ---------------------------------------------------------------------------------------
def check_signal(name: str, payload: Any = None, idempotency_key: str | None = None) -> None:
    """Raise :class:`~harvest_studio.UsageError` (or ``PayloadError``) for a signal that
    cannot be sent: no name, an empty idempotency key, a payload that is not JSON."""
    if not name or not isinstance(name, str):
        raise UsageError("a signal needs a name")
    if idempotency_key is not None and not idempotency_key:
        raise UsageError("an idempotency key must not be empty")
    _serde.dumps(payload, what=f"payload of signal {name}")


async def signal(
    client: AsyncClient,
    ref: str,
    name: str,
    payload: Any = None,
    idempotency_key: str | None = None,
) -> RunAction:
    """Send signal ``name`` with a JSON ``payload`` to a running run.

    A repeated ``idempotency_key`` is a no-op (``changed`` False). Raises
    :class:`~harvest_studio.RunNotFoundError`, :class:`~harvest_studio.RunNotRunningError`
    (the run has ended) or, before anything is written, :class:`~harvest_studio.PayloadError`.
    """
    check_signal(name, payload, idempotency_key)
    info = await client.describe(ref)
    sent = await client.signal(info.run_id, name, payload, idempotency_key=idempotency_key)
    return RunAction(
        "signal", info.run_id, info.workflow_id, info.workflow_type, sent,
        signal=name, idempotency_key=idempotency_key, paused=info.paused,
    )


async def cancel(client: AsyncClient, ref: str, reason: str | None = None) -> RunAction:
    """Ask a running run to cancel: its code sees ``asyncio.CancelledError``, may compensate,
    and the run ends CANCELLED. ``changed`` is False if cancellation was already requested."""
    info = await client.describe(ref)
    asked = await client.cancel(info.run_id, reason)
    return RunAction(
        "cancel", info.run_id, info.workflow_id, info.workflow_type, asked,
        reason=reason, paused=info.paused,
    )


async def terminate(client: AsyncClient, ref: str, reason: str | None = None) -> RunAction:
    """End a running run at once (TERMINATED); none of its code runs."""
    info = await client.describe(ref)
    await client.terminate(info.run_id, reason)
    return RunAction(
        "terminate", info.run_id, info.workflow_id, info.workflow_type, True, reason=reason
    )


async def pause(client: AsyncClient, ref: str, reason: str | None = None) -> RunAction:
    """Hold a running run's workflow tasks until ``resume``; ``changed`` is False if it
    was already paused."""
    info = await client.describe(ref)
    done = await client.pause(info.run_id, reason)
    return RunAction(
        "pause", info.run_id, info.workflow_id, info.workflow_type, done,
        reason=reason, paused=True,
    )


async def resume(client: AsyncClient, ref: str, reason: str | None = None) -> RunAction:
    """Undo ``pause``; ``changed`` is False if the run was not paused."""
    info = await client.describe(ref)
    done = await client.resume(info.run_id, reason)
    return RunAction(
        "resume", info.run_id, info.workflow_id, info.workflow_type, done,
        reason=reason, paused=False,
    )


# ---------------------------------------------------------------------------------------
# worker apps
# ---------------------------------------------------------------------------------------
def load_app(module: str, *, search_cwd: bool = True) -> App:
    """Import ``module`` and collect every workflow and activity among its attributes.

    With ``search_cwd`` the current directory is put on ``sys.path`` first, so
    ``harvest worker app`` finds ``./app.py`` as ``python -m`` would.
    """
    if search_cwd and "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise AppLoadError(f"cannot import {module!r}: {exc}") from None
    except Exception as exc:
        raise AppLoadError(
            f"importing {module!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    workflows: dict[str, WorkflowDefinition] = {}
    activities: dict[str, ActivityDefinition] = {}
    for value in vars(mod).values():
        if isinstance(value, WorkflowDefinition):
            workflows.setdefault(value.name, value)
        elif isinstance(value, ActivityDefinition):
            activities.setdefault(value.name, value)
    if not workflows and not activities:
        raise AppLoadError(f"module {module!r} defines no @workflow or @activity")
    return App(module, list(workflows.values()), list(activities.values()))
