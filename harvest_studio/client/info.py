"""What the client hands back about runs: :class:`RunInfo`, :class:`RunPage`,
:class:`ResetResult`, :class:`DagRunInfo`, and the id, status and policy constants."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from ..model.dag_runs import NodeInfo
from ..model.errors import UsageError, WorkflowFailedError
from ..model.limits import MAX_ID_LENGTH as _MAX_ID_LENGTH
from ..model.reset_points import ResetPlan

ID_REUSE_POLICIES = (
    "allow_duplicate",
    "allow_duplicate_failed_only",
    "reject_duplicate",
    "terminate_if_running",
)
ID_CONFLICT_POLICIES = ("fail", "use_existing")
TERMINAL_STATUSES = (
    "COMPLETED",
    "FAILED",
    "TIMED_OUT",
    "CANCELLED",
    "TERMINATED",
    "CONTINUED_AS_NEW",
)
MAX_ID_LENGTH = _MAX_ID_LENGTH


@dataclass(frozen=True)
class RunInfo:
    """A run as ``describe()`` and ``list()`` show it."""

    run_id: str
    workflow_id: str
    workflow_type: str
    namespace: str
    queue: str
    status: str
    input: list[Any]
    result: Any
    error: dict[str, Any] | None
    events: int
    created_at: datetime
    closed_at: datetime | None
    fingerprint: str | None
    blocked: dict[str, Any] | None
    pending: tuple[dict[str, Any], ...] = ()
    paused: bool = False
    cancel_requested: bool = False
    continued_from: str | None = None
    search_attributes: dict[str, Any] | None = None
    memo: Any = None
    parent_run_id: str | None = None
    parent_close_policy: str | None = None
    depth: int = 0
    reset_from: str | None = None
    unserved_queues: tuple[str, ...] = ()
    """queues of this run's pending tasks that no live worker serves: the run waits for one"""
    waiting: tuple[dict[str, Any], ...] = ()
    """what the run's code waits on that tasks and timers do not show, as of its last
    decision: ``{"kind": "signal", "name": ..., "timer_seq": the timeout's timer or None}``"""
    held: bool = False
    """held at its start by a workflow limit (``max_workflows``) until a slot frees"""

    @classmethod
    def from_row(
        cls,
        row: dict[str, Any],
        pending: Sequence[dict[str, Any]] = (),
        unserved_queues: Sequence[str] = (),
    ) -> RunInfo:
        return cls(
            run_id=row["run_id"],
            workflow_id=row["workflow_id"],
            workflow_type=row["workflow_type"],
            namespace=row["namespace"],
            queue=row["queue"],
            status=row["status"],
            input=row["input"],
            result=row["result"],
            error=row["error"],
            events=row["last_seq"],
            created_at=row["created_at"],
            closed_at=row["closed_at"],
            fingerprint=row["fingerprint"],
            blocked=row["blocked"],
            pending=tuple(pending),
            paused=bool(row.get("paused")),
            cancel_requested=row.get("cancel_requested_at") is not None,
            continued_from=row.get("continued_from"),
            search_attributes=row.get("search_attributes"),
            memo=row.get("memo"),
            parent_run_id=row.get("parent_run_id"),
            parent_close_policy=row.get("parent_close_policy"),
            depth=int(row.get("depth") or 0),
            reset_from=row.get("reset_from"),
            unserved_queues=tuple(unserved_queues),
            waiting=tuple(row.get("waiting") or ()),
            held=bool(row.get("held")),
        )

    @property
    def is_blocked(self) -> bool:
        return self.blocked is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "workflow_id": self.workflow_id,
            "workflow_type": self.workflow_type,
            "namespace": self.namespace,
            "queue": self.queue,
            "status": self.status,
            "blocked": self.blocked,
            "paused": self.paused,
            "held": self.held,
            "cancel_requested": self.cancel_requested,
            "continued_from": self.continued_from,
            "search_attributes": self.search_attributes,
            "memo": self.memo,
            "parent_run_id": self.parent_run_id,
            "parent_close_policy": self.parent_close_policy,
            "reset_from": self.reset_from,
            "input": self.input,
            "result": self.result,
            "error": self.error,
            "events": self.events,
            "created_at": self.created_at.isoformat(),
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "fingerprint": self.fingerprint,
            "pending": [_jsonable(p) for p in self.pending],
            "unserved_queues": list(self.unserved_queues),
        }


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def _outcome(run_id: str, row: dict[str, Any]) -> Any:
    if row["status"] == "COMPLETED":
        return row["result"]
    error = row["error"] or {}
    raise WorkflowFailedError(
        f"run {run_id} ended {row['status']}: {error.get('type', '')}: {error.get('message', '')}",
        status=row["status"],
        error=error,
    )


