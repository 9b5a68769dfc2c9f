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
        ("start", "greet", "--id", "x", "--signal", "go", "--idempotency-key", "k"),
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


# -------------------------------------------------------- talking to running workflows
def test_signal_then_duplicate_key_is_a_noop(
    cli: Cli, client: hs.Client, app_worker: hs.Worker
) -> None:
    assert cli("start", "inbox", "2", "--id", "box")[0] == 0
    code, out, err = cli("signal", "box", "item", '{"n": 1}', "--idempotency-key", "k-1")
    assert code == 0 and err == ""
    run_id = client.describe("box").run_id
    assert out.strip() == f"signalled item to run {run_id} (workflow id box)"

    code, out, err = cli("signal", "box", "item", '{"n": 1}', "--idempotency-key", "k-1")
    assert code == 0 and err == ""
    assert out.startswith("duplicate signal ignored (idempotency key k-1)")
    code, out, _ = cli("signal", "box", "item", '{"n": 1}', "--idempotency-key", "k-1",
                       "--json")
    assert code == 0
    assert json.loads(out) == {
        "action": "signal", "run_id": run_id, "workflow_id": "box", "workflow_type": "inbox",
        "changed": False, "signal": "item", "idempotency_key": "k-1", "paused": False,
    }

    code, out, _ = cli("--json", "signal", run_id, "item")  # no payload: null
    assert code == 0 and json.loads(out)["changed"] is True
    assert client.result("box", timeout=20) == [{"n": 1}, None]
    signals = [e.event.fields() for e in client.history("box")
               if e.event_type == "SignalReceived"]
    assert [s["idempotency_key"] for s in signals] == ["k-1", None]

    code, out, _ = cli("history", "box")
    assert 'item {"n":1} key=k-1' in out and "item null" in out


def test_signal_to_ended_or_unknown_run_exits_1(
    cli: Cli, db_url: str, app_worker: hs.Worker
) -> None:
    assert cli("start", "greet", '"x"', "--id", "done", "--wait", "--timeout", "20")[0] == 0
    before = counts(db_url)
    code, out, err = cli("signal", "done", "item", "1")
    assert code == 1 and out == ""
    one_error_line(err, "run_not_running")
    code, out, err = cli("signal", "nobody", "item", "1")
    assert code == 1 and out == ""
    one_error_line(err, "run_not_found")
    assert counts(db_url) == before and inbox_rows(db_url) == 0


def test_bad_signal_payload_exits_2_and_writes_nothing(
    cli: Cli, client: hs.Client, db_url: str
) -> None:
    client.start(cli_app.inbox, 1, id="box", force=True)  # no worker: the inbox keeps rows
    before = counts(db_url)
    code, out, err = cli("signal", "box", "item", "{not json")
    assert code == 2 and out == ""
    assert "signal payload" in one_error_line(err, "bad_payload")
    code, _, err = cli("signal", "box", "item", "ada")  # a bare word is not JSON
    assert code == 2
    one_error_line(err, "bad_payload")
    assert inbox_rows(db_url) == 0 and counts(db_url) == before
    assert cli("signal", "box", "item", '"ada"')[0] == 0  # the good one is queued
    assert inbox_rows(db_url) == 1


