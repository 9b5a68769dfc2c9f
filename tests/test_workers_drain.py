"""The worker registry and remote drain: a real ``harvest worker`` process, drained while
it works, finishes what it holds, exits, and loses nothing; another worker does the rest."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import harvest_studio as hs
from harvest_studio.cli import main as harvest_main

from .apps import drain_app
from .conftest import FAST, wait_for

ROOT = Path(__file__).resolve().parent.parent


def test_drain_a_worker_with_work_in_flight(
    client: hs.Client, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    start_worker: Callable[..., hs.Worker], monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = tmp_path / "steps.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HARVEST_TEST_STEP_LOG": str(log)}
    process = subprocess.Popen(
        [sys.executable, "-m", "harvest_studio", "--database-url", db_url, "worker",
         "tests.apps.drain_app", "--concurrency", "4"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    monkeypatch.setenv("HARVEST_TEST_STEP_LOG", str(log))  # the second worker runs in here
    try:
        wait_for(lambda: len(client.workers()) == 1, timeout=30)
        [worker] = client.workers()
        assert worker.state == "running" and worker.pid == process.pid
        assert worker.slots == 4 and worker.version and "+" in worker.version
        assert worker.queues == ["default"]
        runs = [client.start(drain_app.slow_pair, i) for i in range(8)]
        wait_for(lambda: client.workers()[0].running_tasks >= 2, timeout=30)
        [queue] = [q for q in client.queues() if q.name == "default"]
        assert queue.workers == 1

        capsys.readouterr()
        assert harvest_main(["--database-url", db_url, "workers", "drain",
                             worker.worker_id]) == 0
        said = capsys.readouterr().out
        assert "draining" in said and worker.worker_id in said
        out, _ = process.communicate(timeout=40)
        assert process.returncode == 0, out
        assert "drains on request" in out and "worker stopped" in out

        assert client.workers() == []
        [gone] = client.workers(include_gone=True)
        assert gone.state == "gone" and gone.drain_requested_at is not None
        assert [q.workers for q in client.queues() if q.name == "default"] == [0]
        assert not all(client.describe(r.run_id).status == "COMPLETED" for r in runs)
        lines = log.read_text().splitlines()
        started = [line for line in lines if line.startswith("start")]
        ended = [line for line in lines if line.startswith("end")]
        assert len(started) == len(ended) >= 2  # whatever it had begun, it finished

        start_worker(workflows=[drain_app.slow_pair], activities=[drain_app.slow_step],
                     tuning={"max_concurrent_tasks": 8})
        assert [r.result(timeout=60) for r in runs] == [3] * 8
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    steps = collections.Counter(line.split()[1] for line in log.read_text().splitlines()
                                if line.startswith("end"))
    assert len(steps) == 16 and set(steps.values()) == {1}, steps  # nothing lost, none twice

    capsys.readouterr()
    assert harvest_main(["--database-url", db_url, "workers", "drain", gone.worker_id]) == 0
    assert "already gone" in capsys.readouterr().out
    assert harvest_main(["--database-url", db_url, "workers", "drain", "nobody"]) == 1
    assert "worker_not_found" in capsys.readouterr().err
    assert harvest_main(["--database-url", db_url, "--json", "workers", "--all"]) == 0
    listed = json.loads(capsys.readouterr().out)["workers"]
    assert {w["state"] for w in listed} == {"gone", "running"}
    drains = client.audit(action="worker.drain")
    assert [(r.front_end, r.outcome) for r in drains] == [
        ("cli", "worker_not_found"), ("cli", "ok"), ("cli", "ok")
    ]


def test_a_worker_thread_drains_too(client: hs.Client, tmp_path: Path,
                                    start_worker: Callable[..., hs.Worker],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARVEST_TEST_STEP_LOG", str(tmp_path / "steps.log"))
    worker = start_worker(workflows=[drain_app.slow_pair], activities=[drain_app.slow_step])
    wait_for(lambda: len(client.workers()) == 1)
    assert client.drain_worker(worker.worker_id).state == "draining"
    deadline = time.monotonic() + FAST["drain_timeout"] + 10
    while worker.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not worker.running
    assert client.workers(include_gone=True)[0].state == "gone"
