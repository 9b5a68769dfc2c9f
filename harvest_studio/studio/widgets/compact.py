"""The compact history (Temporal's compact view): one row per activity, timer, signal,
update and child, with its input, its result or last failure, attempts and duration; and
the whole history as JSON for the explorer's download. Pure functions (no anywidget)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ...model.events import (
    ActivityCancelRequested,
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    ActivityStarted,
    ActivityTimedOut,
    ChildWorkflowCompleted,
    ChildWorkflowFailed,
    ChildWorkflowStarted,
    HistoryEvent,
    SignalReceived,
    TimerCancelled,
    TimerFired,
    TimerStarted,
    UpdateAdmitted,
    UpdateCompleted,
    UpdateFailed,
)
from .lanes import _err, _jsonable, _rel

PREVIEW = 160  # characters of an input or a result shown in a row


def compact_rows(history: Sequence[HistoryEvent]) -> list[dict[str, Any]]:
    """One row per thing the run did or received, in the order it began: ``kind``,
    ``name``, ``seq`` (the event that began it), ``t`` (seconds since the run started),
    ``duration`` (None while open), ``attempts``, ``status``, ``input``, ``output`` (the
    result, or the last failure) — inputs and outputs shortened to a preview."""
    if not history:
        return []
    origin = history[0].at
    rows: dict[int, dict[str, Any]] = {}
    updates: dict[str, dict[str, Any]] = {}
    for record in history:
        event, seq, t = record.event, record.seq, _rel(record.at, origin)
        if isinstance(event, ActivityScheduled):
            rows[seq] = _row("activity", event.activity_type, seq, t, event.args, "scheduled")
        elif isinstance(event, ActivityStarted):
            row = rows.get(event.scheduled_seq)
            if row is not None:
                row["attempts"] = max(row["attempts"], event.attempt)
                row["status"] = "running"
        elif isinstance(event, ActivityCompleted | ActivityFailed | ActivityTimedOut):
            row = rows.get(event.scheduled_seq)
            if row is None:
                continue
            row["attempts"] = max(row["attempts"], event.attempt)
            if isinstance(event, ActivityCompleted):
                _close(row, t, "completed", event.result)
            elif isinstance(event, ActivityFailed):
                row["last_failure"] = _err(event.error)
                if not event.retrying:
                    _close(row, t, "failed", row["last_failure"])
                else:
                    row["status"] = "retrying"
            else:
                row["last_failure"] = f"{event.timeout_type} timeout"
                if not event.retrying:
                    _close(row, t, "timed_out", row["last_failure"])
                else:
                    row["status"] = "retrying"
        elif isinstance(event, ActivityCancelRequested):
            row = rows.get(event.scheduled_seq)
            if row is not None:
                _close(row, t, "cancelled", None)
        elif isinstance(event, TimerStarted):
            rows[seq] = _row("timer", f"sleep {event.duration:g}s", seq, t, None, "pending")
        elif isinstance(event, TimerFired | TimerCancelled):
            row = rows.get(event.started_seq)
            if row is not None:
                _close(row, t, "fired" if isinstance(event, TimerFired) else "cancelled", None)
        elif isinstance(event, SignalReceived):
            rows[seq] = _row("signal", event.name, seq, t, event.payload, "received")
            rows[seq]["duration"] = 0.0
        elif isinstance(event, UpdateAdmitted):
            rows[seq] = updates[event.update_id] = _row("update", event.name, seq, t,
                                                        event.args, "admitted")
        elif isinstance(event, UpdateCompleted | UpdateFailed):
            row = updates.get(event.update_id)
            if row is not None:
                if isinstance(event, UpdateCompleted):
                    _close(row, t, "completed", event.result)
                else:
                    _close(row, t, "failed", _err(event.error))
        elif isinstance(event, ChildWorkflowStarted):
            rows[seq] = _row("child", event.workflow_type, seq, t, event.args, "running")
            rows[seq]["run_id"] = event.run_id
        elif isinstance(event, ChildWorkflowCompleted | ChildWorkflowFailed):
            row = rows.get(event.started_seq)
            if row is not None:
                if isinstance(event, ChildWorkflowCompleted):
                    _close(row, t, "completed", event.result)
                else:
                    _close(row, t, event.status.lower(), _err(event.error))
    return list(rows.values())


def _row(kind: str, name: str, seq: int, t: float, given: Any, status: str) -> dict[str, Any]:
    return {"kind": kind, "name": name, "seq": seq, "t": t, "duration": None,
            "attempts": 1 if kind == "activity" else 0, "status": status,
            "input": _preview(given), "output": None, "last_failure": None}


def _close(row: dict[str, Any], t: float, status: str, output: Any) -> None:
    row["status"] = status
    row["duration"] = round(t - row["t"], 3)
    if isinstance(output, str) and status != "completed":  # a failure's text
        row["output"] = output if len(output) <= PREVIEW else output[:PREVIEW - 1] + "…"
    else:
        row["output"] = _preview(output)


def _preview(value: Any) -> str | None:
    if value is None:
        return None
    text = json.dumps(_jsonable(value), default=str, ensure_ascii=False)
    return text if len(text) <= PREVIEW else text[:PREVIEW - 1] + "…"


def history_json(summary: Mapping[str, Any], history: Sequence[HistoryEvent]) -> str:
    """The run and its whole history as one JSON document (what Download saves)."""
    document = {"run": dict(summary), "events": [_jsonable(e.to_json()) for e in history]}
    return json.dumps(document, indent=1, default=str, ensure_ascii=False)
