"""What commands return: frozen dataclasses, each with a ``to_json()`` method."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..client import FlowLimit, QueueInfo, RunInfo
from ..model.definitions import ActivityDefinition, WorkflowDefinition
from ..model.events import HistoryEvent
from ..model.schedules import ScheduleDeclaration


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
    schedules: list[ScheduleDeclaration] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "workflows": [w.name for w in self.workflows],
            "activities": [a.name for a in self.activities],
            "schedules": [s.name for s in self.schedules],
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
    stage: str = "completed"
    """``completed`` (``result`` is the handler's) or ``admitted`` (asked with
    ``wait_for="admitted"``: the handler goes on; repeat the update id for its result)"""

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "workflow_id": self.workflow_id,
            "workflow_type": self.workflow_type,
            "update": self.update,
            "update_id": self.update_id,
            "args": self.args,
            "stage": self.stage,
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
    retention_seconds: float | None = None
    """ended runs older than this are removed by ``harvest purge`` (None: kept)"""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "runs": self.runs,
            "running": self.running,
            "retention_seconds": self.retention_seconds,
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


@dataclass(frozen=True)
class QueueList:
    """``queue list``: each queue with tasks or limits, with its ready, delayed and running
    tasks and the limits on it."""

    queues: list[QueueInfo]

    def to_json(self) -> dict[str, Any]:
        return {"queues": [q.to_json() for q in self.queues]}


@dataclass(frozen=True)
class LimitList:
    """``activity list``: the limits in force (one scope, or all of them)."""

    limits: list[FlowLimit]

    def to_json(self) -> dict[str, Any]:
        return {"limits": [lim.to_json() for lim in self.limits]}


@dataclass(frozen=True)
class FlowAction:
    """What ``pause``, ``resume`` or ``limit`` did to a queue (``scope="queue"``) or an
    activity type (``"activity"``). ``limit`` is what is in force now: ``None`` when
    nothing is left (not paused, no rate, no cap)."""

    action: str
    scope: str
    name: str
    limit: FlowLimit | None

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "scope": self.scope,
            "name": self.name,
            "limit": None if self.limit is None else self.limit.to_json(),
        }
