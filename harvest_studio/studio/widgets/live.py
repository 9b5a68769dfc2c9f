"""Live refresh shared by the widgets: the :class:`_Poller` thread and the :class:`_Live`
anywidget base (``live``, ``interval`` and ``summary`` traits; a static ``text/html``
picture beside the widget view, refreshed when the run ends), and ``STATIC``, the
vendored front end."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ...client import TERMINAL_STATUSES

log = logging.getLogger("harvest_studio.studio")
STATIC = Path(__file__).parent.parent / "static"
FRONT_END = ("common.js", "card.js", "timeline.js", "triage.js", "explorer.js")


def bundle_parts(bundle: Any) -> tuple[Any, dict[str, Any]]:
    """``(data, metadata)`` of a widget's ``_repr_mimebundle_`` (anywidget returns a pair,
    ipywidgets a dict)."""
    return bundle if isinstance(bundle, tuple) else (bundle, {})


def front_end() -> str:
    """The widgets' ES module: the vendored parts joined in order (no build step)."""
    return "\n".join((STATIC / part).read_text() for part in FRONT_END)


# widgets refreshing live, so a cell that waited for a run can settle them at once
_LIVE: weakref.WeakSet[_Live] = weakref.WeakSet()


def settle(run_id: str) -> None:
    """Refresh now the live widgets showing run ``run_id`` (a cell waited for it to end):
    they show the end, stop polling and replace their saved picture, in this cell."""
    for widget in list(_LIVE):
        if getattr(widget, "run_id", None) == run_id and widget.live:
            try:
                widget._live_tick()
            except Exception:  # the cell's answer stands; the widget catches up later
                log.warning("could not refresh a widget of run %s", run_id, exc_info=True)


class _Poller:
    """A background thread calling ``refresh()`` every ``interval`` seconds while the run is
    RUNNING; ``stop()`` ends it (so does the run ending)."""

    def __init__(self, refresh: Any, running: Any, interval: float,
                 failed: Any = lambda exc: None) -> None:
        self._refresh, self._running, self.interval = refresh, running, interval
        self._failed = failed
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name="harvest-explorer", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        pause = self.interval
        while not self._stop.wait(pause):
            began = time.monotonic()
            try:
                self._refresh()
                self.error = None
            except Exception as exc:  # keep the widget alive; show the error instead
                self.error = exc
                self._failed(exc)
            if not self._running():
                return
            # a refresh that takes long (a huge run) must not keep the kernel busy: wait
            # at least twice as long as it took
            pause = max(self.interval, 2 * (time.monotonic() - began))

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
    _display_ids: list[str] | None = None
    _shown_snapshot = ""

    def _snapshot_html(self) -> str:  # pragma: no cover - each widget defines its own
        """The static picture kept by a saved notebook."""
        return ""

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        data, metadata = bundle_parts(super()._repr_mimebundle_(**kwargs))
        if isinstance(data, dict):
            snapshot = self._snapshot_html()
            if snapshot:
                data = {**data, "text/html": snapshot}
                self._shown_snapshot = snapshot
        return data, metadata

    def _ipython_display_(self) -> None:
        """Display with an id, so the picture can be replaced when the run ends."""
        from IPython.display import display

        data, metadata = self._repr_mimebundle_()
        handle = display(data, metadata=metadata, raw=True,  # type: ignore[no-untyped-call]
                         display_id=True)
        if handle is not None:
            self._display_ids = [*(self._display_ids or []), handle.display_id]

    def _update_snapshot(self) -> None:
        """Replace the picture in every output showing this widget (once it changed)."""
        if not self._display_ids or self._snapshot_html() == self._shown_snapshot:
            return
        from IPython.display import update_display

        data, metadata = self._repr_mimebundle_()
        for display_id in self._display_ids:
            update_display(data, metadata=metadata, raw=True,  # type: ignore[no-untyped-call]
                           display_id=display_id)

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
        _LIVE.add(self)
        self._poller = _Poller(self._live_tick, lambda: self.running and self.live,
                               self.interval, self._refresh_failed)
        if not self.live:
            self.live = True

    def _live_tick(self) -> None:
        self.refresh()
        if not self.running:
            self.live = False
            self._update_snapshot()

    def _refresh_failed(self, exc: Exception) -> None:
        """A live refresh failed (the database went away...): say so in the view; the
        poller tries again at its next tick."""
        self.send({"type": "error", "action": "refresh", "request": None, "ok": False,
                   "error": type(exc).__name__,
                   "message": f"{exc} (live refresh; retrying)"})

    def stop_live(self) -> None:
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.stop()
        if self.live:
            self.live = False

    def close(self) -> None:
        self.stop_live()
        super().close()
