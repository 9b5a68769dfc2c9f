"""The history explorer: an anywidget over a run's history.

``explore(client, ref)`` returns a :class:`HistoryExplorer` (timeline lanes, a windowed event
table, a payload inspector and the operator actions); the compact live card is in
:mod:`.card`. Both need the ``notebook`` extra (``anywidget``), which is imported at module
level: ``import harvest_studio`` never imports this module; it is imported lazily
(``RunHandle.explore()``, ``%harvest explore RUN``).

The pure part (lanes, summaries) is plain functions over ``HistoryEvent`` lists in
:mod:`.lanes`, testable without a front end; live refresh is in :mod:`.live`. The front end
is ``static/explorer.js``, a dependency-free ES module (no CDN, no build step).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import traitlets

from ...client import Client, RunInfo
from ...model.events import HistoryEvent
from .lanes import _jsonable, _rel, compute_lanes, event_row, run_summary
from .live import STATIC, _Live

WINDOW = 500
MAX_WINDOW = 2000

__all__ = ["HistoryExplorer", "explore"]


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
                if new or not self.lanes or info.status == "RUNNING":
                    # an attempt that started since shows before its events are written;
                    # equal lanes are not sent again
                    lanes = compute_lanes(self.history, info.pending)
                    if lanes != self.lanes:
                        self.lanes = lanes
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


def explore(client: Client, ref: str, **options: Any) -> HistoryExplorer:
    """The history explorer widget for run ``ref`` (a workflow id or run id)."""
    return HistoryExplorer(client, ref, **options)
