"""``harvest serve`` as the tests meet it: a real server process on a free port over a
test database, with one token per scope (and one bound to another namespace)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

import harvest_studio as hs

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ApiServer:
    base: str
    tokens: dict[str, str]  # "read", "operate", "admin", "other" (operate in namespace "other")

    def http(self, who: str | None = "admin") -> httpx.Client:
        headers = {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def api_server(db_url: str) -> Iterator[ApiServer]:
    with hs.connect(db_url, actor="setup") as client:
        client.create_namespace("other")
        tokens = {scope: client.create_token(f"t-{scope}", scope).secret
                  for scope in ("read", "operate", "admin")}
        tokens["other"] = client.create_token("t-other", "operate", namespace="other").secret
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "harvest_studio", "--database-url", db_url, "serve",
         "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read() if process.stdout else ""
                raise RuntimeError(f"harvest serve did not come up: {output[-2000:]}")
            time.sleep(0.1)
        yield ApiServer(base, tokens)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
