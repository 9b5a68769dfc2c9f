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
import re
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..client import TERMINAL_STATUSES, AsyncClient, ResetResult, RunInfo, RunPage
from ..model import reset_points, serde
from ..model.definitions import ActivityDefinition, WorkflowDefinition
from ..model.durations import Duration, to_seconds
from ..model.errors import (
    DurationError,
    HarvestError,
    NamespaceNotFoundError,
    RunNotFoundError,
    UsageError,
    WorkflowFailedError,
)
from ..model.events import ActivityScheduled, ChildWorkflowStarted, HistoryEvent
from ..model.filters import BUILTIN_FIELDS, FilterError, Node, parse_filter
from ..store.connection import describe_url, ensure_migrated, migration_status

RUN_STATUSES = ("RUNNING", *TERMINAL_STATUSES)
RESET_TARGETS = reset_points.RESET_TARGETS
REAPPLY_MODES = reset_points.REAPPLY_MODES

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


class NoResetPointError(HarvestError):
    """The run's state offers no point to reset to (or no failed activity to retry from).

    Not a usage error: the same command works on a run in another state.
    """

    code = "no_reset_point"


class InvalidResetPointError(HarvestError):
    """The asked-for boundary is not a completed point; nothing was written."""

    code = "invalid_reset_point"


class NamespaceMissingError(HarvestError):
    """``namespace delete`` of a namespace that does not exist (a failure, not a usage
    error: the name is well-formed, there is just nothing by that name)."""

    code = "namespace_not_found"


# Signal-with-start signals the open run of the id; it never replaces it.
SIGNAL_WITH_TERMINATE = (
    "id reuse policy terminate_if_running cannot be combined with signal-with-start: the "
    "open run of the id is signalled, not replaced"
)


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
    run was started (False: the open run of the id was only signalled). For a plain start,
    ``started`` False means the open run of the id was returned instead of a new one, and
    ``reused`` says why: ``"use_existing"`` (the id conflict policy) or
    ``"idempotency_key"`` (the key started it). ``replaced_run_id`` is the open run that
    ``terminate_if_running`` terminated; ``rerun_of`` the run that ``rerun`` repeated.
    """

    workflow_id: str
    run_id: str
    workflow_type: str
    namespace: str
    signal: str | None = None
    started: bool = True
    replaced_run_id: str | None = None
    rerun_of: str | None = None
    reused: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "workflow_id": self.workflow_id,
            "run_id": self.run_id,
            "workflow_type": self.workflow_type,
            "namespace": self.namespace,
            "status": "RUNNING",
        }
        if self.signal is not None or not self.started:
            data["started"] = self.started
        if self.reused is not None:
            data["reused"] = self.reused
        if self.signal is not None:
            data["signal"] = self.signal
        if self.replaced_run_id is not None:
            data["replaced_run_id"] = self.replaced_run_id
        if self.rerun_of is not None:
            data["rerun_of"] = self.rerun_of
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


@dataclass(frozen=True)
class QueryAnswer:
    """A query handler's answer (nothing was written to the run)."""

    run_id: str
    workflow_id: str
    workflow_type: str
    status: str
    query: str
    args: list[Any]
    result: Any

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "workflow_id": self.workflow_id,
            "workflow_type": self.workflow_type,
            "status": self.status,
            "query": self.query,
            "args": self.args,
            "result": self.result,
        }


@dataclass(frozen=True)
class UpdateOutcome:
    """An admitted update's result. ``update_id`` fetches it again; repeating it does not
    apply the update twice."""

    run_id: str
    workflow_id: str
    workflow_type: str
    update: str
    update_id: str
    args: list[Any]
    result: Any

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "workflow_id": self.workflow_id,
            "workflow_type": self.workflow_type,
            "update": self.update,
            "update_id": self.update_id,
            "args": self.args,
            "result": self.result,
        }


