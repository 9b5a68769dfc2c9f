"""The closed, versioned set of history event types.

Each event is stored as ``(event_type, payload)`` where the payload is the dataclass's fields
as JSON. The set only grows: new types are added, existing ones never change shape; a
``v`` field is reserved for a future second version of a type.

Events fall into three roles the replayer cares about:

* *inbound* events come from outside the workflow code (start, activity results, timer
  firings) and wake it up;
* *command* events record a decision the workflow code made and are matched against the
  code's commands on replay;
* *informational* events (activity attempts) are kept for people and tools and skipped by
  the replayer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

EVENT_SCHEMA_VERSION = 1

INBOUND = "inbound"
COMMAND = "command"
INFO = "info"


@dataclass(frozen=True)
class Event:
    type_name: ClassVar[str] = ""
    role: ClassVar[str] = INFO

    def fields(self) -> dict[str, Any]:
        """The event's data fields as a new dict (values are shared, not copied: an event's
        values are JSON-ready and never mutated; a deep copy per event cost the worker a
        fifth of its CPU)."""
        return {name: getattr(self, name) for name in _field_names(type(self))}


_FIELD_NAMES: dict[type[Event], tuple[str, ...]] = {}


def _field_names(cls: type[Event]) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


@dataclass(frozen=True)
class WorkflowStarted(Event):
    type_name: ClassVar[str] = "WorkflowStarted"
    role: ClassVar[str] = INBOUND
    workflow_type: str
    workflow_id: str
    namespace: str
    queue: str
    args: list[Any]
    fingerprint: str | None = None
    execution_timeout: float | None = None
    continued_from: str | None = None
    search_attributes: dict[str, Any] | None = None


@dataclass(frozen=True)
class WorkflowCompleted(Event):
    type_name: ClassVar[str] = "WorkflowCompleted"
    role: ClassVar[str] = COMMAND
    result: Any = None


@dataclass(frozen=True)
class WorkflowFailed(Event):
    type_name: ClassVar[str] = "WorkflowFailed"
    role: ClassVar[str] = COMMAND
    error: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkflowTimedOut(Event):
    """Written by the timeout sweeper, not by workflow code: the run ran past its
    execution timeout."""

    type_name: ClassVar[str] = "WorkflowTimedOut"
    role: ClassVar[str] = INFO
    timeout: float | None = None


@dataclass(frozen=True)
class ActivityScheduled(Event):
    type_name: ClassVar[str] = "ActivityScheduled"
    role: ClassVar[str] = COMMAND
    activity_type: str
    args: list[Any]
    queue: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ActivityStarted(Event):
    type_name: ClassVar[str] = "ActivityStarted"
    role: ClassVar[str] = INFO
    scheduled_seq: int
    attempt: int
    worker_id: str
    started_at: str


@dataclass(frozen=True)
class ActivityCompleted(Event):
    type_name: ClassVar[str] = "ActivityCompleted"
    role: ClassVar[str] = INBOUND
    scheduled_seq: int
    attempt: int
    result: Any = None


@dataclass(frozen=True)
class ActivityFailed(Event):
    """An attempt failed. With ``retrying`` it is informational (another attempt follows);
    without it the workflow sees an :class:`~harvest_studio.ActivityError`."""

    type_name: ClassVar[str] = "ActivityFailed"
    role: ClassVar[str] = INBOUND
    scheduled_seq: int
    attempt: int
    error: dict[str, Any]
    retrying: bool = False
    next_attempt_in: float | None = None


@dataclass(frozen=True)
class ActivityTimedOut(Event):
    type_name: ClassVar[str] = "ActivityTimedOut"
    role: ClassVar[str] = INBOUND
    scheduled_seq: int
    attempt: int
    timeout_type: str
    retrying: bool = False
    next_attempt_in: float | None = None


@dataclass(frozen=True)
class TimerStarted(Event):
    type_name: ClassVar[str] = "TimerStarted"
    role: ClassVar[str] = COMMAND
    fire_at: str
    duration: float


@dataclass(frozen=True)
class TimerFired(Event):
    type_name: ClassVar[str] = "TimerFired"
    role: ClassVar[str] = INBOUND
    started_seq: int


@dataclass(frozen=True)
class SideEffectRecorded(Event):
    type_name: ClassVar[str] = "SideEffectRecorded"
    role: ClassVar[str] = COMMAND
    name: str
    value: Any = None


@dataclass(frozen=True)
class MarkerRecorded(Event):
    type_name: ClassVar[str] = "MarkerRecorded"
    role: ClassVar[str] = COMMAND
    name: str
    details: Any = None


@dataclass(frozen=True)
class SignalReceived(Event):
    """A signal, in the order it was received. ``with_start`` signals were sent together
    with the start and are delivered before the workflow code first runs."""

    type_name: ClassVar[str] = "SignalReceived"
    role: ClassVar[str] = INBOUND
    name: str
    payload: Any = None
    idempotency_key: str | None = None
    with_start: bool = False


@dataclass(frozen=True)
class CancelRequested(Event):
    """Someone asked the run to cancel; the workflow code sees ``asyncio.CancelledError``."""

    type_name: ClassVar[str] = "CancelRequested"
    role: ClassVar[str] = INBOUND
    reason: str | None = None


@dataclass(frozen=True)
class WorkflowCancelled(Event):
    type_name: ClassVar[str] = "WorkflowCancelled"
    role: ClassVar[str] = COMMAND
    reason: str | None = None


@dataclass(frozen=True)
class WorkflowTerminated(Event):
    """Written by an operator's terminate: the run ended at once, no workflow code ran."""

    type_name: ClassVar[str] = "WorkflowTerminated"
    role: ClassVar[str] = INFO
    reason: str | None = None


