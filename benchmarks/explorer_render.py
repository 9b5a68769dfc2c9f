"""Benchmark: the history explorer at 10,000 and 100,000 events.

    python -m benchmarks.explorer_render [--events 10000,100000] [--repeat 5]

The widget's state is computed in Python from a real run's history (rows inserted into a
throwaway database), then the vendored ES module renders it in Debian's Chromium against
a minimal anywidget-like model. Reported per size: Python state build time and synced
bytes; the browser's first render (``render()`` through forced style and layout), a zoom
step, a table page (the kernel's window plus the browser's redraw); and what one live
refresh sends after 10 new events (bytes of the patch, against the whole state).
Targets (issue 11): first render < 500 ms at 10k and < 1.5 s at 100k, a table page
< 100 ms, a live refresh sends only the new rows.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg

import harvest_studio as hs
from harvest_studio.model import serde
from harvest_studio.studio.widgets.explorer import HistoryExplorer
from harvest_studio.studio.widgets.live import front_end

from . import _pg

CHROMIUM = "/usr/bin/chromium"
STATIC = Path(hs.__file__).parent / "studio" / "static"

PAGE = """<!doctype html><html><head><style>%(css)s</style></head><body>
<div id="el" style="width:1200px"></div><pre id="log"></pre>
<script type="module">
const state = %(state)s; const subs = {};
const model = {
  get: (k) => state[k], set: (k, v) => { state[k] = v; }, save_changes() {}, send() {},
  widget_manager: null,
  on: (n, f) => (subs[n] = subs[n] || []).push(f), off() {},
};
const src = %(js)s;
const mod = await import(URL.createObjectURL(new Blob([src], {type: "text/javascript"})));
const el = document.getElementById("el");
// force style and layout synchronously (animation frames do not run under --dump-dom)
const frame = () => { el.getBoundingClientRect(); return document.body.offsetHeight; };
const t0 = performance.now();
mod.default.render({model, el});
frame();
const rendered = performance.now() - t0;
const lanes = el.querySelector(".hs-lanes");
const box = lanes.getBoundingClientRect();
const t1 = performance.now();
for (let i = 0; i < 10; i++) {
  lanes.dispatchEvent(new WheelEvent("wheel", {deltaY: -120, clientX: box.left + 600,
                                              bubbles: true, cancelable: true}));
  frame();
}
const zoom = (performance.now() - t1) / 10;
// a table page: the kernel's answer (a new window of rows) arrives and is drawn
const pages = [];
for (const next of %(pages)s) {
  const t2 = performance.now();
  state.events = next.events; state.window = next.window;
  for (const name of ["events", "window"]) (subs["change:" + name] || []).forEach((f) => f());
  await Promise.resolve();
  frame();
  pages.push(performance.now() - t2);
}
document.getElementById("log").textContent = JSON.stringify(
  {rendered, zoom, pages, bars: el.querySelectorAll(".hs-bar").length,
   rows: el.querySelectorAll("tbody tr").length});