@dataclass(frozen=True)
class ResetReport:
    """What ``reset`` (``action`` "reset") or ``retry`` (``action`` "retry") found and did.

    ``applied`` is True when a new run was made (``new_run_id``); a dry run or an invalid
    boundary writes nothing, and ``valid_points`` / ``nearest_valid_*`` say where to go.
    """

    action: str
    run_id: str
    workflow_id: str
    workflow_type: str
    status: str
    boundary: int
    boundary_event: str
    valid: bool
    reason: str | None
    nearest_valid_before: int | None
    nearest_valid_after: int | None
    valid_points: tuple[int, ...]
    later_signals: int
    reapply_signals: str
    dry_run: bool
    applied: bool
    new_run_id: str | None = None

    @property
    def source_terminated(self) -> bool:
        """A running source ends TERMINATED when a reset is applied."""
        return self.applied and self.status == "RUNNING"

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "run_id": self.run_id,
            "workflow_id": self.workflow_id,
            "workflow_type": self.workflow_type,
            "status": self.status,
            "boundary": self.boundary,
            "boundary_event": self.boundary_event,
            "valid": self.valid,
            "reason": self.reason,
            "nearest_valid_before": self.nearest_valid_before,
            "nearest_valid_after": self.nearest_valid_after,
            "valid_points": list(self.valid_points),
            "signals_after_boundary": self.later_signals,
            "reapply_signals": self.reapply_signals,
            "dry_run": self.dry_run,
            "applied": self.applied,
            "new_run_id": self.new_run_id,
        }


@dataclass(frozen=True)
class RunTree:
    """A run and its descendants in depth-first order (each child under its parent,
    siblings oldest first); ``depths[i]`` is the depth of ``runs[i]`` (0 = the run)."""

    runs: list[RunInfo]
    depths: list[int]

    @property
    def root(self) -> RunInfo:
        return self.runs[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.root.run_id,
            "workflow_id": self.root.workflow_id,
            "runs": [{**r.to_json(), "depth": d} for r, d in zip(self.runs, self.depths,
                                                                  strict=True)],
        }


@dataclass(frozen=True)
class RunChain:
    """The continue-as-new chain ``ref`` belongs to, oldest first; ``ref_run_id`` is the
    run the command was given (or resolved to)."""

    workflow_id: str
    ref_run_id: str
    runs: list[RunInfo]

    @property
    def last(self) -> RunInfo:
        return self.runs[-1]

    def to_json(self) -> dict[str, Any]:
        return {
            "workflow_id": self.workflow_id,
            "ref_run_id": self.ref_run_id,
            "runs": [r.to_json() for r in self.runs],
        }


@dataclass(frozen=True)
class NamespaceInfo:
    name: str
    description: str | None
    created_at: datetime | None
    runs: int
    running: int

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "runs": self.runs,
            "running": self.running,
        }


@dataclass(frozen=True)
class NamespaceList:
    namespaces: list[NamespaceInfo]

    def to_json(self) -> dict[str, Any]:
        return {"namespaces": [n.to_json() for n in self.namespaces]}


@dataclass(frozen=True)
class NamespaceAction:
    """What ``namespace create`` / ``namespace delete`` did; ``changed`` is False when
    ``create`` found the namespace already there."""

    action: str
    name: str
    changed: bool
    description: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "name": self.name,
            "changed": self.changed,
            "description": self.description,
        }


# ---------------------------------------------------------------------------------------
# input parsing shared by front ends
# ---------------------------------------------------------------------------------------
def parse_json_args(texts: Sequence[str]) -> list[Any]:
    """Parse each text as one JSON value (``'42'``, ``'"ada"'``, ``'{"a": 1}'``)."""
    return [serde.loads_arg(t, what=f"argument {i} ({t!r})") for i, t in enumerate(texts, 1)]


def parse_payload(text: str | None, *, what: str = "signal payload") -> Any:
    """One JSON value from the command line; ``None`` (no text given) stays ``None``."""
    return None if text is None else serde.loads_arg(text, what=f"{what} ({text!r})")


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


_FILTER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_FILTER_KEYWORDS = ("and", "or", "not", "in", "true", "false", "null")


