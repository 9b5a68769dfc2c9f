"""The ``harvest`` command line: in-process through ``cli.main`` and as the real console
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from psycopg.conninfo import make_conninfo

import harvest_studio as hs
from harvest_studio import store
from harvest_studio.cli import main as harvest_main

from .apps import cli_app
from .conftest import _admin, sql

ROOT = Path(__file__).resolve().parent.parent
Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(db_url: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run ``harvest --database-url <test db> ARGS...``; returns (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = harvest_main(["--database-url", db_url, *argv])
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
                   cli_app.inbox, cli_app.approval, cli_app.tally, cli_app.kid,
                   cli_app.family, cli_app.nest, cli_app.looper, cli_app.tagged,
                   cli_app.pipeline, cli_app.collector],
        activities=[cli_app.shout, cli_app.explode, cli_app.book, cli_app.unbook,
                    cli_app.flaky],
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
    assert harvest_main(["db", "status", "--database-url", empty_db_url]) == 0
    out = capsys.readouterr().out
    pending = len(store.available_migrations())
    assert f"{pending} migration(s) pending" in out and "PENDING" in out

    assert harvest_main(["--json", "--database-url", empty_db_url, "db", "migrate"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["up_to_date"] is True
    assert [m["name"] for m in report["migrated_now"]] == [
        m.name for m in store.available_migrations()
    ]

    assert harvest_main(["db", "status", "--database-url", empty_db_url, "--json"]) == 0
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
        ("start", "greet", "--id-conflict-policy", "sometimes"),
        ("start", "greet", "--id", "x", "--signal", "go", "--id-conflict-policy",
         "use_existing"),
        ("start", "greet", "--id", "x", "--signal", "go", "--id-reuse-policy",
         "terminate_if_running"),
        ("start", "greet", "--search-attribute", "novalue"),
        ("start", "greet", "--search-attribute", "=1"),
        ("start", "greet", "--search-attribute", "customer=acme"),  # not JSON
        ("start", "greet", "--search-attribute", 'status="x"'),  # a built-in field
        ("start", "greet", "--search-attribute", "two words=1"),
        ("start", "greet", "--search-attribute", "a=1", "--search-attribute", "a=2"),
        ("start", "greet", "--memo", "{oops"),
        ("start", "greet", "--start-delay", "soon"),
        ("list", "--query", "amount >"),
        ("list", "--query", 'created_at > 5'),
        ("list", "--query", 'status = "running"'),
        ("query",),
        ("query", "some-run"),
        ("query", "some-run", "total", "{oops"),
        ("query", "some-run", "total", "--timeout", "0"),
        ("update", "some-run"),
        ("update", "some-run", "add", "ten"),
        ("update", "some-run", "add", "1", "--update-id", ""),
        ("reset", "some-run"),
        ("reset", "some-run", "--to-event", "0"),
        ("reset", "some-run", "--to-event", "x"),
        ("reset", "some-run", "--to", "nowhere"),
        ("reset", "some-run", "--to-event", "1", "--to", "first_activity"),
        ("reset", "some-run", "--to-event", "1", "--reapply-signals", "keep"),
        ("retry",),
        ("rerun",),
        ("children",),
        ("chain", "a", "b"),
        ("namespace",),
        ("namespace", "create"),
        ("namespace", "create", "bad name!"),
        ("namespace", "delete", "default"),
        ("namespace", "frobnicate"),
    ]:
        code, out, err = cli(*argv)
        assert code == 2, (argv, err)
        assert out == ""
        assert len(err.strip().splitlines()) == 1, (argv, err)
        assert err.startswith("harvest: error: "), (argv, err)
    assert counts(db_url) == before
    assert inbox_rows(db_url) == 0


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert harvest_main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out
    assert harvest_main(["start", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--id-reuse-policy" in out and "terminate_if_running" in out
    assert "--id-conflict-policy" in out and "--search-attribute" in out
    assert harvest_main(["reset", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--dry-run" in out and "first_activity" in out
    assert harvest_main(["namespace", "--help"]) == 0
    assert "create" in capsys.readouterr().out
    assert harvest_main(["--version"]) == 0
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


# ------------------------------------------------------------------- queries and updates
def history_rows(url: str) -> int:
    return int(sql(url, "SELECT count(*) FROM harvest.history")[0][0])


def test_query_prints_the_answer_and_writes_nothing(
    cli: Cli, client: hs.Client, db_url: str, app_worker: hs.Worker
) -> None:
    assert cli("start", "tally", "5", "--id", "t")[0] == 0
    run_id = client.describe("t").run_id
    before = history_rows(db_url)
    code, out, err = cli("query", "t", "total")
    assert code == 0, err
    assert out == f"query total() on run {run_id} (workflow id t):\n5\n"
    code, out, _ = cli("query", "t", "has_reached", "3", "--json")
    assert code == 0
    assert json.loads(out) == {
        "run_id": run_id, "workflow_id": "t", "workflow_type": "tally", "status": "RUNNING",
        "query": "has_reached", "args": [3], "result": True,
    }
    assert history_rows(db_url) == before

    code, out, err = cli("query", "t", "nope")
    assert code == 1 and out == ""
    assert "has_reached, total" in one_error_line(err, "unknown_query")
    code, out, err = cli("query", "t", "has_reached", "{oops")
    assert code == 2 and out == ""
    one_error_line(err, "bad_payload")
    code, _, err = cli("query", "nobody", "total")
    assert code == 1
    one_error_line(err, "run_not_found")
    assert history_rows(db_url) == before


def test_query_without_a_worker_times_out(cli: Cli, client: hs.Client) -> None:
    client.start("tally", id="lonely", force=True)  # no worker serves it
    code, out, err = cli("query", "lonely", "total", "--timeout", "300ms")
    assert code == 1 and out == ""
    one_error_line(err, "query_timeout")


def test_update_results_rejections_and_failures(
    cli: Cli, client: hs.Client, db_url: str, app_worker: hs.Worker
) -> None:
    assert cli("start", "tally", "--id", "t")[0] == 0
    run_id = client.describe("t").run_id
    code, out, err = cli("update", "t", "add", "10", "--update-id", "u-1")
    assert code == 0, err
    assert out == f"update add(10) id u-1 on run {run_id} (workflow id t):\n10\n"
    code, out, _ = cli("update", "t", "add", "10", "--update-id", "u-1", "--json")
    assert code == 0  # the same id: the first outcome, not a second update
    assert json.loads(out) == {
        "run_id": run_id, "workflow_id": "t", "workflow_type": "tally", "update": "add",
        "update_id": "u-1", "args": [10], "stage": "completed", "result": 10,
    }
    assert event_types(client, "t").count("UpdateAdmitted") == 1
    code, out, err = cli("update", "t", "add", "2", "--update-id", "u-2", "--wait-for",
                         "admitted")
    assert code == 0, err
    assert out.startswith(f"update add(2) id u-2 admitted by run {run_id} (workflow id t);")
    code, out, _ = cli("--json", "update", "t", "add", "2", "--update-id", "u-2")
    assert json.loads(out)["result"] == 12  # the same id: its outcome, applied once
    code, out, _ = cli("--json", "update", "t", "add", "5")
    generated = json.loads(out)
    assert generated["result"] == 17 and len(generated["update_id"]) == 36
    code, out, err = cli("update", "t", "add", "1", "--wait-for", "soon")
    assert code == 2 and out == ""

    before = history_rows(db_url)
    code, out, err = cli("update", "t", "add", "-1")
    assert code == 1 and out == ""
    assert "positive integer" in one_error_line(err, "update_rejected")
    code, out, err = cli("update", "t", "withdraw", "1")
    assert code == 1
    one_error_line(err, "update_rejected")
    assert history_rows(db_url) == before  # a rejected update writes nothing
    code, out, err = cli("update", "t", "broken")
    assert code == 1 and out == ""
    assert "this update always fails" in one_error_line(err, "update_failed")

    code, out, _ = cli("update", "t", "close")
    assert code == 0 and out.endswith("\n17\n")
    assert client.result("t", timeout=20) == 17
    code, _, err = cli("update", "t", "add", "1")
    assert code == 1
    one_error_line(err, "update_rejected")
    code, out, _ = cli("query", "t", "total")  # an ended run still answers queries
    assert code == 0 and out.endswith("\n17\n")

    code, out, _ = cli("history", "t")
    assert "UpdateAdmitted" in out and "add(10) id u-1" in out
    assert "UpdateCompleted" in out and "id u-1 -> 10" in out
    assert "UpdateFailed" in out and "RuntimeError: this update always fails" in out


# ------------------------------------------------------------------ reset, retry, rerun
def seq_of(client: hs.Client, ref: str, event_type: str) -> int:
    return next(e.seq for e in client.history(ref) if e.event_type == event_type)


def test_reset_dry_run_invalid_point_and_apply(
    cli: Cli, client: hs.Client, db_url: str, app_worker: hs.Worker
) -> None:
    assert cli("start", "collector", "2", "--id", "col")[0] == 0
    wait_for_event(client, "col", "ActivityCompleted")
    assert cli("signal", "col", "item", '"early"')[0] == 0
    wait_for_event(client, "col", "SignalReceived")
    source = client.describe("col").run_id
    scheduled = seq_of(client, "col", "ActivityScheduled")
    completed = seq_of(client, "col", "ActivityCompleted")
    signalled = seq_of(client, "col", "SignalReceived")
    before = counts(db_url)

    code, out, err = cli("reset", "col", "--to-event", str(scheduled), "--dry-run")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == (
        f"dry run: event {scheduled} (ActivityScheduled) of run {source} (workflow id col) "
        "is not a valid reset point; nothing was written"
    )
    assert "Why            event 2 (ActivityScheduled) is not a point where the code " in out
    assert f"Nearest valid  event 1 before, event {completed} after" in out
    assert f"Valid points   1, {completed}, {signalled}" in out
    assert "1 recorded after the boundary, would be re-delivered" in out

    code, out, _ = cli("reset", "col", "--to-event", str(scheduled), "--dry-run", "--json")
    plan = json.loads(out)
    assert plan["valid"] is False and plan["applied"] is False and plan["dry_run"] is True
    assert plan["nearest_valid_before"] == 1 and plan["nearest_valid_after"] == completed
    assert plan["valid_points"] == [1, completed, signalled]

    code, out, err = cli("reset", "col", "--to-event", str(scheduled))
    assert code == 1
    assert "is not a valid reset point" in out
    line = one_error_line(err, "invalid_reset_point")
    assert f"before: event 1, after: event {completed}" in line

    code, out, _ = cli("reset", "col", "--to", "last_workflow_task", "--dry-run")
    assert code == 0
    assert out.startswith(f"dry run: event {signalled} (SignalReceived) of run {source}")
    assert "is a valid reset point; nothing was written" in out
    assert "run the same command without --dry-run" in out
    code, _, err = cli("reset", "col", "--to-event", "999", "--dry-run")
    assert code == 2
    one_error_line(err, "usage_error")
    assert counts(db_url) == before and client.describe("col").status == "RUNNING"

    code, out, err = cli("reset", "col", "--to-event", str(completed), "--reapply-signals",
                         "drop", "--reason", "bad input")
    assert code == 0, err
    new = client.describe("col").run_id
    assert new != source
    assert out.splitlines()[0] == (
        f"reset run {source} (workflow id col) to event {completed} (ActivityCompleted): "
        f"new run {new}"
    )
    assert "1 recorded after the boundary, dropped (--reapply-signals drop)" in out
    assert "Source run     TERMINATED (it was running)" in out
    assert client.describe(source).status == "TERMINATED"

    code, out, _ = cli("show", "col")
    assert f"Reset from   run {source}" in out
    code, out, _ = cli("history", "col")
    assert f"from run {source} at event {completed} (signals: drop): bad input" in out
    code, out, _ = cli("history", source)
    assert f"reset to event {completed} as run {new}: bad input" in out
    for payload in ('"a"', '"b"'):
        assert cli("signal", "col", "item", payload)[0] == 0
    assert client.result("col", timeout=20) == ["GO!", "a", "b"]  # "early" was dropped


def test_retry_from_the_failed_activity(
    cli: Cli, client: hs.Client, app_worker: hs.Worker
) -> None:
    cli_app.switch["fail"] = True
    try:
        code, _, _ = cli("start", "pipeline", "3", "--id", "pipe", "--wait", "--timeout", "20")
        assert code == 1
        failed = client.describe("pipe").run_id
        cli_app.switch["fail"] = False  # the downstream is back
        code, out, err = cli("retry", "pipe")
        assert code == 0, err
        new = client.describe("pipe").run_id
        assert out.startswith(f"retried run {failed} (workflow id pipe) from event ")
        assert out.splitlines()[0].endswith(f"new run {new}")
        assert "Source run     left as it was (FAILED)" in out
        assert client.result(new, timeout=20) == 30
        assert client.describe(failed).status == "FAILED"
    finally:
        cli_app.switch["fail"] = True

    code, out, err = cli("retry", "pipe")  # the new run has nothing that failed
    assert code == 1 and out == ""
    assert "no failed activity" in one_error_line(err, "no_reset_point")
    assert cli("start", "napper", "0", "--id", "nap", "--wait")[0] == 0
    code, _, err = cli("reset", "nap", "--to", "first_activity")
    assert code == 1
    assert "never scheduled an activity" in one_error_line(err, "no_reset_point")
    code, _, err = cli("retry", "nobody")
    assert code == 1
    one_error_line(err, "run_not_found")


def test_rerun(cli: Cli, client: hs.Client, app_worker: hs.Worker) -> None:
    assert cli("start", "greet", '"ada"', "--id", "g", "--search-attribute",
               'customer="acme"', "--wait")[0] == 0
    first = client.describe("g")
    code, out, err = cli("rerun", "g")
    assert code == 0, err
    second = client.describe("g")
    assert second.run_id != first.run_id
    assert out.strip() == (
        f"reran greet: workflow id g, run id {second.run_id} (a fresh run with the input of "
        f"run {first.run_id})"
    )
    assert second.input == ["ada"] and second.search_attributes == {"customer": "acme"}
    assert client.result(second.run_id, timeout=20) == "HELLO ADA!"

    assert cli("start", "napper", "60", "--id", "long")[0] == 0
    code, out, err = cli("rerun", "long")
    assert code == 1 and out == ""
    one_error_line(err, "workflow_already_started")
    code, out, _ = cli("--json", "rerun", first.run_id)
    assert code == 0 and json.loads(out)["rerun_of"] == first.run_id


# ------------------------------------------------------------------------ trees and chains
def test_children_tree(cli: Cli, client: hs.Client, app_worker: hs.Worker) -> None:
    code, _, err = cli("start", "family", "[0, 1, 2]", "--id", "fam", "--wait",
                       "--timeout", "30")
    assert code == 0, err
    code, out, err = cli("children", "fam")
    assert code == 0, err
    rows = out.splitlines()
    assert rows[0].split()[:2] == ["RUN", "ID"]
    body = rows[1:6]
    indents = [len(r) - len(r.lstrip()) for r in body]
    assert indents == [0, 2, 2, 4, 2]
    assert [r.split()[1] for r in body] == ["fam", "fam-kid-0", "fam-kid-1", "(=", "fam-kid-2"]
    assert "nest" in body[2] and "terminate" in body[2] and "abandon" in body[3]
    assert out.endswith("4 descendant run(s)\n")

    code, out, _ = cli("children", "fam", "--json")
    tree = json.loads(out)
    assert [r["depth"] for r in tree["runs"]] == [0, 1, 1, 2, 1]
    fam = client.describe("fam").run_id
    assert tree["run_id"] == fam
    assert [r["parent_run_id"] for r in tree["runs"][1:3]] == [fam, fam]

    code, out, _ = cli("children", "fam-kid-0")
    assert code == 0 and out.endswith("(no child runs)\n")
    code, out, _ = cli("show", "fam-kid-1")
    assert f"Parent       run {fam} (on parent close: terminate)" in out
    code, out, _ = cli("history", "fam")
    assert "kid(0) id fam-kid-0 run " in out and "on parent close: terminate" in out
    assert "ChildWorkflowCompleted" in out and "-> 21" in out
    code, _, err = cli("children", "nobody")
    assert code == 1
    one_error_line(err, "run_not_found")


def test_chain(cli: Cli, client: hs.Client, app_worker: hs.Worker) -> None:
    code, out, _ = cli("start", "looper", "3", "0", "--id", "loop", "--wait", "--timeout", "30")
    assert code == 0 and "Result  6" in out
    code, out, err = cli("chain", "loop")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "workflow id loop: 4 run(s), oldest first"
    assert [line.split()[-6] for line in lines[2:6]] == ["CONTINUED_AS_NEW"] * 3 + ["COMPLETED"]
    assert lines[5].startswith("* ") and not lines[2].startswith("*")
    assert out.endswith("result of the chain: 6\n")
    code, out, _ = cli("chain", "loop", "--json")
    chain = json.loads(out)
    runs = chain["runs"]
    assert [r["input"] for r in runs] == [[3, 0], [2, 3], [1, 5], [0, 6]]
    assert chain["ref_run_id"] == runs[-1]["run_id"]
    assert [r["continued_from"] for r in runs] == [None, *(r["run_id"] for r in runs[:-1])]
    code, out, _ = cli("chain", runs[0]["run_id"])
    assert out.splitlines()[2].startswith("* " + runs[0]["run_id"])

    code, out, _ = cli("show", runs[0]["run_id"])
    assert f"Continued as  run {runs[1]['run_id']}" in out
    code, out, _ = cli("show", "loop")
    assert f"Continued from  run {runs[2]['run_id']}" in out
    code, out, _ = cli("history", runs[0]["run_id"])
    assert f"as run {runs[1]['run_id']} with (2, 3)" in out
    code, out, _ = cli("history", "loop")
    assert f"looper(0, 6) continued from run {runs[2]['run_id']}" in out


# ------------------------------------------------------------------ start policies, memo
def test_start_policies(cli: Cli, client: hs.Client, db_url: str, app_worker: hs.Worker) -> None:
    assert cli("start", "tally", "--id", "t")[0] == 0
    first = client.describe("t").run_id
    wait_for_event(client, "t", "WorkflowStarted")
    before = counts(db_url)[:2]  # runs, history (the worker takes the task meanwhile)
    code, out, err = cli("start", "tally", "--id", "t", "--id-conflict-policy", "use_existing")
    assert code == 0, err
    assert out.strip() == (
        f"already running tally: workflow id t, run id {first} (no new run: id conflict "
        "policy use_existing)"
    )
    code, out, _ = cli("start", "tally", "--id", "t", "--id-conflict-policy", "use_existing",
                       "--json")
    assert json.loads(out)["started"] is False and json.loads(out)["run_id"] == first
    assert json.loads(out)["reused"] == "use_existing"
    code, out, err = cli("start", "tally", "--id", "t")
    assert code == 1 and out == ""
    one_error_line(err, "workflow_already_started")
    assert counts(db_url)[:2] == before

    code, out, err = cli("start", "tally", "7", "--id", "t", "--id-reuse-policy",
                         "terminate_if_running", "--json")
    assert code == 0, err
    replaced = json.loads(out)
    assert replaced["replaced_run_id"] == first and replaced["run_id"] != first
    assert client.describe(first).status == "TERMINATED"
    code, out, _ = cli("start", "tally", "--id", "t", "--id-reuse-policy",
                       "terminate_if_running")
    assert f"(terminated the open run {replaced['run_id']})" in out

    assert cli("start", "tally", "--id", "k", "--idempotency-key", "key-1")[0] == 0
    code, out, err = cli("start", "tally", "--id", "k", "--idempotency-key", "key-1")
    assert code == 0, err
    assert out.strip().endswith("(no new run: the idempotency key started it)")


def test_start_with_search_attributes_memo_and_delay(
    cli: Cli, client: hs.Client, app_worker: hs.Worker
) -> None:
    code, out, err = cli("start", "greet", '"ada"', "--id", "g", "--search-attribute",
                         'customer="acme"', "--search-attribute", "amount=150",
                         "--memo", '{"ticket": "T-1"}', "--wait")
    assert code == 0, err
    info = client.describe("g")
    assert info.search_attributes == {"customer": "acme", "amount": 150}
    assert info.memo == {"ticket": "T-1"}
    code, out, _ = cli("show", "g")
    assert 'Search attrs  amount=150, customer="acme"' in out
    assert 'Memo          {"ticket":"T-1"}' in out
    code, out, _ = cli("show", "g", "--json")
    shown = json.loads(out)
    assert shown["memo"] == {"ticket": "T-1"} and shown["search_attributes"]["amount"] == 150

    began = time.monotonic()
    code, out, err = cli("start", "greet", '"bo"', "--start-delay", "1s", "--wait",
                         "--timeout", "20")
    assert code == 0, err
    assert time.monotonic() - began >= 1.0 and "HELLO BO!" in out


# -------------------------------------------------------------------------- list --query
def test_list_query_filters_and_treats_sql_as_data(
    cli: Cli, client: hs.Client, app_worker: hs.Worker
) -> None:
    evil = "o'brien\"; DROP TABLE harvest.runs; --"
    for run_id, customer, amount in (("a1", "acme", 150), ("a2", "acme", 50),
                                     ("g1", "globex", 500), ("evil", evil, 5)):
        code, _, err = cli("start", "tagged", json.dumps(customer), str(amount), "--id", run_id,
                           "--wait", "--timeout", "20")
        assert code == 0, err
    assert cli("start", "greet", '"x"', "--id", "plain", "--search-attribute",
               f"note={json.dumps(evil)}", "--wait")[0] == 0

    def ids(query: str) -> set[str]:
        code, out, err = cli("list", "--query", query, "--json")
        assert code == 0, (query, err)
        return {r["workflow_id"] for r in json.loads(out)["runs"]}

    assert ids('customer = "acme" AND amount > 100') == {"a1"}
    assert ids("customer IN ('acme', 'globex') AND amount >= 150") == {"a1", "g1"}
    assert ids('(customer = "globex" OR amount < 60) AND type = "tagged"') == {
        "a2", "g1", "evil"
    }
    assert ids('stage = "done" AND NOT customer = "acme"') == {"g1", "evil"}
    assert ids('workflow_type = "greet" AND status = "COMPLETED"') == {"plain"}
    assert ids(f"customer = {json.dumps(evil)}") == {"evil"}
    assert ids("note = 'o\\'brien\"; DROP TABLE harvest.runs; --'") == {"plain"}
    assert ids("customer = \"x' OR '1'='1\"") == set()
    assert ids("customer = 'acme\" OR 1=1 --'") == set()
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert ids(f'created_at > "{hour_ago}" AND amount > 100') == {"a1", "g1"}
    assert ids('closed_at = null') == set()
    assert len(ids("id IN ('a1', 'g1', 'nobody')")) == 2
    assert len(client.list()) == 5  # the table is still there

    code, out, _ = cli("list", "--query", 'customer = "acme"')
    assert code == 0 and "a1" in out and "a2" in out and "g1" not in out


def test_malformed_query_exits_2_with_the_position(cli: Cli) -> None:
    for query, position, marked in (
        ("amount >", 8, "amount >[HERE]"),
        ('customer = "acme" AND', 21, 'customer = "acme" AND[HERE]'),
        ("x = 1 y", 6, "x = 1 [HERE]y"),
        ("(a = 1", 6, "(a = 1[HERE]"),
        ("a = 1; DROP TABLE harvest.runs", 5, "a = 1[HERE]; DROP TABLE harvest.runs"),
    ):
        code, out, err = cli("list", "--query", query)
        assert code == 2 and out == "", query
        line = one_error_line(err, "bad_filter")
        assert f"at position {position}" in line, line
        assert line.endswith(marked), line
    code, _, err = cli("list", "--query", 'status = "running"')
    assert code == 2
    assert "upper case: 'RUNNING'" in one_error_line(err, "bad_filter")


# ------------------------------------------------------------------------------ namespaces
def test_namespace_create_list_delete(cli: Cli, db_url: str) -> None:
    code, out, err = cli("namespace", "create", "team-a", "--description", "the A team")
    assert code == 0 and out.strip() == "created namespace team-a", err
    code, out, _ = cli("namespace", "create", "team-a")
    assert code == 0 and "already exists; nothing changed" in out
    code, out, _ = cli("namespace", "create", "team-a", "--json")
    assert json.loads(out) == {"action": "create", "name": "team-a", "changed": False,
                               "description": None}
    code, out, _ = cli("namespace", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "RUNS", "RUNNING", "RETENTION", "CREATED",
                                "DESCRIPTION"]
    assert lines[2].startswith("team-a") and lines[2].endswith("the A team")

    code, _, err = cli("--namespace", "team-a", "start", "greet", '"x"', "--force")
    assert code == 0, err
    code, out, _ = cli("namespace", "list", "--json")
    listed = {n["name"]: n for n in json.loads(out)["namespaces"]}
    assert set(listed) == {"default", "team-a"}
    assert listed["team-a"]["runs"] == 1 and listed["team-a"]["running"] == 1
    code, out, _ = cli("list", "--namespace", "team-a", "--json")
    assert len(json.loads(out)["runs"]) == 1
    code, out, _ = cli("list", "--json")
    assert json.loads(out)["runs"] == []

    code, out, err = cli("namespace", "delete", "team-a")
    assert code == 1 and out == ""
    one_error_line(err, "namespace_not_empty")
    code, out, err = cli("namespace", "delete", "ghost")
    assert code == 1 and out == ""
    one_error_line(err, "namespace_not_found")
    code, _, err = cli("--namespace", "ghost", "start", "greet", "--force")
    assert code == 2
    one_error_line(err, "namespace_not_found")

    assert cli("namespace", "create", "scratch")[0] == 0
    code, out, err = cli("namespace", "delete", "scratch")
    assert code == 0 and out.strip() == "deleted namespace scratch", err
    code, out, _ = cli("namespace", "list", "--json")
    assert {n["name"] for n in json.loads(out)["namespaces"]} == {"default", "team-a"}


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


def test_console_script_query_update_reset_filter_namespaces(
    db_url: str, client: hs.Client, app_worker: hs.Worker
) -> None:
    env = subprocess_env(db_url)

    def harvest(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([harvest_exe(), *argv], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)

    done = harvest("start", "tally", "1", "--id", "t", "--search-attribute", 'team="core"')
    assert done.returncode == 0, done.stderr
    done = harvest("update", "t", "add", "41", "--update-id", "sub-1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("update add(41) id sub-1 on run ")
    assert done.stdout.endswith("\n42\n")
    done = harvest("--json", "query", "t", "total")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"] == 42
    done = harvest("update", "t", "add", "0")
    assert done.returncode == 1
    assert done.stderr.startswith("harvest: error: update_rejected: ")

    done = harvest("reset", "t", "--to", "last_workflow_task", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("dry run: event ")
    assert "is a valid reset point; nothing was written" in done.stdout
    assert client.describe("t").status == "RUNNING"

    done = harvest("list", "--query", 'team = "core" AND')
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("harvest: error: bad_filter: ")
    assert "at position 17" in done.stderr
    done = harvest("list", "--query", 'team = "core"', "--json")
    assert done.returncode == 0, done.stderr
    assert [r["workflow_id"] for r in json.loads(done.stdout)["runs"]] == ["t"]

    done = harvest("namespace", "create", "sub-ns", "--description", "from a shell")
    assert done.returncode == 0 and done.stdout.strip() == "created namespace sub-ns"
    done = harvest("namespace", "list")
    assert done.returncode == 0 and "sub-ns" in done.stdout and "from a shell" in done.stdout
    done = harvest("namespace", "delete", "sub-ns")
    assert done.returncode == 0 and done.stdout.strip() == "deleted namespace sub-ns"
    done = harvest("namespace", "delete", "sub-ns")
    assert done.returncode == 1
    assert done.stderr.startswith("harvest: error: namespace_not_found: ")


def test_worker_modules_may_declare_schedules() -> None:
    from harvest_studio import commands

    app = commands.load_app("tests.apps.schedule_app")
    assert [s.name for s in app.schedules] == ["chaos-beat"]
    assert app.to_json()["schedules"] == ["chaos-beat"]
