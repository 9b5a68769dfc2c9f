"""The ``harvest`` command line: in-process through ``_cli.main`` and as the real console
script in subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg.conninfo import make_conninfo

import harvest_studio as hs
from harvest_studio import _cli, _store

from .apps import cli_app
from .conftest import _admin, sql

ROOT = Path(__file__).resolve().parent.parent
Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(db_url: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run ``harvest --database-url <test db> ARGS...``; returns (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = _cli.main(["--database-url", db_url, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def empty_db_url(pg_server_url: str) -> Iterator[str]:
    """A database without the harvest schema."""
    name = f"e_{uuid.uuid4().hex[:12]}"
    _admin(pg_server_url, f"CREATE DATABASE {name}")
    yield make_conninfo(pg_server_url, dbname=name)
    _admin(pg_server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def app_worker(start_worker: Callable[..., hs.Worker]) -> hs.Worker:
    return start_worker(
        workflows=[cli_app.greet, cli_app.doomed, cli_app.napper, cli_app.trip,
                   cli_app.inbox, cli_app.approval],
        activities=[cli_app.shout, cli_app.explode, cli_app.book, cli_app.unbook],
    )


def counts(url: str) -> tuple[int, int, int]:
    """Rows in runs, history and tasks: what a start writes."""
    row = sql(
        url,
        "SELECT (SELECT count(*) FROM harvest.runs), (SELECT count(*) FROM harvest.history),"
        " (SELECT count(*) FROM harvest.tasks)",
    )[0]
    return int(row[0]), int(row[1]), int(row[2])


def inbox_rows(url: str) -> int:
    return int(sql(url, "SELECT count(*) FROM harvest.inbox")[0][0])


def event_types(client: hs.Client, ref: str) -> list[str]:
    return [e.event_type for e in client.history(ref)]


def wait_for_event(client: hs.Client, ref: str, event_type: str, count: int = 1) -> None:
    deadline = time.time() + 15
    while event_types(client, ref).count(event_type) < count:
        assert time.time() < deadline, f"no {count} x {event_type} in {event_types(client, ref)}"
        time.sleep(0.05)


def one_error_line(err: str, code: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"harvest: error: {code}: "), err
    return lines[0]


def harvest_exe() -> str:
    exe = Path(sys.executable).with_name("harvest")
    if exe.exists():
        return str(exe)
    found = shutil.which("harvest")
    assert found, "the harvest console script is not installed"
    return found


def subprocess_env(db_url: str) -> dict[str, str]:
    return {**os.environ, "HARVEST_DATABASE_URL": db_url, "PYTHONUNBUFFERED": "1"}


# ----------------------------------------------------------------------------------- db
def test_db_status_then_migrate_on_empty_database(
    empty_db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli.main(["db", "status", "--database-url", empty_db_url]) == 0
    out = capsys.readouterr().out
    pending = len(_store.available_migrations())
    assert f"{pending} migration(s) pending" in out and "PENDING" in out

    assert _cli.main(["--json", "--database-url", empty_db_url, "db", "migrate"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["up_to_date"] is True
    assert [m["name"] for m in report["migrated_now"]] == [
        m.name for m in _store.available_migrations()
    ]

    assert _cli.main(["db", "status", "--database-url", empty_db_url, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["pending"] == [] and status["applied"][0]["version"] == 1


def test_db_status_on_migrated_database(cli: Cli) -> None:
    code, out, err = cli("db", "status")
    assert code == 0 and err == ""
    assert "up to date" in out and "applied" in out


# -------------------------------------------------------------------------------- start
def test_start_wait_prints_result(cli: Cli, app_worker: hs.Worker) -> None:
    code, out, err = cli("start", "greet", '"ada"', "--wait", "--timeout", "20")
    assert code == 0, err
    assert "started greet" in out
    assert "COMPLETED" in out and "HELLO ADA!" in out

    code, out, _ = cli("start", "greet", '"bob"', "--id", "greet-bob", "--wait", "--json")
    assert code == 0
    outcome = json.loads(out)
    assert outcome["status"] == "COMPLETED"
    assert outcome["result"] == "HELLO BOB!"
    assert outcome["workflow_id"] == "greet-bob"


def test_start_wait_on_failing_run_exits_1(cli: Cli, db_url: str, app_worker: hs.Worker) -> None:
    code, out, err = cli("start", "doomed", '"boom"', "--wait", "--timeout", "20")
    assert code == 1
    assert "FAILED" in out
    line = one_error_line(err, "workflow_failed")
    assert "boom" in line


def test_start_then_result(cli: Cli, app_worker: hs.Worker) -> None:
    code, out, _ = cli("start", "napper", "0.2", "--id", "nap-1", "--json")
    assert code == 0
    started = json.loads(out)
    assert started["workflow_id"] == "nap-1" and started["status"] == "RUNNING"
    code, out, _ = cli("result", "nap-1", "--timeout", "20", "--json")
    assert code == 0
    assert json.loads(out)["result"] == "rested"


def test_wait_timeout_exits_1(cli: Cli, app_worker: hs.Worker) -> None:
    code, _, err = cli("start", "napper", "30", "--wait", "--timeout", "0.3")
    assert code == 1
    one_error_line(err, "result_timeout")


def test_bad_json_argument_is_usage_error_and_writes_nothing(
    cli: Cli, db_url: str, app_worker: hs.Worker
) -> None:
    before = counts(db_url)
    code, out, err = cli("start", "greet", "{not json")
    assert code == 2 and out == ""
    line = one_error_line(err, "bad_payload")
    assert "argument 1" in line
    code, _, err = cli("start", "greet", "ada")  # a bare word is not JSON either
    assert code == 2
    one_error_line(err, "bad_payload")
    assert counts(db_url) == before


def test_unknown_workflow_is_usage_error_and_writes_nothing(cli: Cli, db_url: str) -> None:
    before = counts(db_url)
    code, out, err = cli("start", "no_such_workflow", "1")
    assert code == 2 and out == ""
    line = one_error_line(err, "unknown_workflow")
    assert "--force" in line
    assert counts(db_url) == before
    code, out, _ = cli("start", "no_such_workflow", "1", "--force", "--json")
    assert code == 0
    assert json.loads(out)["workflow_type"] == "no_such_workflow"
    assert counts(db_url)[0] == before[0] + 1


def test_duplicate_id_with_reject_policy_exits_1(
    cli: Cli, db_url: str, app_worker: hs.Worker
) -> None:
    code, _, _ = cli("start", "greet", '"x"', "--id", "dup", "--wait", "--timeout", "20")
    assert code == 0
    before = counts(db_url)
    code, out, err = cli("start", "greet", '"x"', "--id", "dup", "--id-reuse-policy",
                         "reject_duplicate")
    assert code == 1 and out == ""
    one_error_line(err, "workflow_already_started")
    assert counts(db_url) == before


def test_bad_options_are_usage_errors(cli: Cli, db_url: str) -> None:
    before = counts(db_url)
    for argv in [
        (),
        ("start",),
        ("start", "greet", "--id-reuse-policy", "sometimes"),
        ("start", "greet", "--execution-timeout", "soon"),
        ("start", "greet", "--timeout", "5"),
        ("list", "--limit", "0"),
        ("list", "--status", "SLEEPING"),
        ("list", "--since", "last tuesday"),
        ("list", "--page-token", "garbage"),
        ("history", "x", "--after-seq", "-1"),
        ("frobnicate",),
        ("signal",),
        ("signal", "some-run"),
        ("signal", "some-run", "go", "{not json"),
        ("signal", "some-run", "go", "1", "2"),
        ("signal", "some-run", "go", "--idempotency-key", ""),
        ("cancel",),
        ("terminate",),
        ("pause", "a", "b"),
        ("resume", "--reason"),
        ("start", "greet", "--signal", "go"),
        ("start", "greet", "--id", "x", "--signal-payload", "1"),
        ("start", "greet", "--id", "x", "--signal", "go", "--signal-payload", "{oops"),
    ]:
        code, out, err = cli(*argv)
        assert code == 2, (argv, err)
        assert out == ""
        assert len(err.strip().splitlines()) == 1, (argv, err)
        assert err.startswith("harvest: error: "), (argv, err)
    assert counts(db_url) == before
    assert inbox_rows(db_url) == 0


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli.main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out
    assert _cli.main(["start", "--help"]) == 0
    assert "--id-reuse-policy" in capsys.readouterr().out
    assert _cli.main(["--version"]) == 0
    assert hs.__version__ in capsys.readouterr().out


# ------------------------------------------------------------------------- list / show
def test_list_filters_and_json(cli: Cli, app_worker: hs.Worker) -> None:
    for name in ("ann", "ben"):
        assert cli("start", "greet", f'"{name}"', "--id", f"g-{name}", "--wait")[0] == 0
    assert cli("start", "doomed", '"no"', "--id", "d-1", "--wait")[0] == 1

    code, out, _ = cli("list")
    assert code == 0
    assert "g-ann" in out and "g-ben" in out and "d-1" in out and "FAILED" in out

    code, out, _ = cli("list", "--status", "failed", "--json")
    runs = json.loads(out)["runs"]
    assert [r["workflow_id"] for r in runs] == ["d-1"]

    code, out, _ = cli("--json", "list", "--type", "greet", "--status", "RUNNING,COMPLETED")
    assert sorted(r["workflow_id"] for r in json.loads(out)["runs"]) == ["g-ann", "g-ben"]

    code, out, _ = cli("list", "--limit", "2", "--json")
    first = json.loads(out)
    assert len(first["runs"]) == 2 and first["next_page_token"]
    code, out, _ = cli("list", "--limit", "2", "--json", "--page-token", first["next_page_token"])
    second = json.loads(out)
    assert [r["workflow_id"] for r in second["runs"]] == ["g-ann"]
    assert second["next_page_token"] is None

    code, out, _ = cli("list", "--since", "1h", "--json")
    assert len(json.loads(out)["runs"]) == 3
    code, out, _ = cli("list", "--until", "2000-01-01T00:00:00+00:00", "--json")
    assert json.loads(out)["runs"] == []
    code, out, _ = cli("list", "--blocked")
    assert code == 0 and "(no runs)" in out


def test_show_and_history(cli: Cli, app_worker: hs.Worker) -> None:
    assert cli("start", "greet", '"cy"', "--id", "g-cy", "--wait")[0] == 0

    code, out, _ = cli("show", "g-cy")
    assert code == 0
    assert "Workflow id  g-cy" in out and "COMPLETED" in out and "HELLO CY!" in out

    code, out, _ = cli("show", "g-cy", "--json")
    info = json.loads(out)
    assert info["status"] == "COMPLETED" and info["result"] == "HELLO CY!"
    code, out, _ = cli("show", info["run_id"], "--json")
    assert json.loads(out)["workflow_id"] == "g-cy"

    code, out, _ = cli("history", "g-cy")
    assert code == 0
    for expected in ("WorkflowStarted", "ActivityScheduled", "shout(", "WorkflowCompleted"):
        assert expected in out

    code, out, _ = cli("history", "g-cy", "--json")
    events = json.loads(out)["events"]
    assert events[0]["type"] == "WorkflowStarted" and events[-1]["type"] == "WorkflowCompleted"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))

    code, out, _ = cli("history", "g-cy", "--json", "--after-seq", "1", "--limit", "2")
    page = json.loads(out)
    assert [e["seq"] for e in page["events"]] == [2, 3]
    assert page["next_after_seq"] == 3
    code, out, _ = cli("history", "g-cy", "--limit", "1")
    assert "more events: add --after-seq 1" in out


def test_show_unknown_run_exits_1(cli: Cli) -> None:
    code, out, err = cli("show", "nobody")
    assert code == 1 and out == ""
    one_error_line(err, "run_not_found")


def test_show_pending_timer(cli: Cli, app_worker: hs.Worker, client: hs.Client) -> None:
    run = client.start(cli_app.napper, 60, id="long-nap")
    deadline = time.time() + 10
    while not any(p["kind"] == "timer" for p in run.describe().pending):
        assert time.time() < deadline, "the timer never started"
        time.sleep(0.05)
    code, out, _ = cli("show", "long-nap")
    assert code == 0
    assert "RUNNING" in out and "Pending:" in out and "timer" in out and "fires" in out


@hs.workflow(name="drifting")
async def drifting_v2(ctx: hs.WorkflowContext) -> str:
    """``drifting`` changed incompatibly: the timer now comes first."""
    await ctx.sleep(1.0)
    return "v2"


def test_blocked_run_shows_reason_expected_and_actual(
    cli: Cli, client: hs.Client, start_worker: Callable[..., hs.Worker]
) -> None:
    v1 = start_worker(workflows=[cli_app.drifting], activities=[cli_app.shout])
    run = client.start(cli_app.drifting, id="drifter")
    deadline = time.time() + 10
    while "TimerStarted" not in [e.event_type for e in run.history()]:
        assert time.time() < deadline, "v1 never reached its timer"
        time.sleep(0.02)
    v1.stop()
    start_worker(workflows=[drifting_v2], activities=[cli_app.shout])
    deadline = time.time() + 15
    while run.describe().blocked is None:
        assert time.time() < deadline, "run never got blocked"
        time.sleep(0.1)

    code, out, _ = cli("show", "drifter")
    assert code == 0
    assert "RUNNING (BLOCKED)" in out
    assert "non_determinism" in out
    assert "expected" in out and "ActivityScheduled" in out
    assert "actual" in out and "TimerStarted" in out

    code, out, _ = cli("list", "--blocked", "--json")
    assert [r["workflow_id"] for r in json.loads(out)["runs"]] == ["drifter"]


# ------------------------------------------------------------------ the real console script
def test_console_script_worker_start_and_graceful_stop(db_url: str) -> None:
    env = subprocess_env(db_url)
    worker = subprocess.Popen(
        [harvest_exe(), "worker", "tests.apps.cli_app", "--concurrency", "4"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 30
        while not sql(db_url, "SELECT 1 FROM harvest.registry WHERE name = 'greet'"):
            assert worker.poll() is None, worker.communicate()
            assert time.time() < deadline, "worker never registered its workflows"
            time.sleep(0.1)
        done = subprocess.run(
            [harvest_exe(), "start", "greet", '"sub"', "--wait", "--timeout", "30", "--json"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["result"] == "HELLO SUB!"

        bad = subprocess.run(
            [harvest_exe(), "start", "greet", "{oops"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        )
        assert bad.returncode == 2
        assert bad.stderr.startswith("harvest: error: bad_payload: ")
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert "serving" in out and "worker stopped" in out


def test_console_script_demo(db_url: str) -> None:
    done = subprocess.run(
        [harvest_exe(), "demo"],
        cwd=ROOT, env=subprocess_env(db_url), capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Next, try:" in out and "harvest list" in out
    assert "ActivityFailed" in out and "TimerFired" in out
    statuses = sql(db_url, "SELECT status, count(*) FROM harvest.runs GROUP BY status")
    assert statuses == [("COMPLETED", 3)]


def test_python_dash_m_runs_the_cli(db_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harvest_studio", "--json", "db", "status"],
        cwd=ROOT, env=subprocess_env(db_url), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["up_to_date"] is True


def test_demo_in_process(cli: Cli, db_url: str) -> None:
    code, out, err = cli("--json", "demo")
    assert code == 0, err
    report: dict[str, Any] = json.loads(out)
    assert report["ok"] is True
    assert [r["status"] for r in report["runs"]] == ["COMPLETED"] * 3
    assert report["runs"][0]["result"]["workspace_attempts"] == 2
    types = [e["type"] for e in report["history"]["events"]]
    assert "SideEffectRecorded" in types and types[-1] == "WorkflowCompleted"