# A filter that parses but compares a built-in field with a value it cannot take.
BadFilterValueError = FilterError


def check_search_attribute_name(name: str) -> None:
    """Refuse a key the filter language could never name: not a filter word, or a
    built-in field (``status``, ``type``, ``id``...), which a filter reads as the built-in."""
    if not isinstance(name, str) or not _FILTER_NAME.fullmatch(name):
        raise UsageError(
            f"bad search attribute name {name!r}: use a letter or _ first, then letters, "
            "digits, _, . or - (a filter could not name it otherwise)"
        )
    if name in BUILTIN_FIELDS or name.lower() in _FILTER_KEYWORDS:
        raise UsageError(
            f"search attribute name {name!r} is reserved: a filter would read it as the "
            "built-in field or keyword"
        )


def parse_search_attributes(texts: Sequence[str]) -> dict[str, Any] | None:
    """``["customer=\"acme\"", "amount=150"]`` -> ``{"customer": "acme", "amount": 150}``.

    Each text is ``KEY=JSON``; a key may be given once. ``None`` for no texts.
    """
    if not texts:
        return None
    found: dict[str, Any] = {}
    for text in texts:
        key, sep, raw = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(
                f"search attribute {text!r} is not KEY=JSON (e.g. customer='\"acme\"', "
                "amount=150)"
            )
        check_search_attribute_name(key)
        if key in found:
            raise UsageError(f"search attribute {key!r} is given twice")
        found[key] = serde.loads_arg(raw, what=f"search attribute {key} ({raw!r})")
    serde.dumps(found, what="search attributes")
    return found


def check_filter(text: str) -> Node:
    """Parse a ``list --query`` filter, built-in field values included; raises
    :class:`~._filters.FilterError` (a usage error, with the position)."""
    return parse_filter(text)


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
    id_conflict_policy: str = "fail",
    idempotency_key: str | None = None,
    execution_timeout: Duration | None = None,
    queue: str | None = None,
    force: bool = False,
    search_attributes: dict[str, Any] | None = None,
    memo: Any = None,
    start_delay: Duration | None = None,
) -> StartedRun:
    """Start a run of the workflow type named ``workflow`` with ``args`` (JSON values).

    Everything is checked before anything is written: an unknown type raises
    :class:`~harvest_studio.UnknownWorkflowError` (unless ``force``), bad arguments
    :class:`~harvest_studio.PayloadError`, a taken id
    :class:`~harvest_studio.WorkflowAlreadyStartedError`.

    While a run of ``id`` is open, ``id_conflict_policy="use_existing"`` returns it
    (``started`` False) and ``id_reuse_policy="terminate_if_running"`` terminates it and
    starts anew (``replaced_run_id`` names it).
    """
    if not workflow:
        raise UsageError("a workflow name is required")
    check_start_options(search_attributes, memo, start_delay)
    before = await _open_run(client, id) if id is not None else None
    handle = await client.start(
        workflow,
        *args,
        id=id,
        id_reuse_policy=id_reuse_policy,
        id_conflict_policy=id_conflict_policy,
        idempotency_key=idempotency_key,
        execution_timeout=execution_timeout,
        queue=queue,
        force=force,
        search_attributes=search_attributes,
        memo=memo,
        start_delay=start_delay,
    )
    assert handle.run_id is not None
    started = before is None or handle.run_id != before.run_id
    workflow_type = workflow if started or before is None else before.workflow_type
    replaced = (
        before.run_id
        if before is not None and started and id_reuse_policy == "terminate_if_running"
        else None
    )
    reused = None
    if not started:
        reused = "use_existing" if id_conflict_policy == "use_existing" else "idempotency_key"
    return StartedRun(
        handle.workflow_id, handle.run_id, workflow_type, client.namespace,
        started=started, replaced_run_id=replaced, reused=reused,
    )