def test_cancel_runs_compensations_and_ends_cancelled(
    cli: Cli, client: hs.Client, app_worker: hs.Worker
) -> None:
    assert cli("start", "trip", '["flight", "hotel"]', "--id", "trip-1")[0] == 0
    wait_for_event(client, "trip-1", "ActivityCompleted", 2)
    run_id = client.describe("trip-1").run_id

    # paused, the run cannot finish between the two cancels
    assert cli("pause", "trip-1")[0] == 0
    code, out, err = cli("cancel", "trip-1", "--reason", "plans changed")
    assert code == 0, err
    assert out.strip() == (
        f"cancel requested for run {run_id} (workflow id trip-1): plans changed; "
        "the run is paused, so its code sees this once resumed"
    )
    code, out, _ = cli("cancel", "trip-1", "--json")
    assert code == 0
    again = json.loads(out)
    assert again["action"] == "cancel" and again["changed"] is False
    code, out, _ = cli("show", "trip-1")
    assert "RUNNING (PAUSED, CANCEL REQUESTED)" in out and "Cancel       requested" in out
    assert cli("resume", "trip-1")[0] == 0

    code, out, err = cli("result", "trip-1", "--timeout", "20")
    assert code == 1 and "CANCELLED" in out
    assert "plans changed" in one_error_line(err, "workflow_failed")
    undone = [e.event.fields()["args"] for e in client.history("trip-1")
              if e.event_type == "ActivityScheduled"
              and e.event.fields()["activity_type"] == "unbook"]
    assert undone == [["hotel"], ["flight"]]  # newest first

    code, out, _ = cli("history", "trip-1")
    assert "CancelRequested" in out and "cancel requested: plans changed" in out
    assert "WorkflowCancelled" in out
    code, out, _ = cli("list", "--status", "cancelled", "--json")
    assert [r["workflow_id"] for r in json.loads(out)["runs"]] == ["trip-1"]
    code, out, _ = cli("show", "trip-1")
    assert "Status       CANCELLED" in out
    code, _, err = cli("cancel", "trip-1")
    assert code == 1
    one_error_line(err, "run_not_running")


def test_terminate_ends_terminated(cli: Cli, client: hs.Client, app_worker: hs.Worker) -> None:
    assert cli("start", "napper", "60", "--id", "nap")[0] == 0
    wait_for_event(client, "nap", "TimerStarted")
    code, out, err = cli("terminate", "nap", "--reason", "stuck")
    assert code == 0, err
    assert out.startswith("terminated run ") and out.strip().endswith("(workflow id nap): stuck")
    info = client.describe("nap")
    assert info.status == "TERMINATED"
    assert event_types(client, "nap")[-1] == "WorkflowTerminated"

    code, out, _ = cli("list", "--status", "terminated")
    assert code == 0 and "nap" in out and "TERMINATED" in out
    code, out, _ = cli("history", "nap")
    assert "terminated: stuck" in out
    code, out, err = cli("terminate", "nap")
    assert code == 1 and out == ""
    one_error_line(err, "run_not_running")
    code, _, err = cli("terminate", "nobody")
    assert code == 1
    one_error_line(err, "run_not_found")


def test_pause_show_resume(
    cli: Cli, client: hs.Client, db_url: str, app_worker: hs.Worker
) -> None:
    assert cli("start", "approval", "--id", "ok-1")[0] == 0
    wait_for_event(client, "ok-1", "WorkflowStarted")
    time.sleep(0.3)  # let its first workflow task finish

    code, out, err = cli("pause", "ok-1", "--reason", "audit")
    assert code == 0, err
    assert out.startswith("paused run ") and out.strip().endswith(": audit")
    code, out, _ = cli("pause", "ok-1")
    assert code == 0 and "already paused; nothing changed" in out

    code, out, _ = cli("signal", "ok-1", "approve", '"ada"')
    assert code == 0 and "the run is paused" in out
    code, out, _ = cli("show", "ok-1")
    assert "Status       RUNNING (PAUSED)" in out and "harvest resume" in out
    code, out, _ = cli("show", "ok-1", "--json")
    assert json.loads(out)["paused"] is True
    code, out, _ = cli("list")
    assert "RUNNING (PAUSED)" in out
    time.sleep(0.8)
    assert "SignalReceived" not in event_types(client, "ok-1")  # held while paused
    assert inbox_rows(db_url) == 1

    code, out, err = cli("resume", "ok-1", "--json")
    assert code == 0, err
    assert json.loads(out)["changed"] is True and json.loads(out)["paused"] is False
    assert client.result("ok-1", timeout=20) == "approved by ada"
    code, out, _ = cli("history", "ok-1")
    assert "paused: audit" in out and "resumed (no reason given)" in out
    code, out, err = cli("resume", "ok-1")
    assert code == 1
    one_error_line(err, "run_not_running")


