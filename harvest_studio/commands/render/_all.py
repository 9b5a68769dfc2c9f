"""Human renderings of command results, and :func:`to_json` for any of them.

Plain text only (ASCII punctuation, no colour, no extra dependency), so the same strings
serve a terminal, a log file and a notebook cell. Times are shown in local time.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import PurePath
from typing import Any

from ...client import RunInfo, RunPage
from ...model.events import HistoryEvent
from .._all import (
    DbStatus,
    NamespaceAction,
    NamespaceList,
    QueryAnswer,
    ResetReport,
    RunAction,
    RunChain,
    RunHistory,
    RunResult,
    RunTree,
    StartedRun,
    UpdateOutcome,
)

CELL_WIDTH = 60
ELLIPSIS = "..."


# ---------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------
def to_json(obj: Any) -> Any:
    """Turn a command result (dataclass, engine object, datetime, ...) into plain JSON data."""
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    if isinstance(obj, RunPage):
        return {"runs": [to_json(r) for r in obj.runs], "next_page_token": obj.next_page_token}
    method = getattr(obj, "to_json", None)
    if callable(method) and not isinstance(obj, type):
        return to_json(method())
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, timedelta):
        return obj.total_seconds()
    if isinstance(obj, Mapping):
        return {str(k): to_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_json(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, BaseException):
        to_dict = getattr(obj, "to_dict", None)
        if callable(to_dict):
            return to_json(to_dict())
        return {"type": type(obj).__name__, "message": str(obj)}
    if isinstance(obj, enum.Enum):
        return to_json(obj.value)
    if isinstance(obj, uuid.UUID | PurePath):
        return str(obj)
    return repr(obj)


def dumps(obj: Any, *, indent: int | None = 2) -> str:
    """:func:`to_json` then ``json.dumps``."""
    return json.dumps(to_json(obj), indent=indent, ensure_ascii=False)


# ---------------------------------------------------------------------------------------
# small formatters
# ---------------------------------------------------------------------------------------
def shorten(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with a trailing ``...``."""
    flat = " ".join(text.split()) if ("\n" in text or "\r" in text or "\t" in text) else text
    if width <= 0 or len(flat) <= width:
        return flat
    if width <= len(ELLIPSIS):
        return flat[:width]
    return flat[: width - len(ELLIPSIS)] + ELLIPSIS


