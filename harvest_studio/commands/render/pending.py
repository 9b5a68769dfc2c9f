"""What a running run waits on, in words: the signals its code waits for (and when the
wait times out), its timers, its activities running or waiting to retry — for ``show``, the
run card and the explorer's header."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ...client import RunInfo


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _error_text(error: Any) -> str | None:
    if isinstance(error, Mapping):
        return f"{error.get('type', 'Error')}: {error.get('message', '')}".rstrip(": ")
    return None


def waits(info: RunInfo, timer_durations: Mapping[int, float] | None = None
          ) -> list[dict[str, Any]]:
    """One entry per thing the run waits on: ``what`` (words), ``until`` (a moment or
    None), ``until_label`` (what happens then: ``times out``, ``fires``, ``retries``),
    ``detail`` (a heartbeat's details, the last error) and ``kind``.

    ``timer_durations`` (timer seq -> seconds, from the history) names plain timers by
    their length."""
    if info.status != "RUNNING":
        return []
    durations = timer_durations or {}
    timers = {p.get("seq"): p for p in info.pending if p.get("kind") == "timer"}
    found: list[dict[str, Any]] = []
    used: set[Any] = set()
    for wait in info.waiting:
        if wait.get("kind") not in ("signal", "condition"):
            continue
        timer = timers.get(wait.get("timer_seq"))
        used.add(wait.get("timer_seq"))
        found.append({
            "kind": wait["kind"], "what": f"waiting for {waited_for(wait)}",
            "until": _moment(timer.get("fires_at")) if timer else None,
            "until_label": "times out", "detail": None,
        })
    for seq, timer in timers.items():
        if seq in used:
            continue
        length = durations.get(seq) if isinstance(seq, int) else None
        what = f"timer of {length:g} s" if length is not None else f"timer (event {seq})"
        found.append({"kind": "timer", "what": what, "until": _moment(timer.get("fires_at")),
                      "until_label": "fires", "detail": None})
    for task in info.pending:
        if task.get("kind") == "activity":
            found.append(_activity(task))
        elif task.get("kind") == "signal":
            found.append({"kind": "inbox",
                          "what": f"signal {task.get('type_name')} received, not yet handled",
                          "until": None, "until_label": "", "detail": None})
    return found


def waited_for(wait: Mapping[str, Any]) -> str:
    """``signal approve``, ``condition approved`` (a named predicate) or ``a condition``."""
    name = wait.get("name")
    if wait.get("kind") == "signal":
        return f"signal {name}"
    return "a condition" if not name or name == "<lambda>" else f"condition {name}"


def _activity(task: Mapping[str, Any]) -> dict[str, Any]:
    name = f"activity {task.get('type_name')}"
    attempt = task.get("retry_attempt") or 1
    error = _error_text(task.get("last_error"))
    if task.get("state") == "RUNNING":
        details = task.get("heartbeat_details")
        return {
            "kind": "activity",
            "what": f"{name} running (attempt {attempt}) on {task.get('worker_id')}",
            "until": _moment(task.get("attempt_deadline")), "until_label": "times out",
            "detail": f"heartbeat: {details}" if details is not None else None,
        }
    visible = _moment(task.get("visible_at"))
    if error is not None and visible is not None:
        return {"kind": "activity", "what": f"{name} waiting to retry (attempt {attempt})",
                "until": visible, "until_label": "retries", "detail": f"last error: {error}"}
    return {"kind": "activity", "what": f"{name} waiting for a worker", "until": None,
            "until_label": "", "detail": None}


def in_words(seconds: float) -> str:
    """A span of time for people: ``45 s``, ``12 min``, ``6 d 23 h``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 60:
        return f"{minutes:.0f} min"
    hours, minutes = divmod(int(minutes), 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def wait_line(wait: Mapping[str, Any], now: datetime) -> str:
    """``waiting for signal approve, times out in 6 d 23 h (Wed 14:02:10)`` — the moment
    in this machine's local time."""
    text = str(wait["what"])
    until = wait.get("until")
    if isinstance(until, datetime):
        local = until.astimezone()
        when = local.strftime("%a %H:%M:%S") if (until - now).days >= 1 \
            else local.strftime("%H:%M:%S")
        text += f", {wait['until_label']} in {in_words((until - now).total_seconds())} ({when})"
    if wait.get("detail"):
        text += f"; {wait['detail']}"
    return text


def timer_durations(events: Sequence[Any]) -> dict[int, float]:
    """Timer seq -> seconds, from a history's ``TimerStarted`` events."""
    return {
        e.seq: float(e.event.duration) for e in events if e.event_type == "TimerStarted"
    }