@dataclass(frozen=True)
class WorkflowPaused(Event):
    type_name: ClassVar[str] = "WorkflowPaused"
    role: ClassVar[str] = INFO
    reason: str | None = None


@dataclass(frozen=True)
class WorkflowResumed(Event):
    type_name: ClassVar[str] = "WorkflowResumed"
    role: ClassVar[str] = INFO
    reason: str | None = None


@dataclass(frozen=True)
class WorkflowContinuedAsNew(Event):
    """The run sealed itself and handed over to a fresh run (same workflow id) with
    ``args``; ``new_run_id`` names it."""

    type_name: ClassVar[str] = "WorkflowContinuedAsNew"
    role: ClassVar[str] = COMMAND
    new_run_id: str
    args: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class SearchAttributesUpserted(Event):
    type_name: ClassVar[str] = "SearchAttributesUpserted"
    role: ClassVar[str] = COMMAND
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChildWorkflowStarted(Event):
    type_name: ClassVar[str] = "ChildWorkflowStarted"
    role: ClassVar[str] = COMMAND
    workflow_type: str
    workflow_id: str
    run_id: str
    args: list[Any] = field(default_factory=list)
    queue: str = "default"
    parent_close_policy: str = "request_cancel"


@dataclass(frozen=True)
class ChildWorkflowCompleted(Event):
    type_name: ClassVar[str] = "ChildWorkflowCompleted"
    role: ClassVar[str] = INBOUND
    started_seq: int
    run_id: str
    result: Any = None


@dataclass(frozen=True)
class ChildWorkflowFailed(Event):
    """The child ended other than COMPLETED (FAILED, CANCELLED, TERMINATED, TIMED_OUT), or
    could not start (status ``START_FAILED``)."""

    type_name: ClassVar[str] = "ChildWorkflowFailed"
    role: ClassVar[str] = INBOUND
    started_seq: int
    run_id: str
    status: str
    error: dict[str, Any] | None = None


@dataclass(frozen=True)
class WorkflowResetFork(Event):
    """First event after the kept prefix of a reset run: where it came from. The decision
    that followed the boundary in the source is made again after it."""

    type_name: ClassVar[str] = "WorkflowResetFork"
    role: ClassVar[str] = INFO
    source_run_id: str
    boundary: int
    reason: str | None = None
    reapply_signals: str = "buffer"


@dataclass(frozen=True)
class WorkflowReset(Event):
    """Written on a running source run that a reset ended (it is TERMINATED)."""

    type_name: ClassVar[str] = "WorkflowReset"
    role: ClassVar[str] = INFO
    new_run_id: str
    boundary: int
    reason: str | None = None


