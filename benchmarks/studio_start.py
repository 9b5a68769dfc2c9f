"""From ``harvest studio`` to a working Lab page: how long a person waits.

    python -m benchmarks.studio_start [--rounds 3] [--runs 200]

Each round starts ``harvest studio --no-browser`` on a fresh root (new Jupyter config and
workspace) against a private Postgres holding ``--runs`` runs, then opens the printed
address in Debian's headless Chromium and times, from the command's start:

* **up**: the command printed the address (JupyterLab answers);
* **notebook**: JupyterLab shows the tour notebook (Lab's own start, for comparison);
* **page**: the status bar's Harvest counts are filled in as well (the extension talked to
  the server extension, which started on that first request);
* **sidebar**: after one click on the Harvest tab, the sidebar lists runs.

The browser is started once, before the rounds (its own start-up is not the studio's).
No peer is run: Temporal's and DBOS's UIs are separate servers, not JupyterLab.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import harvest_studio as hs

from . import _pg
from .peers import percentiles

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@hs.workflow
async def parked(ctx: hs.WorkflowContext) -> None:
    await ctx.wait_condition(lambda: False)


def _round(url: str, browser: object) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="harvest-studio-bench-"))
    (root / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / "00_tour.ipynb", root / "notebooks")
    env = {**os.environ, "HARVEST_DATABASE_URL": url, "PYTHONPATH": str(ROOT),
           "JUPYTER_CONFIG_DIR": str(root / ".cfg"), "JUPYTER_RUNTIME_DIR": str(root / ".rt"),
           "JUPYTER_DATA_DIR": str(root / ".data")}
    began = time.perf_counter()
    studio = subprocess.Popen(
        [sys.executable, "-m", "harvest_studio", "studio", "--no-browser", "--root", str(root)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert studio.stdout is not None
        first = studio.stdout.readline()
        up = time.perf_counter() - began
        found = re.search(r"(http://\S+)", first)
        if found is None:
            raise SystemExit(f"harvest studio did not start: {first}")
        page = browser.new_page(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
        page.goto(found.group(1))
        page.wait_for_selector(".jp-Notebook", timeout=120_000)
        notebook = time.perf_counter() - began
        page.wait_for_function(
            "() => /^\\d+$/.test(document.querySelector('.hv-count-running')?.textContent || '')",
            timeout=120_000)
        loaded = time.perf_counter() - began
        page.locator('.jp-SideBar [data-id="harvest-sidebar"]').click()
        page.wait_for_selector("#harvest-sidebar li.hv-run", timeout=120_000)
        sidebar = time.perf_counter() - began
        page.close()
        return {"up": up, "notebook": notebook, "page": loaded, "sidebar": sidebar}
    finally:
        studio.send_signal(signal.SIGINT)
        studio.wait(60)
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    url = _pg.create_database(_pg.start_server(), "bench_studio")
    client = hs.connect(url)
    for n in range(args.runs):
        client.start(parked, id=f"parked-{n}")
    client.close()
    results: list[dict[str, float]] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for n in range(args.rounds):
                result = _round(url, browser)
                results.append(result)
                print(f"round {n + 1}: up {result['up']:.2f}s, notebook shown "
                      f"{result['notebook']:.2f}s, page {result['page']:.2f}s, "
                      f"sidebar {result['sidebar']:.2f}s", flush=True)
        finally:
            browser.close()
    load = os.getloadavg()
    print(f"harvest studio → Lab page, {args.rounds} rounds, {args.runs} runs in the database "
          f"(load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
    for key, label in (("up", "address printed"), ("notebook", "Lab shows the tour notebook"),
                       ("page", "page loaded, counts shown"),
                       ("sidebar", "sidebar lists runs (one click)")):
        p = percentiles([r[key] for r in results])  # (the helper's unit is a label only)
        print(f"  {label:34s} median {p['p50_ms']:.2f}s  worst {p['max_ms']:.2f}s")


if __name__ == "__main__":
    main()
