"""Crash tests: real worker processes killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

import harvest_studio as hs

from .apps import crash_app
from .conftest import sql, wait_for

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def marks(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def spawn(db_url: str, marks: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        env = {**os.environ, "HARVEST_DATABASE_URL": db_url, "HARVEST_TEST_MARKS": str(marks)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.apps.run_worker", "tests.apps.crash_app"],
            cwd=ROOT,
            env=env,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def read(marks: Path, name: str) -> list[str]:
    path = marks / name
    return path.read_text().splitlines() if path.exists() else []


def test_sigkill_mid_activity_is_reclaimed_and_completes_once(
    client: hs.Client, db_url: str, spawn: Callable[[], subprocess.Popen[bytes]], marks: Path
) -> None:
    first = spawn()
    run = client.start(crash_app.crash_during_activity, 1.5)
    wait_for(lambda: len(read(marks, "long_step")) == 1)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    spawn()
    assert run.result(timeout=40) == "finished"
    attempts = read(marks, "long_step")
    assert len(attempts) == 2
    keys = {line.split()[1] for line in attempts}
    assert len(keys) == 1, "idempotency key must survive the crash"
    completed = [e for e in run.history() if e.event_type == "ActivityCompleted"]
    assert len(completed) == 1
    terminal = [e for e in run.history() if e.event_type == "WorkflowCompleted"]
    assert len(terminal) == 1


def test_timer_spanning_a_restart_fires_once_not_early(
    client: hs.Client, db_url: str, spawn: Callable[[], subprocess.Popen[bytes]]
) -> None:
    first = spawn()
    run = client.start(crash_app.crash_during_timer, 2.5)
    wait_for(lambda: any(e.event_type == "TimerStarted" for e in run.history()))
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    time.sleep(1.0)
    spawn()
    assert run.result(timeout=40) == "woke"
    history = run.history()
    started = [e for e in history if e.event_type == "TimerStarted"]
    fired = [e for e in history if e.event_type == "TimerFired"]
    assert len(started) == 1 and len(fired) == 1
    fire_at = datetime.fromisoformat(started[0].event.fire_at)  # type: ignore[attr-defined]
    assert fired[0].at >= fire_at


def test_task_that_crashes_its_worker_three_times_is_quarantined(
    client: hs.Client, db_url: str, spawn: Callable[[], subprocess.Popen[bytes]], marks: Path
) -> None:
    run = client.start(crash_app.poisoned)
    current = spawn()
    deadline = time.time() + 60
    while time.time() < deadline:
        if sql(db_url, "SELECT 1 FROM harvest.dead_letters"):
            break
        if current.poll() is not None:  # the worker died with its task: start another
            current = spawn()
        time.sleep(0.2)
    rows = sql(db_url, "SELECT kind, type_name, reason FROM harvest.dead_letters")
    assert rows == [("activity", "kills_its_worker", "crashed_worker")]
    assert len(read(marks, "poison")) == 3
    info = run.describe()
    assert info.status == "RUNNING"
    assert info.blocked is not None and info.blocked["kind"] == "quarantined"