@dataclass(frozen=True)
class UpdateRequested(Event):
    """Waits in the inbox only: a worker validates it and writes ``UpdateAdmitted`` to
    history, or rejects it and writes nothing."""

    type_name: ClassVar[str] = "UpdateRequested"
    role: ClassVar[str] = INFO
    update_id: str
    name: str
    args: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class UpdateAdmitted(Event):
    type_name: ClassVar[str] = "UpdateAdmitted"
    role: ClassVar[str] = INBOUND
    update_id: str
    name: str
    args: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class UpdateCompleted(Event):
    type_name: ClassVar[str] = "UpdateCompleted"
    role: ClassVar[str] = COMMAND
    update_id: str
    result: Any = None


@dataclass(frozen=True)
class UpdateFailed(Event):
    type_name: ClassVar[str] = "UpdateFailed"
    role: ClassVar[str] = COMMAND
    update_id: str
    error: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TimerCancelled(Event):
    """The code stopped waiting on a timer (e.g. the signal it raced arrived first)."""

    type_name: ClassVar[str] = "TimerCancelled"
    role: ClassVar[str] = COMMAND
    started_seq: int


@dataclass(frozen=True)
class ActivityCancelRequested(Event):
    """The code cancelled an activity it scheduled (``future.cancel()``): its task is
    removed (a running attempt learns it at its next heartbeat) and a late result is
    ignored."""

    type_name: ClassVar[str] = "ActivityCancelRequested"
    role: ClassVar[str] = COMMAND
    scheduled_seq: int


@dataclass(frozen=True)
class ChildWorkflowCancelRequested(Event):
    """The code asked a child run to cancel (``child.cancel()``); the child sees
    ``CancelRequested`` and its end reaches the parent as usual."""

    type_name: ClassVar[str] = "ChildWorkflowCancelRequested"
    role: ClassVar[str] = COMMAND
    started_seq: int
    run_id: str
    reason: str | None = None


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type_name: cls
    for cls in (
        WorkflowStarted,
        WorkflowCompleted,
        WorkflowFailed,
        WorkflowTimedOut,
        ActivityScheduled,
        ActivityStarted,
        ActivityCompleted,
        ActivityFailed,
        ActivityTimedOut,
        TimerStarted,
        TimerFired,
        SideEffectRecorded,
        MarkerRecorded,
        SignalReceived,
        CancelRequested,
        WorkflowCancelled,
        WorkflowTerminated,
        WorkflowPaused,
        WorkflowResumed,
        WorkflowContinuedAsNew,
        SearchAttributesUpserted,
        ChildWorkflowStarted,
        ChildWorkflowCompleted,
        ChildWorkflowFailed,
        WorkflowResetFork,
        WorkflowReset,
        UpdateRequested,
        UpdateAdmitted,
        UpdateCompleted,
        UpdateFailed,
        TimerCancelled,
        ActivityCancelRequested,
        ChildWorkflowCancelRequested,
    )
}

TERMINAL_TYPES = frozenset(
    {
        "WorkflowCompleted",
        "WorkflowFailed",
        "WorkflowTimedOut",
        "WorkflowCancelled",
        "WorkflowTerminated",
        "WorkflowContinuedAsNew",
        "WorkflowReset",
    }
)


def decode(event_type: str, payload: dict[str, Any]) -> Event:
    """Rebuild an event from its stored form (unknown fields from a newer writer are dropped)."""
    cls = EVENT_TYPES[event_type]
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in payload.items() if k in names})


def role_of(event: Event) -> str:
    """Informational variants of inbound events (a retried attempt) do not wake code."""
    if isinstance(event, ActivityFailed | ActivityTimedOut) and event.retrying:
        return INFO
    return event.role


@dataclass(frozen=True)
class HistoryEvent:
    """One row of a run's history."""

    seq: int
    at: datetime
    event: Event

    @property
    def event_type(self) -> str:
        return self.event.type_name

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "type": self.event.type_name,
            "data": self.event.fields(),
        }
