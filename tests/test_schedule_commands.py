"""Schedules from the front ends: ``harvest schedule create|list|show|preview|pause|resume|
trigger|backfill|delete|log`` (in process through ``cli.main`` and as the console script)
and the same ``%harvest schedule`` subcommands through a real IPython shell, against a real
PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from IPython.core.completer import provisionalcompleter
from IPython.core.error import UsageError as IPythonUsageError
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

import harvest_studio as hs
from harvest_studio.cli import main as harvest_main
from harvest_studio.studio.display import HarvestOutput

from .conftest import sql

Cli = Callable[..., tuple[int, str, str]]
NOWHERE = "postgresql://nobody@127.0.0.1:1/nowhere?connect_timeout=1"
BERLIN_PREVIEW = (
    "--cron",
    "0 2 * * *",
    "--timezone",
    "Europe/Berlin",
    "--from",
    "2026-03-27T12:00:00+01:00",
    "--count",
    "3",
)
# a start far ahead, so the worker's scheduler never fires these during a test
LATER = "2030-01-01T00:00:00+00:00"


@hs.workflow
async def tick(ctx: hs.WorkflowContext, label: str) -> str:
    return label


@pytest.fixture
def worker(start_worker: Callable[..., hs.Worker]) -> hs.Worker:
    return start_worker(workflows=[tick])


@pytest.fixture
def cli(db_url: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run ``harvest --database-url <test db> ARGS...``; returns (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = harvest_main(["--database-url", db_url, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def ok_out(cli: Cli, *argv: str) -> str:
    code, out, err = cli(*argv)
    assert code == 0, err
    return out.strip()


def ok_json(cli: Cli, *argv: str) -> Any:
    return json.loads(ok_out(cli, *argv, "--json"))


def one_error_line(err: str, code: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"harvest: error: {code}: "), err
    return lines[0]


def written(url: str) -> tuple[int, int, int]:
    """Rows in the schedules, their log and their slots."""
    return tuple(  # type: ignore[return-value]
        sql(url, f"SELECT count(*) FROM harvest.{table}")[0][0]
        for table in ("schedules", "schedule_log", "schedule_slots")
    )


def column(text: str, index: int) -> list[str]:
    return [line.split()[index] for line in text.splitlines()[1:]]


# ----------------------------------------------------------------------------------- CLI
def test_create_list_show_preview_pause_resume_log(
    cli: Cli, client: hs.Client, worker: hs.Worker
) -> None:
    created = ok_out(
        cli,
        "schedule",
        "create",
        "nightly",
        "--workflow",
        "tick",
        '"x"',
        "--cron",
        "0 2 * * *",
        "--timezone",
        "Europe/Berlin",
        "--catchup",
        "all",
        "--note",
        "first",
    )
    assert created.startswith(
        'created schedule nightly: tick("x"), cron 0 2 * * * (Europe/Berlin); next fire 20'
    )
    assert created.endswith(":00:00Z)") and (" CET (" in created or " CEST (" in created)

    beat = ok_json(
        cli,
        "schedule",
        "create",
        "beat",
        "--workflow",
        "tick",
        '"b"',
        "--every",
        "6h",
        "--start-at",
        LATER,
        "--jitter",
        "10m",
        "--overlap",
        "allow_all",
        "--max-runs",
        "5",
        "--failure-limit",
        "3",
    )
    info = beat["schedule"]
    assert (beat["action"], beat["name"], info["workflow_type"]) == ("create", "beat", "tick")
    assert (info["spec"]["every"], info["spec"]["jitter"], info["args"]) == (21600, 600, ["b"])
    assert (info["overlap"], info["max_runs"], info["failure_limit"]) == ("allow_all", 5, 3)
    fires = datetime.fromisoformat(info["next_fire_at"])
    assert fires >= datetime.fromisoformat(LATER)

    # a name taken: exit 2 unless --replace
    code, out, err = cli(
        "schedule", "create", "nightly", "--workflow", "tick", '"y"', "--cron", "0 3 * * *"
    )
    assert code == 2 and out == "" and "exists" in one_error_line(err, "usage_error")
    replaced = ok_out(
        cli,
        "schedule",
        "create",
        "nightly",
        "--workflow",
        "tick",
        '"x"',
        "--cron",
        "0 2 * * *",
        "--timezone",
        "Europe/Berlin",
        "--catchup",
        "all",
        "--note",
        "first",
        "--replace",
    )
    assert replaced.startswith("created schedule nightly")

    listing = ok_out(cli, "schedule", "list")
    assert listing.splitlines()[0].split() == [
        "NAME",
        "WORKFLOW",
        "WHEN",
        "STATUS",
        "NEXT",
        "FIRE",
        "RUNS",
        "FAILURES",
    ]
    assert column(listing, 0) == ["beat", "nightly"] and "every 21600 s" in listing
    assert [s["name"] for s in ok_json(cli, "schedule", "list")["schedules"]] == ["beat", "nightly"]

    shown = ok_out(cli, "schedule", "show", "nightly")
    for line in (
        "Schedule         nightly",
        "Workflow         tick",
        'Args             ["x"]',
        "When             cron 0 2 * * * (Europe/Berlin)",
        "Catch-up         all",
        "Overlap          skip",
        "Status           active",
        "Note             first",
    ):
        assert line in shown, shown
    assert ok_json(cli, "schedule", "show", "beat")["next_fire_at"] == info["next_fire_at"]

    # a saved schedule previews from its next slot (jitter shown when it has one)
    preview = ok_out(cli, "schedule", "preview", "beat", "--count", "2")
    head, header, first, second = preview.splitlines()
    assert head.startswith("schedule beat, every 21600 s: 2 slot(s) after 2029-12-31 ")
    assert header.split() == ["#", "SLOT", "(UTC)", "UTC", "FIRES", "(UTC,", "with", "jitter)"]
    assert first.split()[-2:] == ["2030-01-01T00:00:00Z", fires.strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert second.split()[-2] == "2030-01-01T06:00:00Z"
    rows = ok_json(
        cli, "schedule", "preview", "nightly", "--from", "2026-10-24T12:00:00+02:00", "--count", "2"
    )["slots"]
    assert [r["local"] for r in rows] == ["2026-10-25T02:00:00+02:00", "2026-10-26T02:00:00+01:00"]

    assert ok_out(cli, "schedule", "pause", "nightly", "--note", "holiday") == (
        "paused schedule nightly (note: holiday)"
    )
    shown = ok_out(cli, "schedule", "show", "nightly")
    assert "Status           paused" in shown and "Note             holiday" in shown
    assert "paused" in ok_out(cli, "schedule", "list").splitlines()[2]
    assert "(paused)" in ok_out(cli, "schedule", "preview", "nightly").splitlines()[0]
    resumed = ok_out(cli, "schedule", "resume", "nightly", "--note", "back")
    assert resumed.startswith("resumed schedule nightly (note: back); next fire 20")
    assert client.describe_schedule("nightly").note == "back"

    log = ok_out(cli, "schedule", "log", "nightly")
    assert log.splitlines()[0].split() == ["AT", "ACTION", "SLOT", "(UTC)", "RUN", "ID", "DETAIL"]
    assert column(log, 2) == ["resumed", "paused", "created", "created"]
    assert log.splitlines()[2].endswith("holiday")
    entries = ok_json(cli, "schedule", "log", "nightly", "--limit", "2")
    assert entries["name"] == "nightly"
    assert [(e["action"], e["detail"]) for e in entries["entries"]] == [
        ("resumed", "back"),
        ("paused", "holiday"),
    ]


def test_trigger_backfill_delete(
    cli: Cli, client: hs.Client, worker: hs.Worker, db_url: str
) -> None:
    ok_out(
        cli,
        "schedule",
        "create",
        "hourly",
        "--workflow",
        "tick",
        '"h"',
        "--cron",
        "0 * * * *",
        "--paused",
    )
    triggered = ok_out(cli, "schedule", "trigger", "hourly")
    assert triggered.startswith("triggered schedule hourly: workflow id sched:hourly:20")
    run_id = triggered.rsplit("run id ", 1)[1]
    assert client.result(run_id, timeout=20) == "h"

    window = ("--from", "2026-11-30T00:00:00Z", "--to", "2026-11-30T05:30:00Z")
    text = ok_out(cli, "schedule", "backfill", "hourly", *window)
    assert text.splitlines()[0] == (
        "backfill of schedule hourly from 2026-11-30T00:00:00Z to 2026-11-30T05:30:00Z: "
        "6 slot(s), each with its run (a slot that had a run keeps it)"
    )
    assert column(text, 0)[1:] == [f"2026-11-30T0{h}:00:00Z" for h in range(6)]
    first = ok_json(cli, "schedule", "backfill", "hourly", *window)
    again = ok_json(cli, "schedule", "backfill", "hourly", *window)
    assert first == again and len(first["runs"]) == 6  # the same runs: nothing new
    assert first["runs"][0] == {
        "slot": "2026-11-30T00:00:00Z",
        "workflow_id": "sched:hourly:2026-11-30T00:00:00Z",
        "run_id": first["runs"][0]["run_id"],
    }
    assert sql(db_url, "SELECT count(*) FROM harvest.runs")[0][0] == 7
    assert column(text, 2)[1:] == [r["run_id"] for r in first["runs"]]

    actions = [e["action"] for e in ok_json(cli, "schedule", "log", "hourly")["entries"]]
    assert actions.count("backfill") == 6 and actions.count("triggered") == 1
    assert ok_out(cli, "schedule", "delete", "hourly") == (
        "deleted schedule hourly (the runs it started and its log are kept)"
    )
    assert ok_out(cli, "schedule", "list") == "(no schedules)"
    code, out, err = cli("schedule", "delete", "hourly")
    assert code == 2 and out == ""
    assert "no schedule 'hourly'" in one_error_line(err, "usage_error")
    code, _, err = cli("schedule", "show", "hourly")
    assert code == 2 and "no schedule 'hourly'" in one_error_line(err, "usage_error")
    code, _, err = cli("schedule", "trigger", "hourly")
    assert code == 2
    assert ok_json(cli, "schedule", "log", "hourly")["entries"][0]["action"] == "deleted"


def test_preview_of_a_spec_not_saved_touches_no_database(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert harvest_main(["--database-url", NOWHERE, "schedule", "preview", *BERLIN_PREVIEW]) == 0
    text = capsys.readouterr().out.strip()
    assert text.splitlines() == [
        "cron 0 2 * * * (Europe/Berlin): 3 slot(s) after 2026-03-27 12:00:00 CET "
        "(2026-03-27T11:00:00Z)",
        "#  SLOT (Europe/Berlin)          UTC",
        "1  Sat 2026-03-28 02:00:00 CET   2026-03-28T01:00:00Z",
        "2  Sun 2026-03-29 03:00:00 CEST  2026-03-29T01:00:00Z",  # spring forward: 02:00 is gone
        "3  Mon 2026-03-30 02:00:00 CEST  2026-03-30T00:00:00Z",
    ]
    argv = [
        "--database-url",
        NOWHERE,
        "schedule",
        "preview",
        "--every",
        "90m",
        "--from",
        "2026-01-01T00:00:00Z",
        "--count",
        "2",
        "--json",
    ]
    assert harvest_main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] is None and data["describe"] == "every 5400 s"
    assert [s["slot"] for s in data["slots"]] == ["2026-01-01T01:30:00Z", "2026-01-01T03:00:00Z"]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (
            ("create", "x", "--workflow", "tick", "--cron", "61 * * * *"),
            "bad_schedule",
            "bad cron expression '61 * * * *'",
        ),
        (
            ("create", "x", "--workflow", "tick", "--every", "1h", "--overlap", "sometimes"),
            "bad_schedule",
            "overlap must be one of skip, buffer_one",
        ),
        (
            ("create", "x", "--workflow", "tick", "--every", "1h", "--catchup", "later"),
            "bad_schedule",
            "catchup must be one of",
        ),
        (
            ("create", "x", "--workflow", "tick"),
            "usage_error",
            "one of the arguments --cron --every is required",
        ),
        (
            ("create", "x", "--workflow", "tick", "--cron", "@daily", "--every", "1h"),
            "usage_error",
            "not allowed with argument",
        ),
        (("create", "x", "--cron", "@daily"), "usage_error", "--workflow"),
        (
            ("create", "x", "--workflow", "tick", "--every", "1h", "--timezone", "Mars/Olympus"),
            "bad_schedule",
            "unknown timezone 'Mars/Olympus'",
        ),
        (
            ("create", "x", "--workflow", "tick", "--every", "0.5s"),
            "bad_schedule",
            "at least 1 second",
        ),
        (
            ("create", "x", "--workflow", "tick", "--every", "soon"),
            "bad_duration",
            "not a duration: 'soon'",
        ),
        (
            ("create", "x", "--workflow", "tick", "--every", "1h", "--start-at", "tomorrow"),
            "bad_time",
            "--start-at must be an ISO-8601 time",
        ),
        (
            ("create", "has:colon", "--workflow", "tick", "--every", "1h"),
            "bad_schedule",
            "bad schedule name 'has:colon'",
        ),
        (
            ("create", "x", "--workflow", "tick", "--every", "1h", "{bad"),
            "bad_payload",
            "argument 1",
        ),
        (
            ("create", "x", "--workflow", "tick", "--every", "1h", "--max-runs", "0"),
            "usage_error",
            "--max-runs",
        ),
        (
            ("preview", "--cron", "@daily", "--from", "yesterday"),
            "bad_time",
            "--from must be an ISO-8601 time",
        ),
        (
            ("preview", "nightly", "--cron", "@daily"),
            "usage_error",
            "give one of NAME, --cron EXPR or --every DURATION, not NAME and --cron",
        ),
        (("preview",), "usage_error", "give one of NAME, --cron EXPR or --every DURATION"),
        (("preview", "nightly", "--timezone", "UTC"), "usage_error", "--timezone goes with"),
        (("preview", "--every", "1h", "--count", "0"), "usage_error", "--count"),
        (
            ("preview", "--every", "1h", "--count", "5000"),
            "usage_error",
            "--count must be between 1 and 1000",
        ),
        (
            ("backfill", "x", "--from", "2026-01-02T00:00:00Z", "--to", "2026-01-01T00:00:00Z"),
            "bad_schedule",
            "--to must not be before its --from",
        ),
        (
            ("backfill", "x", "--from", "soon", "--to", "2026-01-01T00:00:00Z"),
            "bad_time",
            "--from must be",
        ),
        (
            ("backfill", "x", "--to", "2026-01-01T00:00:00Z"),
            "usage_error",
            "the following arguments are required: --from",
        ),
        (("frobnicate",), "usage_error", "schedule: argument ACTION: invalid choice"),
    ],
)
def test_bad_schedule_input_exits_2_and_writes_nothing(
    cli: Cli,
    client: hs.Client,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    code: str,
    message: str,
) -> None:
    client.create_schedule("seed", tick, "s", every="6h", start_at=LATER)  # tick is known
    client.delete_schedule("seed")
    sql(db_url, "DELETE FROM harvest.schedule_log")
    exit_code, out, err = cli("schedule", *argv)
    assert exit_code == 2 and out == ""
    line = one_error_line(err, code)
    assert message in line, line
    assert written(db_url) == (0, 0, 0)
    # and before the database is touched
    assert harvest_main(["--database-url", NOWHERE, "schedule", *argv]) == 2
    assert message in one_error_line(capsys.readouterr().err, code)


def test_an_unknown_workflow_is_refused(cli: Cli, db_url: str) -> None:
    code, out, err = cli("schedule", "create", "x", "--workflow", "nope", "--every", "1h")
    assert code == 2 and out == ""
    assert "no workflow type 'nope'" in one_error_line(err, "usage_error")
    assert written(db_url) == (0, 0, 0)


def test_console_script_schedule_json(db_url: str, client: hs.Client) -> None:
    exe = Path(sys.executable).with_name("harvest")
    harvest = str(exe) if exe.exists() else shutil.which("harvest")
    assert harvest, "the harvest console script is not installed"
    env = {**os.environ, "HARVEST_DATABASE_URL": db_url, "PYTHONUNBUFFERED": "1"}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([harvest, *argv], env=env, capture_output=True, text=True, timeout=60)

    done = run("schedule", "preview", *BERLIN_PREVIEW, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["slots"][1] == {
        "slot": "2026-03-29T01:00:00Z",
        "local": "2026-03-29T03:00:00+02:00",
    }
    client.create_schedule("seed", tick, "s", every="6h", start_at=LATER, paused=True)
    done = run("--json", "schedule", "list")
    assert done.returncode == 0, done.stderr
    (seed,) = json.loads(done.stdout)["schedules"]
    assert (seed["name"], seed["paused"], seed["args"]) == ("seed", True, ["s"])
    done = run("schedule", "create", "y", "--workflow", "tick", "--cron", "* * *")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("harvest: error: bad_schedule: bad cron expression '* * *'")


# -------------------------------------------------------------------------------- magics
class ScheduleShell(InteractiveShell):
    __test__ = False


@pytest.fixture(scope="module")
def shell() -> Iterator[InteractiveShell]:
    config = Config()
    config.HistoryAccessor.enabled = False
    config.InteractiveShell.colors = "nocolor"
    ip = ScheduleShell.instance(config=config)
    ip.displayhook.flush = lambda: None  # type: ignore[method-assign]
    yield ip
    ScheduleShell.clear_instance()


@pytest.fixture
def ip(shell: InteractiveShell, db_url: str) -> Iterator[InteractiveShell]:
    ok(shell, "%load_ext harvest_studio")
    ok(shell, f"%config HarvestMagics.database_url = {db_url!r}")
    try:
        yield shell
    finally:
        shell.run_cell("%unload_ext harvest_studio")
        shell.reset(new_session=False)
        shell.config.pop("HarvestMagics", None)


def ok(shell: InteractiveShell, cell: str) -> Any:
    result = shell.run_cell(cell)
    error = result.error_before_exec or result.error_in_exec
    if error is not None:
        raise error
    return result.result


def out(shell: InteractiveShell, cell: str) -> HarvestOutput:
    value = ok(shell, cell)
    assert isinstance(value, HarvestOutput), f"{cell!r} displayed {value!r}"
    return value


def fails(shell: InteractiveShell, cell: str) -> IPythonUsageError:
    result = shell.run_cell(cell)
    error = result.error_in_exec
    assert isinstance(error, IPythonUsageError), f"{cell!r} gave {error!r}"
    assert "\n" not in str(error)
    return error


def completions(shell: InteractiveShell, line: str) -> list[str]:
    with provisionalcompleter():
        return [c.text for c in shell.Completer.completions(line, len(line))]


def test_magic_schedule_create_preview_log(
    ip: InteractiveShell, client: hs.Client, db_url: str
) -> None:
    # a workflow defined in the notebook: the schedule registers it (no worker yet)
    ok(
        ip,
        "import harvest_studio as hs\n@hs.workflow\nasync def report(ctx, day):\n    return day\n",
    )
    created = out(
        ip,
        f"%harvest schedule create daily --workflow report '\"mon\"' "
        f"--every 1d --start-at {LATER} --note 'from the notebook'",
    )
    assert created.text.startswith('created schedule daily: report("mon"), every 86400 s;')
    assert created.data.schedule.args == ["mon"] and created.to_json()["action"] == "create"
    assert sql(db_url, "SELECT name FROM harvest.registry WHERE kind = 'workflow'") == [("report",)]
    assert str(
        fails(ip, "%harvest schedule create x --workflow report --cron '61 * * * *'")
    ).startswith("bad_schedule: bad cron expression")
    assert str(fails(ip, "%harvest schedule create x --workflow report")).startswith(
        "usage_error: schedule create: one of the arguments --cron --every is required"
    )

    preview = out(
        ip,
        "%harvest schedule preview "
        + " ".join(f"'{w}'" if " " in w else w for w in BERLIN_PREVIEW),
    )
    assert "Sun 2026-03-29 03:00:00 CEST  2026-03-29T01:00:00Z" in preview.text
    assert [s.isoformat() for s in preview.data.slots][1] == "2026-03-29T01:00:00+00:00"
    data, _ = ip.display_formatter.format(preview)
    assert "<table" in data["text/html"] and "Sun 2026-03-29 03:00:00 CEST" in data["text/html"]

    saved = out(ip, "%harvest schedule preview daily --count 2")
    assert [s.isoformat() for s in saved.data.slots] == [
        "2030-01-01T00:00:00+00:00",
        "2030-01-02T00:00:00+00:00",
    ]
    paused = out(ip, "%harvest schedule pause daily --note 'not yet'")
    assert paused.text == "paused schedule daily (note: not yet)"
    log = out(ip, "%harvest schedule log daily")
    assert [e.action for e in log.data.entries] == ["paused", "created"]
    assert "<table" in log.html and "not yet" in log.html
    listing = out(ip, "%harvest schedule list")
    assert [s.name for s in listing.data.schedules] == ["daily"] and "<table" in listing.html
    assert "Note             not yet" in out(ip, "%harvest schedule show daily").text
    out(ip, "%harvest schedule delete daily")
    assert written(db_url)[0] == 0

    assert completions(ip, "%harvest sched") == ["schedule"]
    assert completions(ip, "%harvest schedule p") == ["preview", "pause"]
    assert completions(ip, "%harvest schedule create x --overlap b") == ["buffer_one", "buffer_all"]
    assert "Europe/Berlin" in completions(ip, "%harvest schedule preview --timezone Europe/B")
    assert completions(ip, "%harvest schedule create x --workflow rep") == ["report"]
    client.create_schedule("weekly", "report", "w", cron="0 0 * * 0", paused=True)
    ok(ip, "%config HarvestMagics.completion_cache_seconds = 0")
    assert completions(ip, "%harvest schedule show we") == ["weekly"]
    assert completions(ip, "%harvest schedule resume ") == ["weekly"]
