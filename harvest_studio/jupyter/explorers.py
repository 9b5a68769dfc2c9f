"""History explorers hosted by the Jupyter server, for Lab documents that have no kernel.

The explorer of a Lab document is the notebook widget's own object
(:class:`~harvest_studio.studio.widgets.explorer.HistoryExplorer`) living in the server
process. Where a kernel would carry its messages over a comm, a :class:`RelayComm` carries
them to the document's event stream; what the document sends comes back through the
widget's own message entrance. So the document runs the widget's ES module unchanged, and
the two cannot drift apart.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from ..client import Client
from ..studio.widgets.explorer import HistoryExplorer

IDLE_SECONDS = 120.0
"""an explorer nobody has listened to for this long is closed"""
MAX_EXPLORERS = 64
"""explorers open at once; the one idle longest is closed to make room"""
QUEUE_LIMIT = 2000
"""messages held for a slow listener; past it, the listener is told to sync again"""

DOM_TRAITS = frozenset({"layout", "tabbable", "tooltip"})
"""ipywidgets' own traits, which only a widget manager reads"""
Frame = dict[str, Any]
Sink = Callable[[Frame], None]


class RelayComm:
    """Stands where a kernel's comm would: the widget's outgoing ``update`` and ``custom``
    messages go to ``sink`` as frames."""

    def __init__(self, sink: Sink) -> None:
        self.comm_id = uuid.uuid4().hex
        self._sink = sink
        self._handlers: list[Callable[[dict[str, Any]], Any]] = []

    def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        if not isinstance(data, dict):
            return
        if data.get("method") == "update":
            self._sink({"kind": "state", "state": data.get("state", {})})
        elif data.get("method") == "custom":
            self._sink({"kind": "msg", "content": data.get("content")})

    def on_msg(self, callback: Callable[[dict[str, Any]], Any]) -> None:
        self._handlers.append(callback)

    def on_close(self, callback: Any) -> None:
        pass

    def close(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        self._handlers.clear()


class ServedExplorer:
    """One explorer and the listeners of its document (normally one browser tab).

    The widget is used from several threads (each request's, and its live refresh), so
    what reads or changes it holds the widget's own lock: a snapshot never sees half a
    refresh, and the document's messages are applied one at a time, in order."""

    def __init__(self, widget: HistoryExplorer, relay: RelayComm) -> None:
        self.widget = widget
        self.relay = relay
        self.key = secrets.token_urlsafe(12)
        self.listeners: set[asyncio.Queue[Frame]] = set()
        self.idle_since = time.monotonic()
        self.loop = asyncio.get_running_loop()

    def state(self) -> dict[str, Any]:
        """The widget's synced state, without its front end (the document imports that
        as a module). Called on a worker thread: it waits for a refresh under way."""
        with self.widget._lock:
            state = self.widget.get_state()
        return {k: v for k, v in state.items()
                if not k.startswith("_") and k not in DOM_TRAITS}

    def deliver(self, frame: Frame) -> None:
        """Called on any thread (the live refresh runs on its own)."""
        self.loop.call_soon_threadsafe(self._fan_out, frame)

    def _fan_out(self, frame: Frame) -> None:
        for queue in list(self.listeners):
            if queue.qsize() >= QUEUE_LIMIT:
                # a listener this far behind is told to start again from a fresh state
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait({"kind": "resync"})
            else:
                queue.put_nowait(frame)

    def receive(self, data: dict[str, Any]) -> None:
        """A message of the document, as a comm message reaches a widget in a kernel."""
        with self.widget._lock:
            self.widget._handle_msg({"content": {"data": data}, "buffers": []})

    def close(self) -> None:
        """Stop the live refresh and forget the widget (a worker thread: stopping the
        refresh waits for its thread)."""
        _forget(self.widget)


def _forget(widget: Any) -> None:
    layout = getattr(widget, "layout", None)
    widget.close()
    if layout is not None:
        layout.close()


class Explorers:
    """The server's explorers, one sync client per namespace and user for them; those
    nobody listens to are closed after :data:`IDLE_SECONDS` by :meth:`sweep`, which the
    server calls every so often."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self._clients: dict[tuple[str, str], Client] = {}
        self._explorers: dict[str, ServedExplorer] = {}
        self._lock = threading.Lock()

    def _client(self, namespace: str, actor: str) -> Client:
        """The client of ``namespace`` whose changes the audit trail records for ``actor``
        (the Jupyter user), coming from the ``lab`` front end."""
        with self._lock:
            found = self._clients.get((namespace, actor))
            if found is None:
                found = Client(self.url, namespace=namespace, actor=actor, front_end="lab")
                self._clients[namespace, actor] = found
            return found

    async def open(self, ref: str, namespace: str, actor: str, *,
                   live: bool = True) -> ServedExplorer:
        """An explorer of run ``ref`` (the client's errors when there is no such run)."""
        await asyncio.to_thread(self.sweep)
        loop_ready: list[ServedExplorer] = []
        relay = RelayComm(lambda frame: loop_ready[0].deliver(frame) if loop_ready else None)

        def build() -> HistoryExplorer:
            # the relay is the widget's comm from the start: no kernel comm is opened
            try:
                return HistoryExplorer(self._client(namespace, actor), ref, comm=relay)
            except BaseException:
                _registered_widgets().pop(relay.comm_id, None)
                raise

        widget = await asyncio.to_thread(build)
        served = ServedExplorer(widget, relay)
        loop_ready.append(served)
        if live and widget.running:
            await asyncio.to_thread(setattr, widget, "live", True)
        with self._lock:
            self._explorers[served.key] = served
        return served

    def count(self) -> int:
        return len(self._explorers)

    def listener_count(self) -> int:
        with self._lock:
            return sum(len(e.listeners) for e in self._explorers.values())

    def get(self, key: str) -> ServedExplorer | None:
        return self._explorers.get(key)

    def sweep(self) -> int:
        """Close explorers idle past :data:`IDLE_SECONDS`, and the idlest past the cap;
        returns how many (a worker thread: closing one waits for its refresh)."""
        now = time.monotonic()
        with self._lock:
            idle = sorted((e for e in self._explorers.values() if not e.listeners),
                          key=lambda e: e.idle_since)
            going = [e for n, e in enumerate(idle)
                     if now - e.idle_since > IDLE_SECONDS
                     or len(self._explorers) - n >= MAX_EXPLORERS]
            for explorer in going:
                del self._explorers[explorer.key]
        for explorer in going:
            explorer.close()
        return len(going)

    def discard(self, key: str) -> None:
        with self._lock:
            explorer = self._explorers.pop(key, None)
        if explorer is not None:
            explorer.close()

    def close(self) -> None:
        with self._lock:
            keys = list(self._explorers)
        for key in keys:
            self.discard(key)
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


def _registered_widgets() -> dict[str, Any]:
    from ipywidgets.widgets import widget as ipywidget  # type: ignore[import-untyped]

    instances: dict[str, Any] = ipywidget._instances
    return instances