def check_start_options(
    search_attributes: dict[str, Any] | None = None,
    memo: Any = None,
    start_delay: Duration | None = None,
) -> None:
    """Raise a :class:`~harvest_studio.UsageError` for start options that cannot be used."""
    if search_attributes is not None:
        if not isinstance(search_attributes, dict):
            raise UsageError("search attributes must be a JSON object of KEY: value")
        for key in search_attributes:
            check_search_attribute_name(key)
        serde.dumps(search_attributes, what="search attributes")
    if memo is not None:
        serde.dumps(memo, what="memo")
    if start_delay is not None:
        to_seconds(start_delay)


async def _open_run(client: AsyncClient, ref: str) -> RunInfo | None:
    try:
        info = await client.describe(ref)
    except RunNotFoundError:
        return None
    return info if info.status == "RUNNING" else None


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
    search_attributes: dict[str, Any] | None = None,
    memo: Any = None,
    start_delay: Duration | None = None,
) -> StartedRun:
    """Signal the open run of workflow id ``id``, or start ``workflow`` with ``args`` and the
    signal delivered before its code first runs.

    ``started`` in the result says which happened (judged against the run that was open
    just before the call). Input is checked before anything is written, as for ``start``.
    An ``idempotency_key`` is refused (:data:`SIGNAL_WITH_KEY`), and so is
    ``id_reuse_policy="terminate_if_running"`` (:data:`SIGNAL_WITH_TERMINATE`).
    """
    if not workflow:
        raise UsageError("a workflow name is required")
    if not id:
        raise UsageError("signal-with-start needs a workflow id")
    if idempotency_key is not None:
        raise UsageError(SIGNAL_WITH_KEY)
    if id_reuse_policy == "terminate_if_running":
        raise UsageError(SIGNAL_WITH_TERMINATE)
    check_signal(signal, signal_payload)
    check_start_options(search_attributes, memo, start_delay)
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
        search_attributes=search_attributes,
        memo=memo,
        start_delay=start_delay,
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
    query: str | None = None,
    limit: int = 50,
    page_token: str | None = None,
) -> RunPage:
    """Runs, newest first, filtered. ``status`` may be a list or comma-separated text (any
    case); ``since``/``until`` bound the start time (ISO-8601, or an age such as ``"2h"``);
    ``query`` is a filter (:func:`check_filter`), checked before the database is read."""
    if query is not None:
        check_filter(query)
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
        query=query,
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
    serde.dumps(payload, what=f"payload of signal {name}")


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


async def query(
    client: AsyncClient, ref: str, name: str, args: Sequence[Any] = (), *, timeout: float = 5.0
) -> QueryAnswer:
    """Ask a run (running or ended) query ``name`` with ``args``; writes nothing.

    Raises :class:`~harvest_studio.UnknownQueryError`, :class:`~harvest_studio.QueryError`
    (the handler raised) or :class:`~harvest_studio.QueryTimeoutError` (no worker serving
    the type answered), and before anything else
    :class:`~harvest_studio.PayloadError` for arguments that are not JSON.
    """
    check_call("query", name, args, timeout)
    info = await client.describe(ref)
    value = await client.query(info.run_id, name, *args, timeout=timeout)
    return QueryAnswer(
        info.run_id, info.workflow_id, info.workflow_type, info.status, name, list(args), value
    )


async def update(
    client: AsyncClient,
    ref: str,
    name: str,
    args: Sequence[Any] = (),
    *,
    update_id: str | None = None,
    timeout: float = 30.0,
) -> UpdateOutcome:
    """Send update ``name`` with ``args`` to a running run and wait for its result.

    Raises :class:`~harvest_studio.UpdateRejectedError` (the validator refused it, no
    handler, or the run has ended; nothing is written),
    :class:`~harvest_studio.UpdateFailedError` (the handler raised) or
    :class:`~harvest_studio.UpdateTimeoutError`. A repeated ``update_id`` returns the first
    outcome without applying the update again.
    """
    check_call("update", name, args, timeout)
    if update_id is not None and not update_id:
        raise UsageError("an update id must not be empty")
    chosen = update_id or str(uuid.uuid4())
    info = await client.describe(ref)
    value = await client.update(info.run_id, name, *args, update_id=chosen, timeout=timeout)
    return UpdateOutcome(
        info.run_id, info.workflow_id, info.workflow_type, name, chosen, list(args), value
    )