def _decode_page_token(token: str) -> tuple[datetime, str]:
    try:
        at, run_id = token.split("|", 1)
        uuid.UUID(run_id)
        return datetime.fromisoformat(at), run_id
    except ValueError:
        raise UsageError(f"bad page token {token!r}") from None


class RunRef(Protocol):
    """What every run handle has: its workflow id and (once known) its run id."""

    @property
    def workflow_id(self) -> str: ...

    @property
    def run_id(self) -> str | None: ...


HandleT = TypeVar("HandleT", bound=RunRef)


@dataclass(frozen=True)
class AttemptLog:
    """What one activity attempt printed or logged (``stdout``, ``stderr``, ``logging``):
    its last 64 KiB; ``dropped`` characters were cut from the front."""

    activity_seq: int
    attempt: int
    output: str
    dropped: int
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"activity_seq": self.activity_seq, "attempt": self.attempt,
                "output": self.output, "dropped": self.dropped, "at": self.at.isoformat()}


@dataclass(frozen=True)
class ResetResult(Generic[HandleT]):
    """What a reset (or its dry run) found, and the new run (a handle of the client that made
    it) if one was made."""

    plan: ResetPlan
    run: HandleT | None
    applied: bool

    @property
    def valid(self) -> bool:
        return self.plan.valid

    @property
    def new_run_id(self) -> str | None:
        return None if self.run is None else self.run.run_id

    def to_json(self) -> dict[str, Any]:
        return {**self.plan.to_json(), "applied": self.applied, "new_run_id": self.new_run_id}


@dataclass(frozen=True)
class RunPage:
    runs: list[RunInfo]
    next_page_token: str | None

    def __iter__(self) -> Any:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)


@dataclass(frozen=True)
class DagRunInfo:
    """A run of a DAG and where each of its nodes is (``nodes``: name -> :class:`NodeInfo`,
    in graph order, each map followed by its items ``map[0]``, ``map[1]``…), and the graph
    recorded for the run's code version (``graph``: the DAG's graph JSON, as
    ``DagSpec.to_json()`` gives it; ``hs.graph(info)`` draws it)."""

    run: RunInfo
    nodes: dict[str, NodeInfo]
    graph: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.run.run_id

    @property
    def status(self) -> str:
        return self.run.status

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run.run_id,
            "dag": self.run.workflow_type,
            "status": self.run.status,
            "nodes": {name: node.to_json() for name, node in self.nodes.items()},
        }


@dataclass(frozen=True)
class DagTypeInfo:
    """A DAG type of the namespace: its newest recorded graph and its newest run."""

    name: str
    fingerprint: str
    graph: dict[str, Any]
    last_seen: datetime
    last_run_id: str | None
    last_status: str | None
    last_started_at: datetime | None

    @property
    def nodes(self) -> int:
        return len(self.graph.get("nodes") or [])

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fingerprint": self.fingerprint,
            "nodes": self.nodes,
            "last_seen": self.last_seen.isoformat(),
            "last_run_id": self.last_run_id,
            "last_status": self.last_status,
            "last_started_at": (
                None if self.last_started_at is None else self.last_started_at.isoformat()
            ),
        }
