"""``harvest studio``: JupyterLab comes up on the project with the extension, the printed
address opens it, the API answers inside it, and Ctrl-C stops everything."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .lab_server import ROOT, free_port

pytestmark = pytest.mark.slow


def _studio(root: Path, db_url: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "HARVEST_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT),
           "JUPYTER_CONFIG_DIR": str(root / ".cfg"), "JUPYTER_RUNTIME_DIR": str(root / ".rt"),
           "JUPYTER_DATA_DIR": str(root / ".data")}
    return subprocess.Popen([sys.executable, "-m", "harvest_studio", "studio", *args],
                            cwd=root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_studio_opens_lab_on_the_tour_and_ctrl_c_stops_it(tmp_path: Path, db_url: str) -> None:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "00_tour.ipynb").write_text(
        (ROOT / "notebooks" / "00_tour.ipynb").read_text())
    port = free_port()
    studio = _studio(tmp_path, db_url, "--no-browser", "--port", str(port),
                     "--root", str(tmp_path))
    try:
        assert studio.stdout is not None
        first = studio.stdout.readline()
        assert first.startswith("Harvest Studio is up in "), (first, studio.stderr)
        url = re.search(r"(http://\S+)", first)
        assert url is not None
        page = url.group(1)
        assert page.startswith(f"http://127.0.0.1:{port}/lab/tree/notebooks/00_tour.ipynb?token=")
        assert "database postgresql://" in studio.stdout.readline()
        assert httpx.get(page, timeout=30).status_code == 200
        token = page.split("token=", 1)[1]
        counts = httpx.get(f"http://127.0.0.1:{port}/harvest/api/v1/run-counts",
                           headers={"Authorization": f"token {token}"}, timeout=30)
        assert counts.status_code == 200 and counts.json()["running"] == 0
    finally:
        studio.send_signal(signal.SIGINT)
        assert studio.wait(30) == 0
    deadline = time.time() + 10
    while time.time() < deadline:  # Jupyter went with it
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=1)
        except httpx.TransportError:
            break
        time.sleep(0.2)
    else:
        pytest.fail("JupyterLab kept running after Ctrl-C")
    log = (tmp_path / ".harvest" / "studio.log").read_text()
    assert "harvest_studio.jupyter | extension was successfully loaded" in log


def test_studio_without_the_tour_opens_lab_and_bad_input_is_one_line(
    tmp_path: Path, db_url: str
) -> None:
    for args, says in ((["--root", str(tmp_path / "missing")], "is not a directory"),
                       (["--namespace", "billing"], "choose one in the sidebar")):
        bad = _studio(tmp_path, db_url, *args)
        _, err = bad.communicate(timeout=60)
        assert bad.returncode == 2
        assert err.strip().count("\n") == 0 and says in err
    port = free_port()
    studio = _studio(tmp_path, db_url, "--no-browser", "--port", str(port), "--json")
    try:
        assert studio.stdout is not None
        first = json.loads(studio.stdout.readline())
        assert re.fullmatch(rf"http://127\.0\.0\.1:{port}/lab\?token=\w+", first["url"]), first
        assert first["root"] == str(tmp_path) and first["database"].startswith("postgresql://")
    finally:
        studio.send_signal(signal.SIGINT)
        assert studio.wait(30) == 0
