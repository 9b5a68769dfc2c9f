"""A killed kernel loses nothing: its worker's lease expires and the next kernel's worker
finishes the run (a real ipykernel, killed hard)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import KernelManager

import harvest_studio as hs

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]

SETUP = """
import time
import harvest_studio as hs
%load_ext harvest_studio
%config HarvestMagics.database_url = {url!r}
%config HarvestMagics.worker_options = {{"lease_seconds": 2.0, "poll_interval": 0.2, \
"maintenance_interval": 0.2}}

@hs.activity(start_to_close="60s")
def slow(ctx, marker):
    with open(marker, "a") as f:
        f.write(f"{{ctx.attempt}} {{ctx.idempotency_key}}\\n")
    time.sleep(3)
    return "done"

@hs.workflow
async def survives(ctx, marker):
    return await ctx.execute_activity(slow, marker)
"""


def run_code(km: KernelManager, code: str) -> None:
    client = km.client()
    client.start_channels()
    try:
        reply: dict[str, Any] = client.execute_interactive(code, timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        client.stop_channels()


def kernel(tmp_path: Path) -> KernelManager:
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(tmp_path), env={**os.environ, "PYTHONPATH": str(ROOT)})
    return km


def test_run_survives_a_killed_kernel(client: hs.Client, db_url: str, tmp_path: Path) -> None:
    marker = tmp_path / "attempts.txt"
    first = kernel(tmp_path)
    try:
        run_code(first, SETUP.format(url=db_url))
        run_code(first, "%harvest worker start;")
        run_code(first, f"%harvest start survives '{json.dumps(str(marker))}' --id k1;")
    except BaseException:
        first.shutdown_kernel(now=True)
        raise
    deadline = time.time() + 30
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the activity never started"
    first.shutdown_kernel(now=True)  # killed mid-activity: no drain, no goodbye

    second = kernel(tmp_path)
    try:
        run_code(second, SETUP.format(url=db_url))
        run_code(second, "%harvest worker start;")
        assert client.result("k1", timeout=60) == "done"
    finally:
        second.shutdown_kernel(now=True)
    attempts = marker.read_text().splitlines()
    assert len(attempts) == 2 and len({line.split()[1] for line in attempts}) == 1
    completed = [e for e in client.history("k1") if e.event_type == "ActivityCompleted"]
    assert len(completed) == 1
