"""The history explorer: an anywidget over a run's history.

``explore(client, ref)`` returns a :class:`HistoryExplorer` (timeline lanes, a windowed event
table, a payload inspector and the operator actions); the compact live card is in
:mod:`.card`. Both need the ``notebook`` extra (``anywidget``), which is imported at module
level: ``import harvest_studio`` never imports this module; it is imported lazily
(``RunHandle.explore()``, ``%harvest explore RUN``).

The pure part (lanes, summaries) is plain functions over ``HistoryEvent`` lists in
:mod:`.lanes`, testable without a front end; live refresh is in :mod:`.live`. The front end
is ``static/`` (``live.front_end()``), a dependency-free ES module (no CDN, no build step).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import traitlets

from ...client import Client, RunInfo
from ...model.events import ActivityCompleted, ActivityFailed, ActivityStarted, HistoryEvent
from .compact import compact_rows, history_json
from .explorer_actions import RunActions
from .groups import GROUP_AT, GroupCache, filter_lanes, group_lanes, thin_points
from .lanes import LaneBuilder, _jsonable, _rel, event_row, run_summary
from .live import STATIC, _Live, front_end
from .snapshot import explorer_html

WINDOW = 500
MAX_WINDOW = 2000
TRAIL = 20  # runs remembered for "back"

__all__ = ["HistoryExplorer", "explore"]


# -- the explorer -------------------------------------------------------------------------------
class HistoryExplorer(_Live):
    """Timeline lanes, a windowed event table, a payload inspector and run actions.

    Synced to the front end: ``summary``, ``lanes``, ``events`` (a window of at most
    ``window_size`` rows: ``window`` gives its seq bounds and the total), ``selected_seq``
    / ``selected_event`` (clicking a row or a bar sets it; the kernel sees it),
    ``type_filter`` (event types to show, in the table and on the timeline; empty shows
    all), ``live``. A live refresh sends only what changed (a ``patch`` message: new and
    changed lanes, the rows added at the tail); ``revision`` counts those patches.
    Activities of one type with more than ``group_at`` lanes share one group lane.
    """

    _esm = front_end()
    _css = (STATIC / "explorer.css").read_text()  # a path would be watched, pinning widgets

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
    revision = traitlets.Int(0).tag(sync=True)
    base_revision = traitlets.Int(0).tag(sync=True)
    trail: traitlets.List[Any] = traitlets.List().tag(sync=True)  # runs opened before this one

    def __init__(self, client: Client, ref: str, *, window_size: int = WINDOW,
                 live: bool = False, interval: float = 1.0,
                 type_filter: Sequence[str] = (), selected_seq: int | None = None,
                 group_at: int = GROUP_AT, **kwargs: Any) -> None:
        self._lock = threading.RLock()
        self.history: list[HistoryEvent] = []
        self._seqs: list[int] = []  # seqs of the filtered view, for bisecting
        self._view: list[HistoryEvent] = []
        self.group_at = group_at
        super().__init__(window_size=window_size, interval=interval, **kwargs)
        self.client = client
        self.actions = RunActions(client)
        self.ref = ref
        self.on_msg(self._on_message)
        self._open(client.describe(ref))
        if type_filter:
            self.type_filter = sorted(type_filter)
        if selected_seq is not None:
            self.selected_seq = selected_seq
        if live:
            self.live = True

    def _open(self, info: RunInfo) -> None:
        """Show run ``info`` from its first event (the explorer starts here, and moves here
        when the user follows a reset, a child or a continuation)."""
        fetched = self.client.history(info.run_id)  # if this fails, nothing changed yet
        with self._lock:
            self.run_id = info.run_id
            self.history, self._view, self._seqs = [], [], []
            self._builder = LaneBuilder()
            self._groups: GroupCache = {}
            self.actions.previewed = None
            with self.hold_sync():
                self.selected_seq = None
                self.reset_preview = None
                self.lanes = []
                self.event_types = []
                self._load(info, patch=False, fetched=fetched)
                self._show_index(max(len(self._view) - self.window_size, 0))
            # earlier live patches kept the browser's copies behind this object's values:
            # send the new run's state whole, even where it equals what this object held
            self.sync()

    # -- data ----------------------------------------------------------------------------------
    def _load(self, info: RunInfo, *, patch: bool,
              fetched: list[HistoryEvent] | None = None) -> dict[str, Any]:
        """Fetch the events after the last one held (or take ``fetched``); recompute the
        summary and the lanes. With ``patch``, changed lanes are returned for a patch
        message instead of synced."""
        after = self.history[-1].seq if self.history else 0
        new = fetched if fetched is not None else self.client.history(self.run_id,
                                                                     after_seq=after)
        changes: dict[str, Any] = {}
        with self._lock:
            self.history.extend(new)
            self._builder.feed(new)
            self._extend_view(new)
            self._info = info
            with self.hold_sync():
                self.summary = _jsonable(run_summary(info, self.history))
                if new or not self.lanes or info.status == "RUNNING":
                    # an attempt that started since shows before its events are written
                    changes = self._publish_lanes(self._lane_view(), patch)
                types = sorted({e.event_type for e in new}.union(self.event_types))
                if types != self.event_types:
                    self.event_types = types
        return changes

    def _lane_view(self) -> list[dict[str, Any]]:
        lanes = self._builder.lanes(self._info.pending, self._info.waiting)
        if self.type_filter:
            wanted = set(self.type_filter)
            lanes = filter_lanes(lanes, lambda seq: self._type_at(seq) in wanted)
        last = _rel(self.history[-1].at, self.history[0].at) if self.history else 0.0
        now = max(float(self.summary.get("duration") or 0.0), last)
        lanes = [thin_points(lane, now) if lane["kind"] in ("workflow", "signals") else lane
                 for lane in lanes]
        return group_lanes(lanes, now, at=self.group_at, cache=self._groups)

    def _type_at(self, seq: int) -> str | None:
        record = self.event(seq)
        return None if record is None else record.event_type

    def _publish_lanes(self, lanes: list[dict[str, Any]], patch: bool) -> dict[str, Any]:
        old = self.lanes
        if lanes == old:
            return {}
        if not patch or not old:
            self.lanes = lanes
            return {}
        before = {lane["id"]: lane for lane in old}
        changed = [_lane_patch(before.get(lane["id"]), lane) for lane in lanes
                   if before.get(lane["id"]) != lane]
        ids = [lane["id"] for lane in lanes]
        self._trait_values["lanes"] = lanes  # the front end gets the patch, not the list
        return {"lanes": changed,
                "order": None if ids[:len(old)] == [lane["id"] for lane in old] else ids}

    def _extend_view(self, new: Sequence[HistoryEvent]) -> None:
        wanted = set(self.type_filter)
        rows = [e for e in new if not wanted or e.event_type in wanted]
        self._view = self._view + rows
        self._seqs = self._seqs + [e.seq for e in rows]

    def _rebuild_view(self) -> None:
        self._view, self._seqs = [], []
        self._extend_view(self.history)

    def refresh(self) -> None:
        """Fetch new events and the run's status; a window showing the tail follows it.
        Only what changed goes to the front end."""
        with self._lock:
            at_tail = not self.window or self.window.get("end", 0) >= self.window.get("last", 0)
            old_rows = self.events
            changes = self._load(self.client.describe(self.run_id), patch=True)
            if at_tail:
                changes.update(self._tail_patch(old_rows))
            else:
                window = {**self.window, "total": len(self._view),
                          "last": self._seqs[-1] if self._seqs else 0}
                if window != self.window:
                    self._trait_values["window"] = window
                    changes["window"] = window
            if changes:
                self.revision += 1
                self.send({"type": "patch", "revision": self.revision, **changes})

    def _tail_patch(self, old_rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Move the window to the tail; return the rows added and how many left the front."""
        index = max(len(self._view) - self.window_size, 0)
        rows, window = self._rows_at(index, self.window_size)
        if window == self.window:
            return {}
        first = rows[0]["seq"] if rows else 0
        kept = [row for row in old_rows if row["seq"] >= first]
        if kept != rows[:len(kept)]:  # the old window was not a run of the tail: send it all
            self._trait_values["events"] = rows
            self._trait_values["window"] = window
            self.send_state(["events", "window"])
            return {}
        self._trait_values["events"] = rows
        self._trait_values["window"] = window
        return {"append": rows[len(kept):], "drop": len(old_rows) - len(kept),
                "window": window}

    def sync(self) -> None:
        """Send the whole state again (a view opened after patches asks for it)."""
        with self._lock:
            self.base_revision = self.revision
            self.send_state(["lanes", "events", "window", "base_revision"])

    @traitlets.observe("type_filter")
    def _on_filter(self, change: dict[str, Any]) -> None:
        with self._lock:
            start = self.window.get("start", 1) if self.window else 1
            self._groups.clear()  # groups of other lanes
            self._rebuild_view()
            self.lanes = self._lane_view()
            self.show_range(start)

    # -- windows ---------------------------------------------------------------------------
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

    def _rows_at(self, index: int, count: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
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
        return [event_row(e, origin) for e in rows], window

    def _show_index(self, index: int, count: int | None = None) -> dict[str, Any]:
        count = self.window_size if count is None else count
        with self._lock:  # the live thread may be extending the history
            rows, window = self._rows_at(index, count)
            with self.hold_sync():
                self.events = rows
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
        try:
            self.selected_event = None if record is None else self._with_output(record)
        except Exception as exc:  # the output could not be read: show the event anyway
            self.selected_event = None if record is None else _jsonable(record.to_json())
            self._answer("select", None, error=exc)
        if record is not None and not (self.window.get("start", 0) <= seq
                                       <= self.window.get("end", -1)):
            self.show_around(seq)

    def _with_output(self, record: HistoryEvent) -> dict[str, Any]:
        """The event as JSON; an attempt's event also carries what the attempt printed."""
        shown: dict[str, Any] = _jsonable(record.to_json())
        event = record.event
        if isinstance(event, ActivityStarted | ActivityCompleted | ActivityFailed):
            for log in self.client.attempt_logs(self.run_id, activity_seq=event.scheduled_seq):
                if log.attempt == event.attempt:
                    shown["output"] = log.output
                    shown["output_dropped"] = log.dropped
        return shown

    @property
    def selected(self) -> HistoryEvent | None:
        """The selected event (clicked in the table or on the timeline)."""
        return None if self.selected_seq is None else self.event(self.selected_seq)

    def _snapshot_html(self) -> str:
        return explorer_html(self.summary, self.lanes)

    # -- messages from the front end ----------------------------------------------------------
    def _on_message(self, widget: Any, content: Any, buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        request = content.get("request")
        try:
            if kind == "range":
                self.send({"type": "range", "request": request, **self._range(content)})
                return
            handler = self._handlers().get(str(kind))
            if handler is None:
                raise ValueError(f"unknown message type {kind!r}")
            value = handler(content)
        except Exception as exc:
            self._answer(kind, request, error=exc)
            return
        self._answer(kind, request, value)
        if kind in ("signal", "update", "cancel", "terminate"):
            try:
                self.refresh()
            except Exception:  # the action happened; a failed refresh shouldn't mask that
                pass

    def _handlers(self) -> dict[str, Any]:
        run, actions = self.run_id, self.actions
        return {
            "refresh": self._refresh_status,
            "signal": lambda c: actions.signal(run, c),
            "query": lambda c: actions.query(run, c),
            "update": lambda c: actions.update(run, c),
            "cancel": lambda c: actions.cancel(run, c),
            "terminate": lambda c: actions.terminate(run, c),
            "reset_preview": self._reset_preview,
            "reset": self._reset,
            "open_run": lambda c: self.open_run(str(c.get("run_id") or "")),
            "back": lambda c: self.back(),
            "compact": lambda c: compact_rows(self.history),
            "json": lambda c: {"name": f"{self.summary.get('workflow_id')}-{run[:8]}.json",
                               "text": history_json(self.summary, self.history)},
            "sync": self._sync_revision,
        }

    def _refresh_status(self, content: dict[str, Any]) -> Any:
        self.refresh()
        return self.summary.get("status")

    def _sync_revision(self, content: dict[str, Any]) -> dict[str, Any]:
        self.sync()
        return {"revision": self.revision}

    def _range(self, content: dict[str, Any]) -> dict[str, Any]:
        if "offset" in content:
            return self._show_index(int(content["offset"]))
        if "around" in content:
            return self.show_around(int(content["around"]))
        if "t0" in content:
            t1 = content.get("t1")
            return self.show_time(float(content["t0"]), None if t1 is None else float(t1))
        end = content.get("end")
        return self.show_range(int(content.get("start", 1)), None if end is None else int(end))

    def _answer(self, action: Any, request: Any, value: Any = None,
                error: Exception | None = None) -> None:
        if error is not None:
            message = {"type": "error", "action": action, "request": request, "ok": False,
                       "error": type(error).__name__, "message": str(error)}
        else:
            message = {"type": "result", "action": action, "request": request, "ok": True,
                       "value": _jsonable(value)}
        if action not in ("compact", "json", "sync"):  # big answers are not kept
            self.last_result = message
        self.send(message)

    def _target(self, content: dict[str, Any]) -> int:
        seq = content.get("seq", self.selected_seq)
        if seq is None:
            raise ValueError("select an event to reset to")
        return int(seq)

    def _reset_preview(self, content: dict[str, Any]) -> dict[str, Any]:
        seq = self._target(content)
        if seq != self.selected_seq:
            self.selected_seq = seq  # a suggested point was clicked: select it too
        self.reset_preview = self.actions.reset_preview(self.run_id, seq)
        return dict(self.reset_preview)

    def _reset(self, content: dict[str, Any]) -> dict[str, Any]:
        result = self.actions.reset(self.run_id, self._target(content), content)
        self.reset_preview = None
        if content.get("follow") and result.get("new_run_id"):
            self.open_run(result["new_run_id"])
            result["followed"] = True
        else:
            self.refresh()
        return result

    # -- moving between runs -------------------------------------------------------------------
    def open_run(self, ref: str) -> str:
        """Show another run (a reset's new run, a child, a continuation); ``back()`` returns.
        Returns the run id shown."""
        if not ref:
            raise ValueError("open_run needs a run id")
        info = self.client.describe(ref)
        if info.run_id != self.run_id:
            here = {"run_id": self.run_id,
                    "label": f"{self.summary.get('workflow_id')} {self.run_id[:8]}"}
            self._open(info)
            self.trail = [*self.trail, here][-TRAIL:]
        return self.run_id

    def back(self) -> str:
        """Show the run shown before the last ``open_run``."""
        if not self.trail:
            raise ValueError("no earlier run to go back to")
        *rest, last = self.trail
        self._open(self.client.describe(last["run_id"]))
        self.trail = rest
        return self.run_id

    def __repr__(self) -> str:
        s = self.summary
        return (f"<HistoryExplorer {s.get('workflow_type')} {s.get('workflow_id')} "
                f"{s.get('status')} ({s.get('events')} events)>")


def _lane_patch(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """What changed in a lane: the whole lane, or (its first items unchanged) the items
    from the first that changed, marked ``splice``."""
    if old is None:
        return new
    before, after = old["items"], new["items"]
    same = 0
    for a, b in zip(before, after, strict=False):
        if a != b:
            break
        same += 1
    if same == 0:
        return new
    return {**new, "items": after[same:], "splice": same}


def explore(client: Client, ref: str, **options: Any) -> HistoryExplorer:
    """The history explorer widget for run ``ref`` (a workflow id or run id)."""
    return HistoryExplorer(client, ref, **options)
