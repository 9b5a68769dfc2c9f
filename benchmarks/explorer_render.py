"""Benchmark: the history explorer's first render in headless Chromium, 10,000 events.

    python -m benchmarks.explorer_render [--events 10000] [--repeat 5]

The widget's state is computed in Python from a real run's history (rows inserted into a
throwaway database), then the vendored ES module renders it in Debian's Chromium against
a minimal anywidget-like model. Reported: Python state build time, the browser's time from
``render()`` through forced style and layout, and one zoom step.
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
document.getElementById("log").textContent = JSON.stringify(
  {rendered, zoom, bars: el.querySelectorAll(".hs-bar").length});
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    url = _pg.create_database(_pg.start_server(), "bench_explorer")
    client = hs.connect(url)
    try:
        run_id = synthetic_run(client, url, args.events)
        t0 = time.perf_counter()
        explorer = HistoryExplorer(client, run_id)
        built = time.perf_counter() - t0
        state = {k: v for k, v in explorer.get_state().items() if not k.startswith("_")}
        explorer.close()
    finally:
        client.close()
    page_text = PAGE % {
        "css": (STATIC / "explorer.css").read_text(),
        "state": json.dumps(state),
        "js": json.dumps(front_end()),
    }
    from playwright.sync_api import sync_playwright  # bench extra; drives Debian's Chromium

    renders, zooms, bars = [], [], 0
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        page_file = Path(tmp) / "page.html"
        page_file.write_text(page_text)
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"],
        )
        try:
            for _ in range(args.repeat):
                page = browser.new_page(viewport={"width": 1300, "height": 900})
                page.goto(page_file.as_uri())
                page.wait_for_function("document.getElementById('log').textContent", timeout=60000)
                result = json.loads(page.inner_text("#log"))
                renders.append(result["rendered"])
                zooms.append(result["zoom"])
                bars = result["bars"]
                page.close()
        finally:
            browser.close()
    size = len(json.dumps(state))
    print(f"{args.events} events: widget state built in {built * 1000:.0f} ms"
          f" ({size / 1e6:.2f} MB synced)")
    print(f"first render in Chromium: median {statistics.median(renders):.0f} ms"
          f" (of {args.repeat}; {bars} bars drawn); zoom step median"
          f" {statistics.median(zooms):.1f} ms")


if __name__ == "__main__":
    main()
