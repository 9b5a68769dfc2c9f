"""Run a self-contained HTML page in Debian's headless Chromium and read what it logged.

The page writes a JSON value into ``<pre id="log">``; :func:`page_log` returns it."""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"


def page_log(page: Path, workdir: Path) -> Any:
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--no-first-run",
         f"--user-data-dir={workdir / 'profile'}", "--virtual-time-budget=5000",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    found = re.search(r'<pre id="log">([^<]+)</pre>', out.stdout)
    assert found, out.stderr[-2000:]
    return json.loads(html.unescape(found.group(1)))
