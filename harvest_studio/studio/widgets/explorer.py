"""The history explorer and the run card: anywidget widgets over a run's history.

``explore(client, ref)`` returns a :class:`HistoryExplorer` (timeline lanes, a windowed event
table, a payload inspector and the operator actions); ``run_card(client, ref)`` returns a
compact live :class:`RunCard`. Both need the ``notebook`` extra (``anywidget``), which is
imported here at module level: ``import harvest_studio`` never imports this module, the
entry points above are meant to be imported lazily (``RunHandle.explore()``,
``%harvest explore RUN``).

The pure part (lanes, summaries, windows) is plain functions over ``HistoryEvent`` lists,
so it is testable without a front end. The front end is ``static/explorer.js``, a
dependency-free ES module (no CDN, no build step).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ...client import TERMINAL_STATUSES, Client, RunInfo
from ...commands.render import summarize
from ...model.events import (
    COMMAND,
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
    WorkflowReset,
    WorkflowResetFork,
    WorkflowStarted,
    role_of,
)

STATIC = Path(__file__).parent.parent / "static"
WINDOW = 500
MAX_WINDOW = 2000
# An item of a lane: [t0, t1, kind, label, seq0, seq1]; t1 is None while in flight.
Item = list[Any]

__all__ = [
    "HistoryExplorer",
    "RunCard",
    "compute_lanes",
    "explore",
    "run_card",
    "run_summary",
]


# -- pure helpers ------------------------------------------------------------------------------
def _rel(at: datetime, origin: datetime) -> float:
    return round((at - origin).total_seconds(), 3)


def _err(error: Any) -> str:
    if isinstance(error, dict):
        return f"{error.get('type', 'Error')}: {error.get('message', '')}"
    return str(error or "")


def compute_lanes(history: Sequence[HistoryEvent]) -> list[dict[str, Any]]:
    """Lanes for the timeline, computed from a history.

    One ``workflow`` lane (start, the decisions the code made, the close), one lane per
    activity (its attempts, with retries, timeouts and backoffs), one per timer and child,
    and single ``signals`` and ``resets`` lanes with point items. Times are seconds since
    the run started; items are ``[t0, t1, kind, label, seq0, seq1]``.
    """
    if not history:
        return []
    origin = history[0].at
    workflow: dict[str, Any] = {"id": "workflow", "kind": "workflow", "label": "workflow",
                                "items": [], "meta": {"decisions": 0}}
    lanes: dict[int, dict[str, Any]] = {}  # by scheduling seq, in order of scheduling
    signals: dict[str, Any] = {"id": "signals", "kind": "signals", "label": "signals",
                               "items": [], "meta": {}}
    resets: dict[str, Any] = {"id": "resets", "kind": "resets", "label": "resets",
                              "items": [], "meta": {}}
    attempt_open: dict[int, Item] = {}  # activity seq -> the running attempt item
    decision: Item | None = None
    for record in history:
        event, seq, t = record.event, record.seq, _rel(record.at, origin)
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
            _close_wait(lane, t, seq)
            item: Item = [t, None, "attempt", f"attempt {event.attempt} on {event.worker_id}",
                    seq, seq]
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
    out = [workflow, *lanes.values()]
    out += [lane for lane in (signals, resets) if lane["items"]]
    return out


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
    last_error: str | None = _err(info.error) if info.error else None
    if last_error is None:
        for record in reversed(history):
            error = getattr(record.event, "error", None)
            if error:
                last_error = _err(error)
                break
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
        "events": len(history),
        "last_seq": history[-1].seq if history else 0,
        "started_at": origin.isoformat(),
        "closed_at": info.closed_at.isoformat() if info.closed_at else None,
        "duration": round(max((end - origin).total_seconds(), 0.0), 3),
        "reset_from": info.reset_from,
        "pending_activities": activities,
        "pending_timers": timers,
        "last_error": last_error,
    }


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


# -- live polling -------------------------------------------------------------------------------
class _Poller:
    """A background thread calling ``refresh()`` every ``interval`` seconds while the run is
    RUNNING; ``stop()`` ends it (so does the run ending)."""

    def __init__(self, refresh: Any, running: Any, interval: float) -> None:
        self._refresh, self._running, self.interval = refresh, running, interval
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name="harvest-explorer", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._refresh()
            except Exception as exc:  # keep the widget alive; show the error instead
                self.error = exc
            if not self._running():
                return

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self.thread is not threading.current_thread():
            self.thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()


class _Live(anywidget.AnyWidget):  # type: ignore[misc]
    """Shared live-refresh plumbing (``live`` trait, poll thread)."""

    live = traitlets.Bool(False).tag(sync=True)
    interval = traitlets.Float(1.0).tag(sync=True)
    summary = traitlets.Dict().tag(sync=True)

    _poller: _Poller | None = None

    def refresh(self) -> None:  # pragma: no cover - each widget defines its own
        """Fetch what changed and update the synced traits."""

    @property
    def running(self) -> bool:
        return self.summary.get("status") not in TERMINAL_STATUSES

    @traitlets.observe("live")
    def _on_live(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.start_live()
        else:
            self.stop_live()

    def start_live(self, interval: float | None = None) -> None:
        """Refresh in a background thread while the run is RUNNING."""
        if interval is not None:
            self.interval = interval
        if self._poller is not None and self._poller.alive:
            return
        if not self.running:
            self.live = False
            return
        self._poller = _Poller(self._live_tick, lambda: self.running and self.live,
                               self.interval)
        if not self.live:
            self.live = True

    def _live_tick(self) -> None:
        self.refresh()
        if not self.running:
            self.live = False

    def stop_live(self) -> None:
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.stop()
        if self.live:
            self.live = False

    def close(self) -> None:
        self.stop_live()
        super().close()


# -- the explorer -------------------------------------------------------------------------------
class HistoryExplorer(_Live):
    """Timeline lanes, a windowed event table, a payload inspector and run actions.

    Synced to the front end: ``summary``, ``lanes``, ``events`` (a window of at most
    ``window_size`` rows: ``window`` gives its seq bounds and the total), ``selected_seq``
    / ``selected_event`` (clicking a row or a bar sets it; the kernel sees it),
    ``type_filter`` (event types to show; empty shows all), ``live``.
    """

    _esm = STATIC / "explorer.js"
    _css = STATIC / "explorer.css"

    lanes: traitlets.List[Any] = traitlets.List().tag(sync=True)
    events: traitlets.List[Any] = traitlets.List().tag(sync=True)
    window = traitlets.Dict().tag(sync=True)
    event_types: traitlets.List[Any] = traitlets.List().tag(sync=True)
    type_filter: traitlets.List[Any] = traitlets.List().tag(sync=True)
    selected_seq = traitlets.Int(None, allow_none=True).tag(sync=True)
    selected_event: Any = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)
    reset_preview: Any = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)
    last_result: Any = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)
    window_size = traitlets.Int(WINDOW).tag(sync=True)

    def __init__(self, client: Client, ref: str, *, window_size: int = WINDOW,
                 live: bool = False, interval: float = 1.0,
                 type_filter: Sequence[str] = (), selected_seq: int | None = None,
                 **kwargs: Any) -> None:
        self._lock = threading.RLock()
        self.history: list[HistoryEvent] = []
        self._seqs: list[int] = []  # seqs of the filtered view, for bisecting
        self._view: list[HistoryEvent] = []
        self._previewed: int | None = None
        super().__init__(window_size=window_size, interval=interval, **kwargs)
        self.client = client
        self.ref = ref
        info = client.describe(ref)
        self.run_id = info.run_id
        self.on_msg(self._on_message)
        self._load(info)
        if type_filter:
            self.type_filter = sorted(type_filter)
        self._show_index(max(len(self._view) - window_size, 0))  # the tail
        if selected_seq is not None:
            self.selected_seq = selected_seq
        if live:
            self.live = True

    # -- data ----------------------------------------------------------------------------------
    def _load(self, info: RunInfo) -> None:
        after = self.history[-1].seq if self.history else 0
        new = self.client.history(self.run_id, after_seq=after)
        with self._lock:
            self.history.extend(new)
            self._rebuild_view()
            with self.hold_sync():
                self.summary = _jsonable(run_summary(info, self.history))
                if new or not self.lanes:
                    self.lanes = compute_lanes(self.history)
                types = sorted({e.event_type for e in self.history})
                if types != self.event_types:
                    self.event_types = types

    def _rebuild_view(self) -> None:
        wanted = set(self.type_filter)
        self._view = [e for e in self.history if not wanted or e.event_type in wanted]
        self._seqs = [e.seq for e in self._view]

    def refresh(self) -> None:
        """Fetch new events and the run's status; a window showing the tail follows it."""
        with self._lock:
            at_tail = not self.window or self.window.get("end", 0) >= self.window.get("last", 0)
            self._load(self.client.describe(self.run_id))
            if at_tail:
                self._show_index(max(len(self._view) - self.window_size, 0))
            else:
                self.window = {**self.window, "total": len(self._view),
                               "last": self._seqs[-1] if self._seqs else 0}

    @traitlets.observe("type_filter")
    def _on_filter(self, change: dict[str, Any]) -> None:
        with self._lock:
            start = self.window.get("start", 1) if self.window else 1
            self._rebuild_view()
            self.show_range(start)

    # -- windows -------------------------------------------------------------------------------
    def show_range(self, start_seq: int, end_seq: int | None = None) -> dict[str, Any]:
        """Put the events from ``start_seq`` (through ``end_seq``, at most ``window_size``)
        in ``events``."""
        index = bisect.bisect_left(self._seqs, start_seq)
        count = self.window_size
        if end_seq is not None:
            count = max(1, min(bisect.bisect_right(self._seqs, end_seq) - index, MAX_WINDOW))
        return self._show_index(index, count)

    def show_around(self, seq: int) -> dict[str, Any]:
        """Center the window on ``seq``."""
        index = bisect.bisect_left(self._seqs, seq)
        return self._show_index(max(index - self.window_size // 2, 0))

    def show_time(self, t0: float, t1: float | None = None) -> dict[str, Any]:
        """Window starting at the first event at or after ``t0`` seconds into the run."""
        if not self._view:
            return self._show_index(0)
        origin = self.history[0].at
        times = [_rel(e.at, origin) for e in self._view]
        index = bisect.bisect_left(times, t0)
        count = self.window_size
        if t1 is not None:
            count = max(1, min(bisect.bisect_right(times, t1) - index, self.window_size))
        return self._show_index(min(index, max(len(self._view) - 1, 0)), count)

    def _show_index(self, index: int, count: int | None = None) -> dict[str, Any]:
        count = self.window_size if count is None else count
        with self._lock:  # the live thread may be extending the history
            view, seqs = self._view, self._seqs
            index = max(0, min(index, max(len(view) - count, 0)))
            rows = view[index:index + count]
            origin = self.history[0].at if self.history else datetime.now(UTC)
            window = {
                "start": rows[0].seq if rows else 0,
                "end": rows[-1].seq if rows else 0,
                "offset": index,
                "total": len(view),
                "last": seqs[-1] if seqs else 0,
            }
            with self.hold_sync():
                self.events = [event_row(e, origin) for e in rows]
                self.window = window
        return window

    # -- selection -----------------------------------------------------------------------------
    def event(self, seq: int) -> HistoryEvent | None:
        index = bisect.bisect_left(self.history, seq, key=lambda e: e.seq)
        if index < len(self.history) and self.history[index].seq == seq:
            return self.history[index]
        return None

    @traitlets.observe("selected_seq")
    def _on_select(self, change: dict[str, Any]) -> None:
        seq = change["new"]
        record = None if seq is None else self.event(seq)
        self.selected_event = None if record is None else _jsonable(record.to_json())
        if record is not None and not (self.window.get("start", 0) <= seq
                                       <= self.window.get("end", -1)):
            self.show_around(seq)

    @property
    def selected(self) -> HistoryEvent | None:
        """The selected event (clicked in the table or on the timeline)."""
        return None if self.selected_seq is None else self.event(self.selected_seq)

    # -- messages from the front end ----------------------------------------------------------
    def _on_message(self, widget: Any, content: Any, buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        request = content.get("request")
        try:
            if kind == "range":
                if "offset" in content:
                    window = self._show_index(int(content["offset"]))
                elif "around" in content:
                    window = self.show_around(int(content["around"]))
                elif "t0" in content:
                    t1 = content.get("t1")
                    window = self.show_time(float(content["t0"]),
                                            None if t1 is None else float(t1))
                else:
                    end = content.get("end")
                    window = self.show_range(int(content.get("start", 1)),
                                             None if end is None else int(end))
                self.send({"type": "range", "request": request, **window})
                return
            if kind == "refresh":
                self.refresh()
                self._reply(kind, request, self.summary.get("status"))
                return
            if kind not in ("signal", "cancel", "terminate", "reset_preview", "reset"):
                raise ValueError(f"unknown message type {kind!r}")
            value = getattr(self, f"_do_{kind}")(content)
        except Exception as exc:
            self._fail(kind, request, exc)
            return
        self._reply(kind, request, value)
        try:
            self.refresh()
        except Exception:  # the action happened; a failed refresh shouldn't mask that
            pass

    def _reply(self, action: Any, request: Any, value: Any) -> None:
        message = {"type": "result", "action": action, "request": request, "ok": True,
                   "value": _jsonable(value)}
        self.last_result = message
        self.send(message)

    def _fail(self, action: Any, request: Any, exc: Exception) -> None:
        message = {"type": "error", "action": action, "request": request, "ok": False,
                   "error": type(exc).__name__, "message": str(exc)}
        self.last_result = message
        self.send(message)

    def _do_signal(self, content: dict[str, Any]) -> Any:
        name = content.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("a signal needs a name")
        return {"queued": self.client.signal(self.run_id, name, content.get("payload"))}

    def _do_cancel(self, content: dict[str, Any]) -> Any:
        return {"requested": self.client.cancel(self.run_id, content.get("reason"))}

    def _do_terminate(self, content: dict[str, Any]) -> Any:
        self.client.terminate(self.run_id, content.get("reason"))
        return {"terminated": True}

    def _target(self, content: dict[str, Any]) -> int:
        seq = content.get("seq", self.selected_seq)
        if seq is None:
            raise ValueError("select an event to reset to")
        return int(seq)

    def _do_reset_preview(self, content: dict[str, Any]) -> Any:
        seq = self._target(content)
        preview = self.client.reset(self.run_id, to_event=seq, dry_run=True).to_json()
        self._previewed = seq if preview.get("valid") else None
        self.reset_preview = preview
        return preview

    def _do_reset(self, content: dict[str, Any]) -> Any:
        seq = self._target(content)
        if self._previewed != seq:
            raise ValueError(f"preview the reset to event {seq} first (and it must be valid)")
        self._previewed = None
        self.reset_preview = None
        result = self.client.reset(
            self.run_id, to_event=seq, reason=content.get("reason") or "reset from explorer",
            reapply_signals=content.get("reapply_signals") or "buffer",
        )
        return result.to_json()

    def __repr__(self) -> str:
        s = self.summary
        return (f"<HistoryExplorer {s.get('workflow_type')} {s.get('workflow_id')} "
                f"{s.get('status')} ({s.get('events')} events)>")


# -- the run card --------------------------------------------------------------------------------
class RunCard(_Live):
    """A compact live card: status, pending activities and timers, the last error."""

    _esm = STATIC / "explorer.js"
    _css = STATIC / "explorer.css"

    view = traitlets.Unicode("card").tag(sync=True)

    def __init__(self, client: Client, ref: str, *, live: bool = True, interval: float = 1.0,
                 **kwargs: Any) -> None:
        super().__init__(interval=interval, **kwargs)
        self.client = client
        self.ref = ref
        self.run_id = client.describe(ref).run_id
        self._history: list[HistoryEvent] = []
        self.refresh()
        if live:
            self.start_live()

    def refresh(self) -> None:
        info = self.client.describe(self.run_id)
        after = self._history[-1].seq if self._history else 0
        self._history.extend(self.client.history(self.run_id, after_seq=after))
        self.summary = _jsonable(run_summary(info, self._history))

    def __repr__(self) -> str:
        return f"<RunCard {self.summary.get('workflow_id')} {self.summary.get('status')}>"


def explore(client: Client, ref: str, **options: Any) -> HistoryExplorer:
    """The history explorer widget for run ``ref`` (a workflow id or run id)."""
    return HistoryExplorer(client, ref, **options)


def run_card(client: Client, ref: str, **options: Any) -> RunCard:
    """A compact live card for run ``ref``."""
    return RunCard(client, ref, **options)