def compact(value: Any, width: int = CELL_WIDTH) -> str:
    """A value as short one-line JSON (falls back to ``repr``)."""
    try:
        text = json.dumps(to_json(value), separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return shorten(text, width)


def fmt_time(moment: datetime | None, *, ms: bool = False) -> str:
    if moment is None:
        return "-"
    local = moment.astimezone() if moment.tzinfo is not None else moment
    text = local.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{local.microsecond // 1000:03d}" if ms else text


def fmt_clock(moment: datetime) -> str:
    """Local wall-clock time with milliseconds."""
    local = moment.astimezone() if moment.tzinfo is not None else moment
    return f"{local.strftime('%H:%M:%S')}.{local.microsecond // 1000:03d}"


def fmt_duration(seconds: float | None) -> str:
    """``0.25`` -> ``250ms``, ``75`` -> ``1m15s``, ``93784`` -> ``1d02h``."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def _parse_iso(text: Any) -> datetime | None:
    if isinstance(text, datetime):
        return text
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return fmt_time(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str | int):
        return str(value)
    return compact(value, 10_000)


def _error_line(error: Mapping[str, Any] | None) -> str:
    if not error:
        return "-"
    kind = error.get("type") or error.get("code") or "error"
    return f"{kind}: {error.get('message', '')}".rstrip(": ")


# ---------------------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------------------
def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    max_width: int | Sequence[int | None] | None = CELL_WIDTH,
    indent: str = "",
    empty: str = "(none)",
) -> str:
    """A fixed-width text table: one header line, then one line per row.

    Cells are cut to ``max_width`` (one limit for all columns, or one per column; ``None``
    for no limit). Columns whose values are all numbers are right-aligned.
    """
    raw = [list(r) for r in rows]
    if not raw:
        return f"{indent}{empty}"
    ncols = len(headers)
    limits = (
        list(max_width)
        if isinstance(max_width, Sequence)
        else [max_width] * ncols
    )
    limits += [CELL_WIDTH] * (ncols - len(limits))
    text = [
        [shorten(_cell(r[i] if i < len(r) else None), limits[i] or 0) for i in range(ncols)]
        for r in raw
    ]
    numeric = [
        all(isinstance(r[i], int | float) and not isinstance(r[i], bool)
            for r in raw if i < len(r) and r[i] is not None)
        for i in range(ncols)
    ]
    widths = [max(len(headers[i]), *(len(t[i]) for t in text)) for i in range(ncols)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(widths[i]) if numeric[i] else c.ljust(widths[i]) for i, c in enumerate(cells)
        ]
        return (indent + "  ".join(parts)).rstrip()

    header = [h.rjust(widths[i]) if numeric[i] else h for i, h in enumerate(headers)]
    return "\n".join([line(header), *(line(t) for t in text)])


def key_values(pairs: Iterable[tuple[str, Any]], *, indent: str = "") -> str:
    """``label  value`` lines with aligned values (multi-line values are indented)."""
    items = [(k, _cell(v) if not isinstance(v, str) else v) for k, v in pairs]
    if not items:
        return ""
    width = max(len(k) for k, _ in items)
    out = []
    for key, value in items:
        first, *rest = value.split("\n") or [""]
        out.append(f"{indent}{key.ljust(width)}  {first}".rstrip())
        out.extend(f"{indent}{' ' * width}  {more}".rstrip() for more in rest)
    return "\n".join(out)


# ---------------------------------------------------------------------------------------
# runs
# ---------------------------------------------------------------------------------------
def run_status(info: RunInfo) -> str:
    """Status as shown to people: a running run's conditions follow in parentheses, e.g.
    ``RUNNING (BLOCKED)``, ``RUNNING (PAUSED)``, ``RUNNING (PAUSED, CANCEL REQUESTED)``."""
    if info.status != "RUNNING":
        return info.status
    marks = [
        label
        for label, on in (
            ("BLOCKED", info.is_blocked),
            ("PAUSED", info.paused),
            ("CANCEL REQUESTED", info.cancel_requested),
        )
        if on
    ]
    return f"{info.status} ({', '.join(marks)})" if marks else info.status


def _run_duration(info: RunInfo) -> float | None:
    if info.closed_at is None:
        return None
    return (info.closed_at - info.created_at).total_seconds()


def render_runs(page: RunPage | Sequence[RunInfo]) -> str:
    """The ``harvest list`` table, with a hint for the next page."""
    runs = page.runs if isinstance(page, RunPage) else list(page)
    rows = [
        (
            r.run_id,
            "(= run id)" if r.workflow_id == r.run_id else r.workflow_id,
            r.workflow_type,
            run_status(r),
            r.created_at,
            fmt_duration(_run_duration(r)) if r.closed_at else "running",
            r.events,
        )
        for r in runs
    ]
    out = table(
        ["RUN ID", "WORKFLOW ID", "TYPE", "STATUS", "STARTED", "TOOK", "EVENTS"],
        rows,
        max_width=[None, 40, 30, None, None, None, None],
        empty="(no runs)",
    )
    token = page.next_page_token if isinstance(page, RunPage) else None
    if token:
        out += f"\n\nmore runs: add --page-token '{token}'"
    return out


def _blocked_lines(blocked: Mapping[str, Any]) -> list[tuple[str, Any]]:
    kind = str(blocked.get("kind", "blocked"))
    pairs: list[tuple[str, Any]] = [("Blocked", f"{kind}: {blocked.get('message', '')}")]
    if kind == "non_determinism":
        pairs += [
            ("  at event", blocked.get("seq")),
            ("  expected", compact(blocked.get("expected"), 200)),
            ("  actual", compact(blocked.get("actual"), 200)),
        ]
        if blocked.get("worker_id"):
            pairs.append(("  seen by", blocked["worker_id"]))
        pairs.append(
            ("", "the run resumes by itself once compatible code is running again")
        )
    else:
        skip = {"kind", "message"}
        pairs += [(f"  {k}", compact(v, 200)) for k, v in blocked.items() if k not in skip]
    return pairs


def _pending_row(p: Mapping[str, Any]) -> tuple[Any, ...]:
    if p.get("kind") == "timer":
        fires = _parse_iso(p.get("fires_at"))
        return ("timer", f"event {p.get('seq')}", "WAITING", None,
                f"fires {fmt_time(fires, ms=True)}", "-")
    state = p.get("state")
    if p.get("kind") == "activity":
        what = f"{p.get('type_name')} (event {p.get('activity_seq')})"
        attempt = p.get("retry_attempt")
    else:
        what = f"{p.get('type_name')} (workflow task)"
        attempt = None
    visible = _parse_iso(p.get("visible_at"))
    if state == "RUNNING":
        detail = f"on {p.get('worker_id')}"
    elif visible is not None and visible > datetime.now(visible.tzinfo):
        label = "next attempt" if p.get("last_error") else "waits until"
        detail = f"{label} {fmt_time(visible, ms=True)}"
    else:
        detail = "queued"
    if p.get("crash_strikes"):
        detail += f"; crashed {p['crash_strikes']}x"
    return (p.get("kind"), what, state, attempt, detail, _error_line(p.get("last_error")))


def _traceback_tail(error: Mapping[str, Any], frames: int = 2) -> str | None:
    """The last ``frames`` frames of a stored traceback (location and source line)."""
    tb = error.get("traceback")
    if not isinstance(tb, str) or not tb.strip():
        return None
    kept: list[list[str]] = []
    for line in tb.rstrip().splitlines():
        stripped = line.strip()
        if line.startswith("  File "):
            kept.append([stripped])
        elif kept and line.startswith("    ") and stripped.strip("^~ "):
            kept[-1].append("  " + stripped)
    if not kept:
        return None
    return "\n".join(text for frame in kept[-frames:] for text in frame)


def render_run(info: RunInfo) -> str:
    """The ``harvest show`` view: facts, then blocked reason, error and pending work."""
    pairs: list[tuple[str, Any]] = [
        ("Run", info.run_id),
        ("Workflow id", info.workflow_id),
        ("Type", info.workflow_type),
        ("Namespace", info.namespace),
        ("Queue", info.queue),
        ("Status", run_status(info)),
        ("Started", fmt_time(info.created_at, ms=True)),
    ]
    if info.status == "RUNNING" and info.paused:
        pairs.append(
            ("Paused", f"yes: no workflow code runs until `harvest resume {info.run_id}`")
        )
    if info.status == "RUNNING" and info.cancel_requested:
        pairs.append(
            ("Cancel", "requested: the code sees CancelledError when it next runs, "
                       "then the run ends CANCELLED")
        )
    if info.closed_at is not None:
        took = fmt_duration(_run_duration(info))
        pairs.append(("Closed", f"{fmt_time(info.closed_at, ms=True)} (took {took})"))
    pairs += _lineage_lines(info)
    pairs += [
        ("Events", info.events),
        ("Fingerprint", info.fingerprint or "-"),
        ("Input", compact(info.input, 200)),
    ]
    if info.search_attributes:
        ordered = dict(sorted(info.search_attributes.items()))
        pairs.append(("Search attrs", _attributes(ordered, 400)))
    if info.memo is not None:
        pairs.append(("Memo", compact(info.memo, 400)))
    if info.status == "COMPLETED":
        pairs.append(("Result", compact(info.result, 400)))
    if info.status == "CONTINUED_AS_NEW":
        nxt = info.result.get("continued_as") if isinstance(info.result, dict) else None
        pairs.append(("Continued as", f"run {nxt}" if nxt else "-"))
    if info.error:
        pairs.append(("Error", _error_line(info.error)))
        tail = _traceback_tail(info.error)
        if tail:
            pairs.append(("Raised at", tail))
    if info.blocked:
        pairs += _blocked_lines(info.blocked)
    out = key_values(pairs)
    if info.pending:
        rows = [_pending_row(p) for p in info.pending]
        out += "\n\nPending:\n" + table(
            ["KIND", "WHAT", "STATE", "ATTEMPT", "DETAIL", "LAST ERROR"], rows, indent="  "
        )
    return out


def _lineage_lines(info: RunInfo) -> list[tuple[str, Any]]:
    """Where a run came from: its parent, the run it continued, the run it was reset from."""
    pairs: list[tuple[str, Any]] = []
    if info.parent_run_id:
        policy = info.parent_close_policy or "-"
        pairs.append(("Parent", f"run {info.parent_run_id} (on parent close: {policy})"))
    if info.continued_from:
        pairs.append(("Continued from", f"run {info.continued_from}"))
    if info.reset_from:
        pairs.append(("Reset from", f"run {info.reset_from}"))
    return pairs


def _attributes(attrs: Mapping[str, Any], width: int = 80) -> str:
    """``customer="acme", amount=150`` (``None``: ``stage removed``)."""
    parts = [
        f"{key} removed" if value is None else f"{key}={compact(value, width)}"
        for key, value in attrs.items()
    ]
    return shorten(", ".join(parts), width) if parts else "-"


# ---------------------------------------------------------------------------------------
# history
# ---------------------------------------------------------------------------------------
def _args(args: Any, width: int = 50) -> str:
    if isinstance(args, list):
        return shorten(", ".join(compact(a, width) for a in args), width)
    return compact(args, width)


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


# ---------------------------------------------------------------------------------------
# other command results
# ---------------------------------------------------------------------------------------
def render_db_status(status: DbStatus) -> str:
    pairs: list[tuple[str, Any]] = [("Database", status.url)]
    if status.migrated_now:
        names = ", ".join(f"{m['version']:04d}_{m['name']}" for m in status.migrated_now)
        pairs.append(("Migrated now", names))
    state = "up to date" if status.up_to_date else f"{len(status.pending)} migration(s) pending"
    pairs.append(("Schema", state))
    out = key_values(pairs) + "\n\n"
    rows = [
        (m["version"], m["name"], "applied", _parse_iso(m.get("applied_at")))
        for m in status.applied
    ]
    rows += [(m["version"], m["name"], "PENDING", None) for m in status.pending]
    out += table(["VERSION", "NAME", "STATE", "APPLIED AT"], rows, empty="(no migrations)")
    if status.pending:
        out += "\n\nrun `harvest db migrate` to apply them"
    return out


def render_started(started: StartedRun) -> str:
    if started.signal is not None and not started.started:
        return (
            f"signalled {started.signal} to running {started.workflow_type}: workflow id "
            f"{started.workflow_id}, run id {started.run_id} (no new run)"
        )
    if not started.started:
        why = (
            "id conflict policy use_existing" if started.reused != "idempotency_key"
            else "the idempotency key started it"
        )
        return (
            f"already running {started.workflow_type}: workflow id {started.workflow_id}, "
            f"run id {started.run_id} (no new run: {why})"
        )
    with_signal = f" with signal {started.signal}" if started.signal is not None else ""
    verb = "reran" if started.rerun_of is not None else "started"
    text = (
        f"{verb} {started.workflow_type}{with_signal}: workflow id {started.workflow_id}, "
        f"run id {started.run_id}"
    )
    if started.rerun_of is not None:
        text += f" (a fresh run with the input of run {started.rerun_of})"
    if started.replaced_run_id is not None:
        text += f" (terminated the open run {started.replaced_run_id})"
    return text


def _run_ref(action: RunAction) -> str:
    if action.workflow_id == action.run_id:
        return f"run {action.run_id}"
    return f"run {action.run_id} (workflow id {action.workflow_id})"


def render_action(action: RunAction) -> str:
    """One line saying what ``signal``/``cancel``/``terminate``/``pause``/``resume`` did."""
    run = _run_ref(action)
    reason = f": {shorten(action.reason, 80)}" if action.reason else ""
    held = "; the run is paused, so its code sees this once resumed" if action.paused else ""
    if action.action == "signal":
        if not action.changed:
            return (
                f"duplicate signal ignored (idempotency key {action.idempotency_key}): "
                f"{run} already has it"
            )
        return f"signalled {action.signal} to {run}{held}"
    if action.action == "cancel":
        if not action.changed:
            return f"cancel already requested for {run}; nothing changed"
        return f"cancel requested for {run}{reason}{held}"
    if action.action == "terminate":
        return f"terminated {run}{reason}"
    if action.action == "pause":
        if not action.changed:
            return f"{run} is already paused; nothing changed"
        return f"paused {run}{reason}"
    if action.action == "resume":
        if not action.changed:
            return f"{run} is not paused; nothing changed"
        return f"resumed {run}{reason}"
    return f"{action.action} {run}"


def render_result(outcome: RunResult) -> str:
    pairs: list[tuple[str, Any]] = [("Status", outcome.status)]
    if outcome.ok:
        pairs.append(("Result", compact(outcome.result, 2000)))
    else:
        pairs.append(("Error", _error_line(outcome.error)))
    return key_values(pairs)


# ---------------------------------------------------------------------------------------
# queries, updates, reset
# ---------------------------------------------------------------------------------------
def _ref(run_id: str, workflow_id: str) -> str:
    if workflow_id == run_id:
        return f"run {run_id}"
    return f"run {run_id} (workflow id {workflow_id})"


def render_query(answer: QueryAnswer) -> str:
    """``query NAME(ARGS) on run ...:`` then the answer as indented JSON."""
    call = f"{answer.query}({_args(answer.args, 80)})"
    body = json.dumps(to_json(answer.result), indent=2, ensure_ascii=False)
    return f"query {call} on {_ref(answer.run_id, answer.workflow_id)}:\n{body}"


def render_update(outcome: UpdateOutcome) -> str:
    call = f"{outcome.update}({_args(outcome.args, 80)})"
    body = json.dumps(to_json(outcome.result), indent=2, ensure_ascii=False)
    return (
        f"update {call} id {outcome.update_id} on "
        f"{_ref(outcome.run_id, outcome.workflow_id)}:\n{body}"
    )


def _points(points: Sequence[int], limit: int = 20) -> str:
    if not points:
        return "(none)"
    shown = ", ".join(str(p) for p in points[-limit:])
    return shown if len(points) <= limit else f"... {shown}"


def render_reset(report: ResetReport) -> str:
    """What a reset, its dry run or a retry found and did."""
    run = _ref(report.run_id, report.workflow_id)
    point = f"event {report.boundary} ({report.boundary_event})"
    signals = report.later_signals
    if report.applied and report.action == "retry":
        head = (
            f"retried {run} from {point}, just before the failed activity was scheduled: "
            f"new run {report.new_run_id}"
        )
    elif report.applied:
        head = f"reset {run} to {point}: new run {report.new_run_id}"
    elif report.valid:
        head = f"dry run: {point} of {run} is a valid reset point; nothing was written"
    else:
        dry = "dry run: " if report.dry_run else ""
        head = f"{dry}{point} of {run} is not a valid reset point; nothing was written"
    pairs: list[tuple[str, Any]] = []
    if not report.valid:
        pairs.append(("Why", report.reason or "-"))
    if not report.applied:
        pairs += [
            ("Nearest valid", f"{_nearest(report.nearest_valid_before)} before, "
                              f"{_nearest(report.nearest_valid_after)} after"),
            ("Valid points", _points(report.valid_points)),
        ]
    if signals:
        fate = "re-delivered" if report.reapply_signals == "buffer" else "dropped"
        if not report.applied:
            fate = "would be " + fate
        pairs.append(("Later signals", f"{signals} recorded after the boundary, {fate} "
                                       f"(--reapply-signals {report.reapply_signals})"))
    else:
        pairs.append(("Later signals", "none after the boundary"))
    if report.applied:
        source = (
            "TERMINATED (it was running)" if report.source_terminated
            else f"left as it was ({report.status})"
        )
        pairs.append(("Source run", source))
    elif report.valid and report.dry_run:
        pairs.append(("Apply", "run the same command without --dry-run"))
    return head + "\n" + key_values(pairs, indent="  ")


def _nearest(seq: int | None) -> str:
    return "none" if seq is None else f"event {seq}"


# ---------------------------------------------------------------------------------------
# trees, chains, namespaces
# ---------------------------------------------------------------------------------------
def render_tree(tree: RunTree) -> str:
    """``harvest children``: the run, then each child under its parent, indented."""
    rows = [
        (
            "  " * depth + r.run_id,
            "(= run id)" if r.workflow_id == r.run_id else r.workflow_id,
            r.workflow_type,
            run_status(r),
            r.parent_close_policy if depth else "-",
            r.created_at,
        )
        for r, depth in zip(tree.runs, tree.depths, strict=True)
    ]
    out = table(
        ["RUN ID", "WORKFLOW ID", "TYPE", "STATUS", "ON PARENT CLOSE", "STARTED"],
        rows,
        max_width=[None, 40, 30, None, None, None],
    )
    kids = len(tree.runs) - 1
    if kids == 0:
        out += "\n\n(no child runs)"
    else:
        out += f"\n\n{kids} descendant run(s)"
    return out


def render_chain(chain: RunChain) -> str:
    """``harvest chain``: every run of a continue-as-new chain, oldest first."""
    rows = [
        (
            ("* " if r.run_id == chain.ref_run_id else "  ") + r.run_id,
            run_status(r),
            compact(r.input, 40),
            r.created_at,
            fmt_duration(_run_duration(r)) if r.closed_at else "running",
            r.events,
        )
        for r in chain.runs
    ]
    out = f"workflow id {chain.workflow_id}: {len(chain.runs)} run(s), oldest first\n"
    out += table(["  RUN ID", "STATUS", "INPUT", "STARTED", "TOOK", "EVENTS"], rows,
                 max_width=[None, None, 40, None, None, None])
    last = chain.last
    if last.status == "COMPLETED":
        out += f"\n\nresult of the chain: {compact(last.result, 200)}"
    elif last.status != "RUNNING":
        out += f"\n\nthe chain ended {last.status}: {_error_line(last.error)}"
    return out


def render_namespaces(listing: NamespaceList) -> str:
    rows = [
        (n.name, n.runs, n.running, n.created_at, n.description or "-")
        for n in listing.namespaces
    ]
    return table(["NAME", "RUNS", "RUNNING", "CREATED", "DESCRIPTION"], rows,
                 empty="(no namespaces)")


def render_namespace_action(action: NamespaceAction) -> str:
    if action.action == "create":
        if not action.changed:
            return f"namespace {action.name} already exists; nothing changed"
        return f"created namespace {action.name}"
    if action.action == "delete":
        return f"deleted namespace {action.name}"
    return f"{action.action} namespace {action.name}"