</script></body></html>"""


def synthetic_run(client: hs.Client, url: str, events: int) -> str:
    run = client.start("synthetic", 0, id=f"syn-{uuid.uuid4().hex[:6]}", force=True)
    assert run.run_id is not None
    start = client.history(run.run_id)[0].at
    rows = []
    seq = 1
    while seq < events:
        seq += 1
        scheduled = seq
        rows.append((seq, "ActivityScheduled", {"activity_type": "step", "args": [seq],
                                                 "queue": "q"}))
        if seq < events:
            seq += 1
            rows.append((seq, "ActivityCompleted", {"scheduled_seq": scheduled, "attempt": 1,
                                                    "result": seq}))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO harvest.history (run_id, seq, event_type, at, payload)"
            " SELECT %s, s, t, a, p::jsonb FROM unnest(%s::int[], %s::text[],"
            " %s::timestamptz[], %s::text[]) AS u(s, t, a, p)",
            (
                run.run_id,
                [r[0] for r in rows],
                [r[1] for r in rows],
                [start + timedelta(milliseconds=r[0]) for r in rows],
                [serde.dumps(r[2]) for r in rows],
            ),
        )
        conn.execute("UPDATE harvest.runs SET last_seq = %s WHERE run_id = %s",
                     (events, run.run_id))
    return run.run_id


def add_events(url: str, run_id: str, count: int) -> None:
    """``count`` more events at the end of the run (what a live refresh then finds)."""
    with psycopg.connect(url, autocommit=True) as conn:
        last, at = conn.execute("SELECT max(seq), max(at) FROM harvest.history WHERE run_id = %s",
                                (run_id,)).fetchone()
        for i in range(1, count + 1):
            seq = last + i
            kind, payload = ("ActivityScheduled",
                             {"activity_type": "late", "args": [seq], "queue": "q"})
            if i % 2 == 0:
                kind, payload = ("ActivityCompleted",
                                 {"scheduled_seq": seq - 1, "attempt": 1, "result": seq})
            conn.execute("INSERT INTO harvest.history (run_id, seq, event_type, at, payload)"
                         " VALUES (%s, %s, %s, %s, %s::jsonb)",
                         (run_id, seq, kind, at + timedelta(milliseconds=i), serde.dumps(payload)))
        conn.execute("UPDATE harvest.runs SET last_seq = %s WHERE run_id = %s",
                     (last + count, run_id))


def measure(client: hs.Client, url: str, events: int) -> dict[str, Any]:
    """Build the widget over a synthetic run of ``events`` events, page its table and
    refresh it once after 10 new events."""
    run_id = synthetic_run(client, url, events)
    t0 = time.perf_counter()
    explorer = HistoryExplorer(client, run_id)
    built = time.perf_counter() - t0
    state = {k: v for k, v in explorer.get_state().items() if not k.startswith("_")}
    pages, page_ms = [], []
    for offset in (0, events // 2, max(events - 1000, 0)):
        t1 = time.perf_counter()
        explorer._show_index(offset)
        page_ms.append((time.perf_counter() - t1) * 1000)
        pages.append({"events": explorer.events, "window": explorer.window})
    sent: list[Any] = []
    explorer.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    explorer._show_index(events)  # back at the tail, as a live view is
    add_events(url, run_id, 10)
    t2 = time.perf_counter()
    explorer.refresh()
    refreshed = time.perf_counter() - t2
    patch = [m for m in sent if m.get("type") == "patch"]
    explorer.close()
    return {"built": built, "state": state, "pages": pages, "page_ms": page_ms,
            "refresh": refreshed, "patch_bytes": sum(len(json.dumps(m)) for m in patch),
            "appended": sum(len(m.get("append", [])) for m in patch)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", default="10000,100000",
                        help="comma-separated sizes (default 10000,100000)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(n) for n in args.events.split(",")]
    url = _pg.create_database(_pg.start_server(), "bench_explorer")
    client = hs.connect(url)
    try:
        measured = {n: measure(client, url, n) for n in sizes}
    finally:
        client.close()
    from playwright.sync_api import sync_playwright  # bench extra; drives Debian's Chromium

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"],
        )
        try:
            for n, m in measured.items():
                page_file = Path(tmp) / f"page{n}.html"
                page_file.write_text(PAGE % {
                    "css": (STATIC / "explorer.css").read_text(),
                    "state": json.dumps(m["state"]),
                    "js": json.dumps(front_end()),
                    "pages": json.dumps(m["pages"]),
                })
                renders, zooms, browser_pages = [], [], []
                for _ in range(args.repeat):
                    page = browser.new_page(viewport={"width": 1300, "height": 900})
                    page.goto(page_file.as_uri())
                    page.wait_for_function("document.getElementById('log').textContent",
                                           timeout=120_000)
                    result = json.loads(page.inner_text("#log"))
                    renders.append(result["rendered"])
                    zooms.append(result["zoom"])
                    browser_pages += result["pages"]
                    bars = result["bars"]
                    page.close()
                size = len(json.dumps(m["state"]))
                page_total = statistics.median(m["page_ms"]) + statistics.median(browser_pages)
                print(f"{n:,} events: widget state built in {m['built'] * 1000:.0f} ms"
                      f" ({size / 1e6:.2f} MB synced, {len(m['state']['lanes'])} lanes)")
                print(f"  first render in Chromium: median {statistics.median(renders):.0f} ms"
                      f" (of {args.repeat}; {bars} bars drawn); zoom step median"
                      f" {statistics.median(zooms):.1f} ms")
                print(f"  table page of 500 rows: kernel {statistics.median(m['page_ms']):.1f} ms"
                      f" + browser {statistics.median(browser_pages):.1f} ms ="
                      f" {page_total:.1f} ms (median)")
                print(f"  live refresh after 10 new events: {m['refresh'] * 1000:.0f} ms in the"
                      f" kernel, sent {m['patch_bytes']:,} bytes ({m['appended']} new rows;"
                      f" the whole state is {size:,})")
        finally:
            browser.close()


if __name__ == "__main__":
    main()
