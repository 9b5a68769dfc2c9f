"""A real JupyterLab on loopback for the browser tests, and Chromium's launch settings."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.3)


@contextlib.contextmanager
def jupyter_lab(root: Path, env: dict[str, str] | None = None,
                log: Path | None = None, args: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """JupyterLab serving ``root``, with this checkout's package importable and the
    extensions installed in this environment; yields ``(base_url, token)``."""
    port, token = free_port(), secrets.token_hex(16)
    full_env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / ".cfg"),
                "JUPYTER_RUNTIME_DIR": str(root / ".rt"), "JUPYTER_DATA_DIR": str(root / ".data"),
                "PYTHONPATH": str(ROOT), **(env or {})}
    out = log.open("wb") if log is not None else subprocess.DEVNULL
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", *args],
        env=full_env, stdout=out, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/api/status?token={token}")
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        if log is not None:
            out.close()  # type: ignore[union-attr]
