"""The ``history`` table and :func:`summarize`, the one-line description of each event."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ...model.events import HistoryEvent
from ..results import RunHistory
from .format import (
    _args,
    _attributes,
    _error_line,
    _parse_iso,
    compact,
    fmt_clock,
    fmt_duration,
    shorten,
    table,
)


def _attempt(data: Mapping[str, Any]) -> str:
    return f"event {data.get('scheduled_seq')}, attempt {data.get('attempt')}"


def _retry(data: Mapping[str, Any]) -> str:
    if data.get("retrying"):
        return f" (retry in {fmt_duration(data.get('next_attempt_in') or 0.0)})"
    return " (no more retries)"


def summarize(event_type: str, data: Mapping[str, Any]) -> str:
    """A one-line description of an event's data, for the history table."""
    if event_type == "WorkflowStarted":
        text = f"{data.get('workflow_type')}({_args(data.get('args'))})"
        if data.get("execution_timeout"):
            text += f" timeout {fmt_duration(data['execution_timeout'])}"
        if data.get("continued_from"):
            text += f" continued from run {data['continued_from']}"
        if data.get("search_attributes"):
            text += f" attrs {_attributes(data['search_attributes'], 60)}"
        return text
    if event_type == "WorkflowCompleted":
        return f"-> {compact(data.get('result'))}"
    if event_type == "WorkflowFailed":
        return _error_line(data.get("error"))
    if event_type == "WorkflowTimedOut":
        return f"ran past its execution timeout ({fmt_duration(data.get('timeout'))})"
    if event_type == "ActivityScheduled":
        text = f"{data.get('activity_type')}({_args(data.get('args'))})"
        queue = data.get("queue")
        return text if queue in (None, "default") else f"{text} queue={queue}"
    if event_type == "ActivityStarted":
        return f"{_attempt(data)} on {data.get('worker_id')}"
    if event_type == "ActivityCompleted":
        return f"{_attempt(data)} -> {compact(data.get('result'), 50)}"
    if event_type == "ActivityFailed":
        return f"{_attempt(data)}{_retry(data)}: {_error_line(data.get('error'))}"
    if event_type == "ActivityTimedOut":
        return f"{_attempt(data)}{_retry(data)}: {data.get('timeout_type')} timeout"
    if event_type == "TimerStarted":
        fires = _parse_iso(data.get("fire_at"))
        when = fmt_clock(fires) if fires else data.get("fire_at")
        return f"{fmt_duration(data.get('duration'))}, fires {when}"
    if event_type == "TimerFired":
        return f"timer of event {data.get('started_seq')}"
    if event_type == "SideEffectRecorded":
        return f"{data.get('name')} = {compact(data.get('value'))}"
    if event_type == "MarkerRecorded":
        return f"{data.get('name')} {compact(data.get('details'))}"
    if event_type == "SignalReceived":
        text = f"{data.get('name')} {compact(data.get('payload'), 50)}"
        if data.get("idempotency_key") is not None:
            text += f" key={shorten(str(data['idempotency_key']), 40)}"
        return text + (" (with start)" if data.get("with_start") else "")
    if event_type == "TimerCancelled":
        return f"timer of event {data.get('started_seq')} cancelled"
    if event_type == "ActivityCancelRequested":
        return f"activity of event {data.get('scheduled_seq')} cancelled"
    if event_type == "ChildWorkflowCancelRequested":
        return f"{_child(data)} asked to cancel{_reason(data)}"
    if event_type in _REASONED:
        return f"{_REASONED[event_type]}{_reason(data)}"
    special = _SUMMARIES.get(event_type)
    if special is not None:
        return special(data)
    return compact(dict(data))


def _update_id(data: Mapping[str, Any]) -> str:
    return f"id {shorten(str(data.get('update_id')), 40)}"


def _child(data: Mapping[str, Any]) -> str:
    return f"child of event {data.get('started_seq')} (run {data.get('run_id')})"


def _child_started(data: Mapping[str, Any]) -> str:
    text = f"{data.get('workflow_type')}({_args(data.get('args'))})"
    if data.get("workflow_id") != data.get("run_id"):
        text += f" id {shorten(str(data.get('workflow_id')), 40)}"
    text += f" run {data.get('run_id')}"
    queue = data.get("queue")
    if queue not in (None, "default"):
        text += f" queue={queue}"
    return f"{text}, on parent close: {data.get('parent_close_policy')}"


def _child_failed(data: Mapping[str, Any]) -> str:
    error = data.get("error")
    detail = f": {_error_line(error)}" if error else ""
    return f"{_child(data)} {data.get('status')}{detail}"


def _reset_fork(data: Mapping[str, Any]) -> str:
    return (
        f"from run {data.get('source_run_id')} at event {data.get('boundary')} "
        f"(signals: {data.get('reapply_signals')}){_reason(data)}"
    )


def _summarize_reset(data: Mapping[str, Any]) -> str:
    return (
        f"reset to event {data.get('boundary')} as run {data.get('new_run_id')}"
        f"{_reason(data)}"
    )


_SUMMARIES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "UpdateRequested": lambda d: f"{d.get('name')}({_args(d.get('args'))}) {_update_id(d)}",
    "UpdateAdmitted": lambda d: f"{d.get('name')}({_args(d.get('args'))}) {_update_id(d)}",
    "UpdateCompleted": lambda d: f"{_update_id(d)} -> {compact(d.get('result'), 50)}",
    "UpdateFailed": lambda d: f"{_update_id(d)}: {_error_line(d.get('error'))}",
    "ChildWorkflowStarted": _child_started,
    "ChildWorkflowCompleted": lambda d: f"{_child(d)} -> {compact(d.get('result'), 50)}",
    "ChildWorkflowFailed": _child_failed,
    "WorkflowContinuedAsNew": lambda d: (
        f"as run {d.get('new_run_id')} with ({_args(d.get('args'))})"
    ),
    "SearchAttributesUpserted": lambda d: _attributes(d.get("attributes") or {}, 90),
    "WorkflowResetFork": _reset_fork,
    "WorkflowReset": _summarize_reset,
}


_REASONED = {
    "CancelRequested": "cancel requested",
    "WorkflowCancelled": "cancelled",
    "WorkflowTerminated": "terminated",
    "WorkflowPaused": "paused",
    "WorkflowResumed": "resumed",
}


def _reason(data: Mapping[str, Any]) -> str:
    reason = data.get("reason")
    return f": {shorten(str(reason), 80)}" if reason else " (no reason given)"


def render_history(history: RunHistory | Sequence[HistoryEvent], *, width: int = 90) -> str:
    """The ``harvest history`` table: seq, local time, time since start, type, summary."""
    events = history.events if isinstance(history, RunHistory) else list(history)
    origin = events[0].at if events else None
    rows = [
        (
            e.seq,
            fmt_clock(e.at),
            "+" + fmt_duration((e.at - origin).total_seconds()) if origin else "-",
            e.event_type,
            summarize(e.event_type, e.event.fields()),
        )
        for e in events
    ]
    out = ""
    if isinstance(history, RunHistory):
        out = (
            f"{history.workflow_type} {history.workflow_id} (run {history.run_id}, "
            f"{history.status})\n"
        )
    out += table(
        ["SEQ", "TIME", "SINCE START", "TYPE", "DETAILS"],
        rows,
        max_width=[None, None, None, None, width],
        empty="(no events)",
    )
    if isinstance(history, RunHistory) and history.next_after_seq is not None:
        out += f"\n\nmore events: add --after-seq {history.next_after_seq}"
    return out
