"""A real widget's two halves without Jupyter: the Python object in the test process and
its ES module in Debian's headless Chromium, joined the way a kernel and a front end are.

Trait changes and ``send()`` messages go to the page as they happen (queued, delivered by
:meth:`Bridge.pump`); ``model.send`` and ``model.save_changes`` in the page call the
widget's message handler and set its traits. Silent kernel-side updates reach the page
only through messages, exactly as in JupyterLab — so a test sees what a person would.
"""

from __future__ import annotations

import json
import queue
import time
from typing import Any

from harvest_studio.studio.widgets.live import STATIC, front_end

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]

PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>%(css)s</style></head>
<body><div id="el" style="width:%(width)dpx"></div>
<script type="module">
const state = %(state)s; const subs = {}; let pending = {};
const fire = (n, ...a) => (subs[n] || []).slice().forEach((f) => f(...a));
const model = {
  get: (k) => state[k],
  set: (k, v) => { state[k] = v; pending[k] = v; fire("change:" + k); },
  save_changes() { const p = pending; pending = {}; for (const k in p) window.hsSave(k, p[k]); },
  send: (m) => { window.hsSent.push(m); window.hsSend(m); },
  on: (n, f) => (subs[n] = subs[n] || []).push(f),
  off: (n, f) => { subs[n] = (subs[n] || []).filter((g) => g !== f); },
};
window.hsSent = [];
window.hsDeliver = (kind, a, b) => {
  if (kind === "msg") fire("msg:custom", a); else { state[a] = b; fire("change:" + a); }
};
const mod = await import(URL.createObjectURL(new Blob([%(js)s], {type: "text/javascript"})));
window.hsCleanup = mod.default.render({model, el: document.getElementById("el")});
window.hsReady = true;
</script></body></html>"""


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


class Bridge:
    """Join ``widget`` to a page of ``browser``; ``delivered`` counts what reached it."""

    def __init__(self, browser: Any, widget: Any, *, width: int = 1100) -> None:
        self.widget = widget
        self.outbox: queue.SimpleQueue[tuple[str, Any, Any]] = queue.SimpleQueue()
        self.delivered: list[tuple[str, Any, int]] = []  # (kind, name or type, bytes)
        self.errors: list[str] = []
        self._saving: tuple[str, Any] | None = None
        names = [n for n in widget.traits(sync=True) if not n.startswith("_")]
        widget.send = self._send
        widget.observe(self._changed, names=names)
        self.page = browser.new_page(viewport={"width": width + 100, "height": 1000})
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", lambda m: self.errors.append(m.text)
                     if m.type == "error" else None)
        self.page.expose_function("hsSend", self._from_page)
        self.page.expose_function("hsSave", self._save)
        state = {k: v for k, v in widget.get_state().items() if not k.startswith("_")}
        self.page.set_content(PAGE % {
            "css": (STATIC / "explorer.css").read_text(), "width": width,
            "state": json.dumps(_plain(state)), "js": json.dumps(front_end()),
        })
        self.page.wait_for_function("window.hsReady === true", timeout=30_000)

    # kernel -> page
    def _send(self, content: Any, buffers: Any = None) -> None:
        self.outbox.put(("msg", _plain(content), None))

    def _changed(self, change: dict[str, Any]) -> None:
        value = _plain(change["new"])
        if self._saving == (change["name"], value):
            return  # the page's own change, not echoed (as ipywidgets' property lock does)
        self.outbox.put(("set", change["name"], value))

    # page -> kernel
    def _from_page(self, message: Any) -> None:
        self.widget._on_message(self.widget, message, [])

    def _save(self, name: str, value: Any) -> None:
        self._saving = (name, value)
        try:
            setattr(self.widget, name, value)
        finally:
            self._saving = None

    def pump(self, seconds: float = 0.3) -> None:
        """Deliver what the kernel side sent, for ``seconds`` (at least once)."""
        deadline = time.monotonic() + seconds
        while True:
            while True:
                try:
                    kind, a, b = self.outbox.get_nowait()
                except queue.Empty:
                    break
                size = len(json.dumps(a if kind == "msg" else b))
                self.delivered.append((kind, a.get("type") if kind == "msg" else a, size))
                self.page.evaluate("([k, a, b]) => window.hsDeliver(k, a, b)", [kind, a, b])
            self.page.wait_for_timeout(50)
            if time.monotonic() >= deadline and self.outbox.empty():
                return

    def until(self, script: str, timeout: float = 20.0) -> Any:
        """Pump until ``script`` (a JS expression) is truthy in the page; its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump(0.1)
            value = self.page.evaluate(script)
            if value:
                return value
        raise AssertionError(f"never true in the page: {script}; errors: {self.errors}")

    def close(self) -> None:
        self.page.evaluate("window.hsCleanup && window.hsCleanup()")
        self.page.close()
