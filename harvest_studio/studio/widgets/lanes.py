"""The pure part of the history explorer and the run card: timeline lanes, event rows and run
summaries computed from ``HistoryEvent`` lists, and JSON helpers (no anywidget import)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ...client import RunInfo
from ...commands.render import summarize, waiting_for_worker
from ...commands.render.pending import timer_durations, waited_for, waits
from ...model.events import (
    COMMAND,
    ActivityCancelRequested,
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    ActivityStarted,
    ActivityTimedOut,
    CancelRequested,
    ChildWorkflowCompleted,
    ChildWorkflowFailed,
    ChildWorkflowStarted,
    HistoryEvent,
    SignalReceived,
    TimerCancelled,
    TimerFired,
    TimerStarted,
    UpdateAdmitted,
    WorkflowContinuedAsNew,
    WorkflowReset,
    WorkflowResetFork,
    WorkflowStarted,
    role_of,
)

# An item of a lane: [t0, t1, kind, label, seq0, seq1]; t1 is None while in flight.
Item = list[Any]


def _rel(at: datetime, origin: datetime) -> float:
    return round((at - origin).total_seconds(), 3)


def _err(error: Any) -> str:
    if isinstance(error, dict):
        return f"{error.get('type', 'Error')}: {error.get('message', '')}"
    return str(error or "")


def compute_lanes(
    history: Sequence[HistoryEvent], pending: Sequence[dict[str, Any]] = (),
    waiting: Sequence[dict[str, Any]] = (),
) -> list[dict[str, Any]]:
    """Lanes for the timeline, computed from a history.

    One ``workflow`` lane (start, the decisions the code made, the close), one lane per
    activity (its attempts, with retries, timeouts and backoffs), one per timer and child,
    and single ``signals`` and ``resets`` lanes with point items. Times are seconds since
    the run started; items are ``[t0, t1, kind, label, seq0, seq1]``. An attempt starts
    when it really started (``ActivityStarted.started_at``: the event itself is written
    with the attempt's outcome); ``pending`` (``RunInfo.pending``) adds the attempts
    running now, open-ended; ``waiting`` (``RunInfo.waiting``) names the signals the code
    waits for: a wait with a timeout renames its timer's lane, one without gets its own.
    """
    builder = LaneBuilder()
    builder.feed(history)
    return builder.lanes(pending, waiting)


LaneKey = int | str  # a lane's scheduling seq, or "workflow", "signals", "resets"


class LaneBuilder:
    """Lanes built as events arrive: ``feed`` takes the next events, ``lanes`` gives the
    lanes now (copies: what it gave before never changes), recopying only the lanes the
    new events touched — a live refresh of a 100,000-event run costs its new events."""

    def __init__(self) -> None:
        self.origin: datetime | None = None
        self.last_seq = 0
        self.workflow: dict[str, Any] = {"id": "workflow", "kind": "workflow",
                                         "label": "workflow", "items": [],
                                         "meta": {"decisions": 0}}
        self.by_seq: dict[int, dict[str, Any]] = {}  # by scheduling seq, in order
        self.signals: dict[str, Any] = {"id": "signals", "kind": "signals",
                                        "label": "signals", "items": [], "meta": {}}
        self.resets: dict[str, Any] = {"id": "resets", "kind": "resets", "label": "resets",
                                       "items": [], "meta": {}}
        self.attempt_open: dict[int, Item] = {}  # activity seq -> the running attempt item
        self.decision: Item | None = None
        self.touched: set[LaneKey] = set()
        self._copies: dict[LaneKey, dict[str, Any]] = {}

    def feed(self, history: Sequence[HistoryEvent]) -> None:
        if not history:
            return
        if self.origin is None:
            self.origin = history[0].at
        origin, workflow, lanes = self.origin, self.workflow, self.by_seq
        signals, resets, attempt_open = self.signals, self.resets, self.attempt_open
        decision = self.decision
        for record in history:
            event, seq, t = record.event, record.seq, _rel(record.at, origin)
            self.touched.add(_touches(record))
            if role_of(event) == COMMAND:  # a decision dot on the workflow lane
                self.touched.add("workflow")
            if role_of(event) == COMMAND:
                if decision is not None and decision[5] == seq - 1:  # same batch of commands
                    decision[5] = seq
                    decision[3] = f"{seq - decision[4] + 1} commands"
                else:
                    decision = [t, t, "decision", "1 command", seq, seq]
                    workflow["items"].append(decision)
                    workflow["meta"]["decisions"] += 1
            if isinstance(event, WorkflowStarted):
                workflow["items"].append([t, t, "start", event.workflow_type, seq, seq])
            elif record.event_type in ("WorkflowCompleted", "WorkflowFailed", "WorkflowCancelled",
                                       "WorkflowTerminated", "WorkflowTimedOut",
                                       "WorkflowContinuedAsNew"):
                kind = record.event_type.removeprefix("Workflow").lower()
                workflow["items"].append([t, t, "close", kind, seq, seq])
            elif isinstance(event, ActivityScheduled):
                lanes[seq] = {
                    "id": f"a{seq}", "kind": "activity",
                    "label": f"{event.activity_type} #{seq}",
                    "items": [[t, None, "scheduled", "waiting for a worker", seq, seq]],
                    "meta": {"seq": seq, "type": event.activity_type, "attempts": 0,
                             "retries": 0, "timeouts": 0, "status": "scheduled"},
                }
            elif isinstance(event, ActivityStarted):
                lane = lanes.get(event.scheduled_seq)
                if lane is None:
                    continue
                began = _started(event.started_at, origin, t)
                _close_wait(lane, began, seq)
                item: Item = [began, None, "attempt",
                              f"attempt {event.attempt} on {event.worker_id}", seq, seq]
                lane["items"].append(item)
                attempt_open[event.scheduled_seq] = item
                lane["meta"]["attempts"] = max(lane["meta"]["attempts"], event.attempt)
                lane["meta"]["status"] = "running"
            elif isinstance(event, ActivityCompleted | ActivityFailed | ActivityTimedOut):
                lane = lanes.get(event.scheduled_seq)
                if lane is None:
                    continue
                _close_wait(lane, t, seq)
                found = attempt_open.pop(event.scheduled_seq, None)
                if found is not None:
                    item = found
                else:  # no ActivityStarted recorded: show the outcome as a point
                    item = [t, t, "attempt", f"attempt {event.attempt}", seq, seq]
                    lane["items"].append(item)
                item[1], item[5] = t, seq
                meta = lane["meta"]
                meta["attempts"] = max(meta["attempts"], event.attempt)
                if isinstance(event, ActivityCompleted):
                    item[2] = "ok"
                    meta["status"] = "completed"
                    continue
                if isinstance(event, ActivityTimedOut):
                    meta["timeouts"] += 1
                    item[2] = "timeout"
                    item[3] += f": {event.timeout_type} timeout"
                else:
                    item[2] = "failed"
                    item[3] += f": {_err(event.error)}"
                    meta["last_error"] = _err(event.error)
                if event.retrying:
                    meta["retries"] += 1
                    meta["status"] = "retrying"
                    lane["items"].append([t, None, "backoff", "waiting to retry", seq, seq])
                else:
                    meta["status"] = "failed" if item[2] == "failed" else "timed_out"
            elif isinstance(event, ActivityCancelRequested):
                lane = lanes.get(event.scheduled_seq)
                if lane is None:
                    continue
                attempt_open.pop(event.scheduled_seq, None)
                for item in lane["items"]:
                    if item[1] is None:  # the wait, backoff or attempt it cut short
                        item[1], item[5] = t, seq
                lane["items"].append([t, t, "cancelled", "cancelled by the workflow", seq, seq])
                lane["meta"]["status"] = "cancelled"
            elif isinstance(event, TimerStarted):
                lanes[seq] = {
                    "id": f"t{seq}", "kind": "timer", "label": f"timer {event.duration:g}s #{seq}",
                    "items": [[t, None, "timer", f"sleep {event.duration:g}s", seq, seq]],
                    "meta": {"seq": seq, "duration": event.duration, "fire_at": event.fire_at,
                             "status": "pending"},
                }
            elif isinstance(event, TimerFired | TimerCancelled):
                lane = lanes.get(event.started_seq)
                if lane is None:
                    continue
                item = lane["items"][0]
                item[1], item[5] = t, seq
                fired = isinstance(event, TimerFired)
                item[2] = "timer" if fired else "cancelled"
                lane["meta"]["status"] = "fired" if fired else "cancelled"
            elif isinstance(event, ChildWorkflowStarted):
                lanes[seq] = {
                    "id": f"c{seq}", "kind": "child",
                    "label": f"child {event.workflow_type} #{seq}",
                    "items": [[t, None, "child", event.workflow_id, seq, seq]],
                    "meta": {"seq": seq, "run_id": event.run_id, "workflow_id": event.workflow_id,
                             "status": "running"},
                }
            elif isinstance(event, ChildWorkflowCompleted | ChildWorkflowFailed):
                lane = lanes.get(event.started_seq)
                if lane is None:
                    continue
                item = lane["items"][0]
                item[1], item[5] = t, seq
                if isinstance(event, ChildWorkflowFailed):
                    item[2] = "failed"
                    lane["meta"]["status"] = event.status.lower()
                else:
                    item[2] = "ok"
                    lane["meta"]["status"] = "completed"
            elif isinstance(event, SignalReceived):
                signals["items"].append([t, t, "signal", event.name, seq, seq])
            elif isinstance(event, CancelRequested):
                signals["items"].append([t, t, "cancel", "cancel requested", seq, seq])
            elif isinstance(event, UpdateAdmitted):
                signals["items"].append([t, t, "update", f"update {event.name}", seq, seq])
            elif isinstance(event, WorkflowResetFork):
                resets["items"].append(
                    [t, t, "reset", f"reset from {event.source_run_id[:8]} at {event.boundary}",
                     seq, seq])
            elif isinstance(event, WorkflowReset):
                resets["items"].append(
                    [t, t, "reset", f"reset to {event.new_run_id[:8]} at {event.boundary}",
                     seq, seq])
        self.decision = decision
        self.last_seq = history[-1].seq

    def _lane(self, key: LaneKey) -> dict[str, Any]:
        if isinstance(key, int):
            return self.by_seq[key]
        return {"workflow": self.workflow, "signals": self.signals, "resets": self.resets}[key]

    def lanes(self, pending: Sequence[dict[str, Any]] = (),
              waiting: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
        """The lanes now, with ``pending`` attempts running and ``waiting`` signal waits
        drawn on copies (they are not history: the next call may differ)."""
        if self.origin is None:
            return []
        for key in self.touched:
            if key == "workflow" or key in ("signals", "resets") or key in self.by_seq:
                self._copies[key] = _copy(self._lane(key))
        self.touched.clear()
        for key in ("workflow", "signals", "resets"):
            self._copies.setdefault(key, _copy(self._lane(key)))
        shown = {key: self._copies[key] for key in self.by_seq}
        drawn: set[int] = set()

        def editable(key: int) -> dict[str, Any]:
            if key not in drawn:
                shown[key] = _copy(shown[key])
                drawn.add(key)
            return shown[key]

        for task in pending:
            seq = task.get("activity_seq")
            if task.get("kind") == "activity" and task.get("state") == "RUNNING" \
                    and isinstance(seq, int) and seq in shown:
                _running_attempt(editable(seq), task, self.origin)
        extra: list[dict[str, Any]] = []
        for wait in waiting:
            timer_seq = wait.get("timer_seq")
            timer = shown.get(timer_seq) if isinstance(timer_seq, int) else None
            if wait.get("kind") not in ("signal", "condition"):
                continue
            what = waited_for(wait)
            if timer is not None and timer["kind"] == "timer":
                _name_wait(editable(timer["meta"]["seq"]), what)
            else:
                lane = _wait_lane(self.workflow, what, self.last_seq)
                lane["id"] += f"#{len(extra)}"  # two waits for one signal: two lanes
                extra.append(lane)
        out = [self._copies["workflow"], *shown.values(), *extra]
        out += [self._copies[k] for k in ("signals", "resets") if self._copies[k]["items"]]
        return out


def _copy(lane: dict[str, Any]) -> dict[str, Any]:
    return {**lane, "items": [list(it) for it in lane["items"]], "meta": dict(lane["meta"])}


def _touches(record: HistoryEvent) -> LaneKey:
    """The lane an event changes (the event that begins a lane: its own seq)."""
    event = record.event
    for name in ("scheduled_seq", "started_seq"):
        found = getattr(event, name, None)
        if isinstance(found, int):
            return found
    if isinstance(event, ActivityScheduled | TimerStarted | ChildWorkflowStarted):
        return record.seq
    if isinstance(event, SignalReceived | CancelRequested | UpdateAdmitted):
        return "signals"
    if isinstance(event, WorkflowReset | WorkflowResetFork):
        return "resets"
    return "workflow"


def _started(started_at: str, origin: datetime, fallback: float) -> float:
    """When an attempt started, from its ``ActivityStarted.started_at`` (older histories
    may lack it: then the event's own time)."""
    try:
        return _rel(datetime.fromisoformat(started_at), origin) if started_at else fallback
    except ValueError:
        return fallback


def _running_attempt(lane: dict[str, Any], task: dict[str, Any], origin: datetime) -> None:
    """Draw an attempt running now (a pending activity task a worker holds) on ``lane``."""
    started = task.get("started_at")
    if not isinstance(started, datetime):
        return
    last = lane["items"][-1]
    if last[2] == "attempt" and last[1] is None:
        return  # already open
    t = _rel(started, origin)
    _close_wait(lane, t, last[5])
    attempt = task.get("retry_attempt") or 1
    worker = task.get("worker_id") or "a worker"
    lane["items"].append([t, None, "attempt", f"attempt {attempt} on {worker} (running)",
                          last[5], last[5]])
    lane["meta"]["status"] = "running"
    lane["meta"]["attempts"] = max(lane["meta"]["attempts"], int(attempt))


def _name_wait(timer: dict[str, Any], what: str) -> None:
    """The timer ending a wait with a timeout (``wait_signal``, ``wait_condition``) shown
    as the wait, named by what it waits for (``signal approve``)."""
    item = timer["items"][0]
    timer.update(kind="wait", label=f"{what} #{timer['meta']['seq']}")
    item[2] = "wait"
    item[3] = f"waiting for {what} (times out after {timer['meta']['duration']:g}s)"
    timer["meta"]["waits_for"] = what


def _wait_lane(workflow: dict[str, Any], what: str, last_seq: int) -> dict[str, Any]:
    """A wait without a timeout: a lane of its own, from the decision that began it."""
    decisions = [it for it in workflow["items"] if it[2] == "decision"]
    t, seq = (decisions[-1][0], decisions[-1][5]) if decisions else (0.0, last_seq)
    return {
        "id": f"w:{what}", "kind": "wait", "label": what,
        "items": [[t, None, "wait", f"waiting for {what}", seq, seq]],
        "meta": {"waits_for": what, "status": "waiting"},
    }


def _close_wait(lane: dict[str, Any], t: float, seq: int) -> None:
    """End the lane's open ``scheduled``/``backoff`` wait at ``t``."""
    last = lane["items"][-1]
    if last[2] in ("scheduled", "backoff") and last[1] is None:
        last[1], last[5] = t, seq


def event_row(record: HistoryEvent, origin: datetime) -> dict[str, Any]:
    """One row of the event table (no payload: the inspector fetches that)."""
    data = record.event.fields()
    return {
        "seq": record.seq,
        "t": _rel(record.at, origin),
        "type": record.event_type,
        "summary": summarize(record.event_type, data)[:200],
    }


def run_summary(info: RunInfo, history: Sequence[HistoryEvent]) -> dict[str, Any]:
    """What the explorer's header and the run card show."""
    origin = history[0].at if history else info.created_at
    end = info.closed_at or datetime.now(UTC)
    timers = [
        {"seq": p.get("seq"), "fires_at": _iso(p.get("fires_at"))}
        for p in info.pending if p.get("kind") == "timer"
    ]
    activities = [
        {"seq": p.get("activity_seq"), "type": p.get("type_name"), "state": p.get("state"),
         "attempt": p.get("retry_attempt"), "worker": p.get("worker_id"),
         "last_error": p.get("last_error")}
        for p in info.pending if p.get("kind") == "activity"
    ]
    # the run's own error when it ended badly; while it runs, the error an activity is
    # retrying after; errors retried away are counted, not shown as the run's
    last_error: str | None = _err(info.error) if info.error else None
    if last_error is None and info.status == "RUNNING":
        retrying = [p for p in info.pending if p.get("kind") == "activity"
                    and p.get("last_error") and p.get("state") != "RUNNING"]
        if retrying:
            last_error = _err(retrying[-1]["last_error"])
    recovered = sum(1 for r in history if isinstance(r.event, ActivityFailed | ActivityTimedOut)
                    and r.event.retrying)
    waits_on = [
        {**w, "until": _iso(w["until"])}
        for w in waits(info, timer_durations(history))
    ]
    return {
        "run_id": info.run_id,
        "workflow_id": info.workflow_id,
        "workflow_type": info.workflow_type,
        "namespace": info.namespace,
        "status": info.status,
        "paused": info.paused,
        "cancel_requested": info.cancel_requested,
        "blocked": info.blocked,
        "blocked_reason": _blocked_reason(info.blocked),
        "blocked_t": _time_of((info.blocked or {}).get("seq"), history),
        "waiting": (
            waiting_for_worker(info.unserved_queues, how="%harvest worker start")
            if info.status == "RUNNING" and info.unserved_queues
            else None
        ),
        "events": len(history),
        "last_seq": history[-1].seq if history else 0,
        "started_at": origin.isoformat(),
        "closed_at": info.closed_at.isoformat() if info.closed_at else None,
        "duration": round(max((end - origin).total_seconds(), 0.0), 3),
        "reset_from": info.reset_from,
        "pending_activities": activities,
        "pending_timers": timers,
        "waiting_on": waits_on,
        "last_error": last_error,
        "retried_errors": recovered,
        "input": info.input,
        "result": info.result if info.status == "COMPLETED" else None,
        "links": run_links(info, history),
    }


LINKED_CHILDREN = 10


def run_links(info: RunInfo, history: Sequence[HistoryEvent]) -> list[dict[str, str]]:
    """The runs related to this one, both ways: its parent, the run it continued or was
    reset from, the run it continued as or was reset to, and its first children."""
    links = []
    if info.parent_run_id:
        links.append({"rel": "parent", "run_id": info.parent_run_id})
    if info.continued_from:
        links.append({"rel": "continued from", "run_id": info.continued_from})
    if info.reset_from:
        links.append({"rel": "reset from", "run_id": info.reset_from})
    children = 0
    for record in history:
        event = record.event
        if isinstance(event, WorkflowReset):
            links.append({"rel": "reset to", "run_id": event.new_run_id})
        elif isinstance(event, WorkflowContinuedAsNew):
            links.append({"rel": "continued as", "run_id": event.new_run_id})
        elif isinstance(event, ChildWorkflowStarted) and children < LINKED_CHILDREN:
            children += 1
            links.append({"rel": f"child {event.workflow_id}", "run_id": event.run_id})
    return links


def _time_of(seq: Any, history: Sequence[HistoryEvent]) -> float | None:
    """Seconds into the run of event ``seq`` (the last event's, past the end)."""
    if not isinstance(seq, int) or not history:
        return None
    index = min(bisect.bisect_left(history, seq, key=lambda e: e.seq), len(history) - 1)
    return _rel(history[index].at, history[0].at)


def _blocked_reason(blocked: dict[str, Any] | None) -> str | None:
    """One line on why a run is stuck (``kind: message``, and the event it stopped at)."""
    if not blocked:
        return None
    text = f"{blocked.get('kind', 'blocked')}: {blocked.get('message', '')}".rstrip(": ")
    if blocked.get("seq") is not None:
        text += f" (at event {blocked['seq']})"
    return text


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return _iso(value)
