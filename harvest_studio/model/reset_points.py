"""Where a run can be reset to, worked out from its history alone (no database access).

A reset keeps history up to and including an *inbound* event (the start, an activity
result, a timer firing, a signal...) and drops the commands the code issued in answer to
it and everything later; the new run makes that decision again with the code running now.
A point is valid only if nothing is in flight there: no activity, timer or child started
before it is still waiting for its result (the new run would wait forever).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import UsageError
from .events import (
    INBOUND,
    ActivityCancelRequested,
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    ActivityTimedOut,
    ChildWorkflowCompleted,
    ChildWorkflowFailed,
    ChildWorkflowStarted,
    HistoryEvent,
    SignalReceived,
    TimerCancelled,
    TimerFired,
    TimerStarted,
    role_of,
)

RESET_TARGETS = ("last_workflow_task", "first_activity")
REAPPLY_MODES = ("buffer", "drop")


@dataclass(frozen=True)
class ResetPlan:
    """Whether ``boundary`` is a valid reset point, and the valid points around it."""

    boundary: int
    valid: bool
    reason: str | None
    nearest_valid_before: int | None
    nearest_valid_after: int | None
    valid_points: tuple[int, ...]
    later_signals: tuple[dict[str, Any], ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "boundary": self.boundary,
            "valid": self.valid,
            "reason": self.reason,
            "nearest_valid_before": self.nearest_valid_before,
            "nearest_valid_after": self.nearest_valid_after,
            "signals_after_boundary": len(self.later_signals),
        }


def valid_points(history: Sequence[HistoryEvent]) -> list[int]:
    """Sequence numbers of the inbound events at which nothing is in flight."""
    open_work: set[int] = set()
    points = []
    for record in history:
        event = record.event
        if isinstance(event, ActivityScheduled | TimerStarted | ChildWorkflowStarted):
            open_work.add(record.seq)
        elif isinstance(event, ActivityCompleted):
            open_work.discard(event.scheduled_seq)
        elif isinstance(event, ChildWorkflowCompleted | ChildWorkflowFailed):
            open_work.discard(event.started_seq)
        elif isinstance(event, ActivityFailed | ActivityTimedOut) and not event.retrying:
            open_work.discard(event.scheduled_seq)
        elif isinstance(event, TimerFired | TimerCancelled):
            open_work.discard(event.started_seq)
        elif isinstance(event, ActivityCancelRequested):
            open_work.discard(event.scheduled_seq)
        if role_of(event) == INBOUND and not open_work:
            points.append(record.seq)
    return points


def resolve_target(history: Sequence[HistoryEvent], to_event: int | None, to: str | None) -> int:
    """The boundary asked for: an explicit event number or a named point."""
    if (to_event is None) == (to is None):
        raise UsageError("give exactly one of to_event or to")
    points = valid_points(history)
    if to_event is not None:
        if not 1 <= to_event <= len(history):
            raise UsageError(f"to_event must be between 1 and {len(history)}")
        return to_event
    if to not in RESET_TARGETS:
        raise UsageError(f"unknown reset target {to!r}; use one of {RESET_TARGETS}")
    if not points:
        raise UsageError("this run has no valid reset point")
    if to == "last_workflow_task":
        return points[-1]
    first_activity = next(
        (r.seq for r in history if isinstance(r.event, ActivityScheduled)), None
    )
    if first_activity is None:
        raise UsageError("this run never scheduled an activity")
    before = [p for p in points if p < first_activity]
    return before[-1] if before else points[0]


def last_failed_activity_point(history: Sequence[HistoryEvent]) -> int:
    """The valid point just before the decision that scheduled the last activity that
    failed for good (to retry it with the code running now)."""
    failed = [
        r.event.scheduled_seq
        for r in history
        if isinstance(r.event, ActivityFailed | ActivityTimedOut) and not r.event.retrying
    ]
    if not failed:
        raise UsageError("this run has no failed activity to retry")
    before = [p for p in valid_points(history) if p < failed[-1]]
    if not before:
        raise UsageError("no valid reset point before the failed activity")
    return before[-1]


def plan(history: Sequence[HistoryEvent], boundary: int) -> ResetPlan:
    points = valid_points(history)
    valid = boundary in points
    reason = None
    if not valid:
        record = history[boundary - 1]
        if role_of(record.event) != INBOUND:
            reason = (
                f"event {boundary} ({record.event_type}) is not a point where the code "
                "received something; reset to an inbound event"
            )
        else:
            reason = f"an activity, timer or child is still open at event {boundary}"
    signals = tuple(
        {"seq": r.seq, "name": r.event.name, "payload": r.event.payload}
        for r in history[boundary:]
        if isinstance(r.event, SignalReceived)
    )
    return ResetPlan(
        boundary=boundary,
        valid=valid,
        reason=reason,
        nearest_valid_before=max((p for p in points if p < boundary), default=None),
        nearest_valid_after=min((p for p in points if p > boundary), default=None),
        valid_points=tuple(points),
        later_signals=signals,
    )