def check_call(kind: str, name: str, args: Sequence[Any], timeout: float) -> None:
    """Check a query or update before the database is touched."""
    if not name or not isinstance(name, str):
        raise UsageError(f"a{'n' if kind[0] in 'aeiou' else ''} {kind} needs a name")
    if timeout is None or timeout <= 0:
        raise UsageError("timeout must be > 0")
    serde.dumps(list(args), what=f"{kind} arguments")


async def reset(
    client: AsyncClient,
    ref: str,
    *,
    to_event: int | None = None,
    to: str | None = None,
    reapply_signals: str = "buffer",
    dry_run: bool = False,
    reason: str | None = None,
) -> ResetReport:
    """Reset a run to a completed boundary: ``to_event`` (an event number) or ``to``
    (``last_workflow_task`` or ``first_activity``).

    With ``dry_run``, or when the boundary is not valid, nothing is written and the report
    names the nearest valid points (``applied`` False). A named target the run does not
    have raises :class:`NoResetPointError`.
    """
    check_reset(to_event, to, reapply_signals)
    info = await client.describe(ref)
    history = await client.history(info.run_id)
    if to is not None:
        _check_named_target(history, to)
    outcome = await client.reset(
        info.run_id, to_event=to_event, to=to, reapply_signals=reapply_signals,
        dry_run=dry_run, reason=reason,
    )
    return _report("reset", info, history, outcome, reapply_signals, dry_run)


def check_reset(to_event: int | None, to: str | None, reapply_signals: str) -> None:
    """Check reset options before the database is touched."""
    if (to_event is None) == (to is None):
        raise UsageError("give exactly one of --to-event N or --to "
                         f"{'|'.join(RESET_TARGETS)}")
    if to_event is not None and (isinstance(to_event, bool) or to_event < 1):
        raise UsageError("the event number must be >= 1")
    if to is not None and to not in RESET_TARGETS:
        raise UsageError(f"unknown reset target {to!r}; use one of {', '.join(RESET_TARGETS)}")
    if reapply_signals not in REAPPLY_MODES:
        raise UsageError(
            f"reapply_signals must be one of {', '.join(REAPPLY_MODES)}, not {reapply_signals!r}"
        )


def _check_named_target(history: Sequence[HistoryEvent], to: str) -> None:
    if not reset_points.valid_points(history):
        raise NoResetPointError("this run has no valid reset point (work is open at every "
                                "point of its history)")
    if to == "first_activity" and not any(
        isinstance(e.event, ActivityScheduled) for e in history
    ):
        raise NoResetPointError("this run never scheduled an activity")


async def retry(client: AsyncClient, ref: str, *, reason: str | None = None) -> ResetReport:
    """Retry a run from its last activity that failed for good: a reset to the point just
    before the decision that scheduled it, so the code running now schedules it again.

    Raises :class:`NoResetPointError` if the run has no such activity (or no valid point
    before it).
    """
    info = await client.describe(ref)
    history = await client.history(info.run_id)
    try:
        reset_points.last_failed_activity_point(history)
    except UsageError as exc:
        raise NoResetPointError(str(exc)) from None
    outcome = await client.retry_failed_activity(info.run_id, reason=reason)
    return _report("retry", info, history, outcome, "buffer", False)


def _report(
    action: str,
    info: RunInfo,
    history: Sequence[HistoryEvent],
    outcome: ResetResult,
    reapply_signals: str,
    dry_run: bool,
) -> ResetReport:
    plan = outcome.plan
    boundary = history[plan.boundary - 1].event_type if plan.boundary <= len(history) else "?"
    return ResetReport(
        action=action,
        run_id=info.run_id,
        workflow_id=info.workflow_id,
        workflow_type=info.workflow_type,
        status=info.status,
        boundary=plan.boundary,
        boundary_event=boundary,
        valid=plan.valid,
        reason=plan.reason,
        nearest_valid_before=plan.nearest_valid_before,
        nearest_valid_after=plan.nearest_valid_after,
        valid_points=plan.valid_points,
        later_signals=len(plan.later_signals),
        reapply_signals=reapply_signals,
        dry_run=dry_run,
        applied=outcome.applied,
        new_run_id=outcome.new_run_id,
    )