def test_resume_of_running_unpaused_run_is_a_noop(
    cli: Cli, client: hs.Client, app_worker: hs.Worker
) -> None:
    assert cli("start", "approval", "--id", "ok-2")[0] == 0
    code, out, _ = cli("resume", "ok-2")
    assert code == 0 and "is not paused; nothing changed" in out
    assert "WorkflowResumed" not in event_types(client, "ok-2")


def test_start_with_signal(cli: Cli, client: hs.Client, app_worker: hs.Worker) -> None:
    code, out, err = cli("start", "inbox", "2", "--id", "box", "--signal", "item",
                         "--signal-payload", '"first"')
    assert code == 0, err
    assert out.startswith("started inbox with signal item: workflow id box, run id ")
    code, out, err = cli("start", "inbox", "2", "--id", "box", "--signal", "item",
                         "--signal-payload", '"second"', "--json")
    assert code == 0, err
    second = json.loads(out)
    assert second["started"] is False and second["signal"] == "item"
    assert second["run_id"] == client.describe("box").run_id
    assert client.result("box", timeout=20) == ["first", "second"]
    signals = [e.event.fields() for e in client.history("box")
               if e.event_type == "SignalReceived"]
    assert [s["with_start"] for s in signals] == [True, False]
    code, out, _ = cli("history", "box")
    assert '"first" (with start)' in out

    code, out, err = cli("start", "approval", "--id", "ok-3", "--signal", "approve",
                         "--signal-payload", '"bo"', "--wait", "--timeout", "20")
    assert code == 0, err
    assert "started approval with signal approve" in out and "approved by bo" in out


def test_start_with_signal_needs_id(cli: Cli, db_url: str, app_worker: hs.Worker) -> None:
    before = counts(db_url)
    code, out, err = cli("start", "inbox", "1", "--signal", "item")
    assert code == 2 and out == ""
    assert "--id" in one_error_line(err, "usage_error")
    assert counts(db_url) == before


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


def test_console_script_signal_pause_resume_cancel_terminate(
    db_url: str, client: hs.Client, app_worker: hs.Worker
) -> None:
    env = subprocess_env(db_url)

    def harvest(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([harvest_exe(), *argv], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)

    done = harvest("start", "inbox", "2", "--id", "box", "--signal", "item",
                   "--signal-payload", "1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("started inbox with signal item")
    done = harvest("pause", "box", "--reason", "look")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("paused run ")
    done = harvest("signal", "box", "item", "2", "--idempotency-key", "two")
    assert done.returncode == 0 and done.stdout.startswith("signalled item to run ")
    done = harvest("signal", "box", "item", "2", "--idempotency-key", "two")
    assert done.returncode == 0 and done.stdout.startswith("duplicate signal ignored")
    done = harvest("signal", "box", "item", "{oops")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("harvest: error: bad_payload: ")
    done = harvest("--json", "resume", "box")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["changed"] is True
    assert client.result("box", timeout=20) == [1, 2]

    client.start(cli_app.trip, ["car"], id="trip")
    wait_for_event(client, "trip", "ActivityCompleted")
    done = harvest("cancel", "trip")
    assert done.returncode == 0 and done.stdout.startswith("cancel requested for run ")
    done = harvest("result", "trip", "--timeout", "20")
    assert done.returncode == 1 and "CANCELLED" in done.stdout

    client.start(cli_app.napper, 60, id="nap")
    done = harvest("terminate", "nap")
    assert done.returncode == 0 and done.stdout.startswith("terminated run ")
    done = harvest("terminate", "nap")
    assert done.returncode == 1
    assert done.stderr.startswith("harvest: error: run_not_running: ")


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