async def rerun(client: AsyncClient, ref: str) -> StartedRun:
    """Start a fresh run of an ended run's workflow with its original input, id, search
    attributes and memo. A run that is still running raises
    :class:`~harvest_studio.WorkflowAlreadyStartedError`."""
    info = await client.describe(ref)
    handle = await client.rerun(info.run_id)
    assert handle.run_id is not None
    return StartedRun(
        handle.workflow_id, handle.run_id, info.workflow_type, client.namespace,
        rerun_of=info.run_id,
    )


async def children(client: AsyncClient, ref: str) -> RunTree:
    """The run and its child runs (and theirs), depth first, siblings oldest first."""
    runs = await client.tree(ref)
    if not runs:
        raise RunNotFoundError(f"no run {ref!r} in namespace {client.namespace!r}")
    by_parent: dict[str | None, list[RunInfo]] = {}
    for run in runs[1:]:
        by_parent.setdefault(run.parent_run_id, []).append(run)
    # siblings started by one decision share a start time: order them as the parent
    # started them (its ChildWorkflowStarted events)
    started_at: dict[str, int] = {}
    for parent, kids in by_parent.items():
        if parent is not None and len(kids) > 1:
            for event in await client.history(parent):
                if isinstance(event.event, ChildWorkflowStarted):
                    started_at[event.event.run_id] = event.seq
    ordered: list[RunInfo] = []
    depths: list[int] = []
    stack: list[tuple[RunInfo, int]] = [(runs[0], 0)]
    while stack:
        run, depth = stack.pop()
        ordered.append(run)
        depths.append(depth)
        kids = sorted(
            by_parent.get(run.run_id, []),
            key=lambda r: (started_at.get(r.run_id, 0), r.created_at, r.run_id),
        )
        stack.extend((kid, depth + 1) for kid in reversed(kids))
    return RunTree(ordered, depths)


async def chain(client: AsyncClient, ref: str) -> RunChain:
    """The continue-as-new chain ``ref`` belongs to, oldest first (one run if it never
    continued as new)."""
    info = await client.describe(ref)
    runs = await client.chain(info.run_id)
    return RunChain(info.workflow_id, info.run_id, runs or [info])


# ---------------------------------------------------------------------------------------
# namespaces
# ---------------------------------------------------------------------------------------
async def namespace_create(
    client: AsyncClient, name: str, description: str | None = None
) -> NamespaceAction:
    """Create a namespace; ``changed`` False if it already exists (its description is
    left as it was)."""
    created = await client.create_namespace(name, description)
    return NamespaceAction("create", name, created, description)


async def namespace_list(client: AsyncClient) -> NamespaceList:
    rows = await client.list_namespaces()
    return NamespaceList([
        NamespaceInfo(
            name=r["name"],
            description=r.get("description"),
            created_at=r.get("created_at"),
            runs=int(r.get("runs") or 0),
            running=int(r.get("running") or 0),
        )
        for r in rows
    ])


async def namespace_delete(client: AsyncClient, name: str) -> NamespaceAction:
    """Delete a namespace without runs. Raises :class:`NamespaceMissingError` (no such
    namespace), :class:`~harvest_studio.NamespaceNotEmptyError`, or a
    :class:`~harvest_studio.UsageError` for ``default``."""
    if not name:
        raise UsageError("a namespace name is required")
    try:
        await client.delete_namespace(name)
    except NamespaceNotFoundError as exc:
        raise NamespaceMissingError(str(exc)) from None
    return NamespaceAction("delete", name, True)


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
