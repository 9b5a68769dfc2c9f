"""Flow control from the front ends: ``harvest queue|activity list|pause|resume|limit`` (in
process through ``cli.main`` and as the console script) and the same ``%harvest``
subcommands through a real IPython shell, against a real PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.completer import provisionalcompleter
from IPython.core.error import UsageError as IPythonUsageError
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

import harvest_studio as hs
from harvest_studio import commands
from harvest_studio.cli import main as harvest_main
from harvest_studio.client import KEEP
from harvest_studio.studio.display import HarvestOutput

from .conftest import sql

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


def ok_line(cli: Cli, *argv: str) -> str:
    code, out, err = cli(*argv)
    assert code == 0, err
    return out.strip()


def one_error_line(err: str, code: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"harvest: error: {code}: "), err
    return lines[0]


def limit_rows(url: str) -> list[tuple[Any, ...]]:
    return sql(url, "SELECT scope, name FROM harvest.flow_limits ORDER BY scope, name")


def tasks_in(client: hs.Client, queue: str) -> None:
    """Two runs ready on ``queue`` and one delayed (no worker claims them)."""
    client.start("mailer", "a", force=True, queue=queue)
    client.start("mailer", "b", force=True, queue=queue)
    client.start("mailer", "c", force=True, queue=queue, start_delay="1h")


# ----------------------------------------------------------------------------------- CLI
def test_queue_list_limit_pause_resume(cli: Cli, client: hs.Client, db_url: str) -> None:
    assert ok_line(cli, "queue", "list") == "(no queues with tasks or limits)"
    tasks_in(client, "emails")
    lines = ok_line(cli, "queue", "list").splitlines()
    assert lines[0].split() == ["QUEUE", "READY", "DELAYED", "RUNNING", "OLDEST", "READY",
                                "WORKERS", "LIMITS"]
    emails = lines[1].split()
    assert emails[:4] + emails[5:] == ["emails", "2", "1", "0", "0", "-"]
    assert emails[4].endswith(("ms", "s"))  # how long the oldest ready task has waited

    assert ok_line(cli, "queue", "limit", "emails", "--rate", "5", "--burst", "10") == (
        "limited queue emails: 5/s (burst 10)"
    )
    # fields not given are kept
    assert ok_line(cli, "queue", "limit", "emails", "--max-concurrent", "4") == (
        "limited queue emails: 5/s (burst 10), max 4 running"
    )
    assert ok_line(cli, "queue", "pause", "emails") == "paused queue emails"
    assert ok_line(cli, "queue", "limit", "idle", "--max-concurrent", "0") == (
        "limited queue idle: max 0 running"
    )
    lines = ok_line(cli, "queue", "list").splitlines()
    emails = lines[1].split(None, 6)
    assert emails[:4] + emails[5:] == [
        "emails", "2", "1", "0", "0", "paused, 5/s burst 10, max 4 running"
    ]
    assert lines[2].split(None, 6) == ["idle", "0", "0", "0", "-", "0", "max 0 running"]

    code, out, err = cli("queue", "list", "--json")
    assert code == 0, err
    queues = {q["name"]: q for q in json.loads(out)["queues"]}
    assert (queues["emails"]["ready"], queues["emails"]["delayed"]) == (2, 1)
    limit = queues["emails"]["limit"]
    assert limit["paused"] is True and (limit["rate"], limit["burst"]) == (5, 10)
    assert limit["max_concurrent"] == 4 and limit["scope"] == "queue"
    assert queues["idle"]["limit"]["max_concurrent"] == 0

    assert ok_line(cli, "queue", "resume", "emails") == (
        "resumed queue emails (still limited: 5/s (burst 10), max 4 running)"
    )
    # none / off lift a limit; the others stay
    assert ok_line(cli, "queue", "limit", "emails", "--rate", "none", "--burst", "OFF") == (
        "limited queue emails: max 4 running"
    )
    code, out, err = cli("queue", "limit", "emails", "--max-concurrent", "none", "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "action": "limit",
        "scope": "queue",
        "name": "emails",
        "limit": None,
    }
    assert limit_rows(db_url) == [("queue", "idle")]
    assert ok_line(cli, "queue", "limit", "idle", "--max-concurrent", "none") == (
        "lifted all limits on queue idle"
    )
    assert limit_rows(db_url) == []
    assert client.limits() == []


def test_activity_list_pause_resume_limit(cli: Cli, client: hs.Client, db_url: str) -> None:
    assert ok_line(cli, "activity", "list") == "(no limits)"
    assert ok_line(cli, "activity", "limit", "charge_card", "--rate", "5", "--burst", "10") == (
        "limited activity charge_card: 5/s (burst 10)"
    )
    assert ok_line(cli, "activity", "pause", "charge_card") == "paused activity charge_card"
    assert ok_line(cli, "queue", "limit", "emails", "--rate", "1") == ("limited queue emails: 1/s")
    lines = ok_line(cli, "activity", "list").splitlines()
    assert lines[0].split() == [
        "SCOPE",
        "NAME",
        "PAUSED",
        "RATE",
        "BURST",
        "TOKENS",
        "MAX",
        "RUNNING",
        "MAX",
        "WORKFLOWS",
    ]
    assert len(lines) == 2  # activity limits only; the queue's are in `queue list`
    row = lines[1].split()
    assert row[:5] == ["activity", "charge_card", "yes", "5", "10"] and row[-1] == "-"

    code, out, err = cli("activity", "list", "--json")
    assert code == 0, err
    (limit,) = json.loads(out)["limits"]
    assert (limit["scope"], limit["name"], limit["paused"]) == ("activity", "charge_card", True)
    assert (limit["rate"], limit["burst"], limit["max_concurrent"]) == (5, 10, None)
    assert 0 <= limit["tokens"] <= 10

    # lifting every limit of a paused type keeps the pause
    assert (
        ok_line(cli, "activity", "limit", "charge_card", "--rate", "none", "--burst", "none")
        == "lifted all limits on activity charge_card (still paused)"
    )
    code, out, err = cli("activity", "resume", "charge_card", "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "action": "resume",
        "scope": "activity",
        "name": "charge_card",
        "limit": None,
    }
    assert limit_rows(db_url) == [("queue", "emails")]


def test_flow_commands_take_the_namespace(cli: Cli, client: hs.Client) -> None:
    client.create_namespace("team")
    assert ok_line(cli, "--namespace", "team", "queue", "pause", "emails") == (
        "paused queue emails"
    )
    assert ok_line(cli, "queue", "list") == "(no queues with tasks or limits)"
    code, out, err = cli("queue", "list", "--namespace", "team", "--json")
    assert code == 0, err
    assert [q["name"] for q in json.loads(out)["queues"]] == ["emails"]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (
            ("queue", "limit", "q", "--rate", "abc"),
            "usage_error",
            "--rate must be a positive number or 'none', got 'abc'",
        ),
        (("queue", "limit", "q", "--rate", "0"), "usage_error", "--rate must be a positive"),
        (("queue", "limit", "q", "--rate", "nan"), "usage_error", "--rate must be a positive"),
        (
            ("queue", "limit", "q", "--burst", "0.5"),
            "usage_error",
            "--burst must be a number >= 1 or 'none', got '0.5'",
        ),
        (
            ("activity", "limit", "a", "--max-concurrent", "2.5"),
            "usage_error",
            "--max-concurrent must be an integer >= 0 or 'none', got '2.5'",
        ),
        (
            ("activity", "limit", "a", "--max-concurrent", "-1"),
            "usage_error",
            "--max-concurrent must be an integer >= 0",
        ),
        (
            ("activity", "limit", "a", "--rate", "5", "--max-concurrent", "lots"),
            "usage_error",
            "--max-concurrent must be",
        ),
        (
            ("queue", "limit", "q"),
            "usage_error",
            "give at least one of --rate, --burst, --max-concurrent",
        ),
        (("queue",), "usage_error", "queue: the following arguments are required: ACTION"),
        (
            ("activity", "pause"),
            "usage_error",
            "activity pause: the following arguments are required: NAME",
        ),
        (("queue", "frobnicate"), "usage_error", "queue: argument ACTION: invalid choice"),
        (("queue", "pause", ""), "usage_error", "a queue name is 1..200"),
    ],
)
def test_bad_flow_input_exits_2_and_writes_nothing(
    cli: Cli, db_url: str, argv: tuple[str, ...], code: str, message: str
) -> None:
    exit_code, out, err = cli(*argv)
    assert exit_code == 2 and out == ""
    line = one_error_line(err, code)
    assert message in line, line
    assert limit_rows(db_url) == []


def test_bad_limit_values_are_caught_before_the_database(
    capsys: pytest.CaptureFixture[str],
) -> None:
    nowhere = "postgresql://nobody@127.0.0.1:1/nowhere?connect_timeout=1"
    for argv in (["queue", "limit", "q", "--rate", "fast"], ["activity", "limit", "a"]):
        assert harvest_main(["--database-url", nowhere, *argv]) == 2
        one_error_line(capsys.readouterr().err, "usage_error")


def test_parse_limit_value() -> None:
    parse = commands.parse_limit_value
    assert parse("5", "--rate") == 5.0 and parse(" 0.5 ", "--rate") == 0.5
    assert parse("none", "--rate") is None and parse("Off", "--burst") is None
    assert parse(KEEP, "--rate") is KEEP
    assert parse("4", "--max-concurrent", int) == 4 and parse("0", "--max-concurrent", int) == 0
    assert parse(3, "--rate") == 3
    for text, what, kind in (
        ("1e999", "--rate", float),
        ("x", "--burst", float),
        ("1.0", "--max-concurrent", int),
        (True, "--rate", float),
        ("99999999999", "--max-concurrent", int),
    ):
        with pytest.raises(hs.UsageError, match=f"^{what} must be "):
            parse(text, what, kind)


def test_console_script_flow_json(db_url: str) -> None:
    exe = Path(sys.executable).with_name("harvest")
    harvest = str(exe) if exe.exists() else shutil.which("harvest")
    assert harvest, "the harvest console script is not installed"
    env = {**os.environ, "HARVEST_DATABASE_URL": db_url, "PYTHONUNBUFFERED": "1"}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([harvest, *argv], env=env, capture_output=True, text=True, timeout=60)

    done = run("activity", "limit", "charge", "--rate", "2", "--max-concurrent", "3", "--json")
    assert done.returncode == 0, done.stderr
    action = json.loads(done.stdout)
    assert action["limit"]["rate"] == 2 and action["limit"]["max_concurrent"] == 3
    done = run("--json", "activity", "list")
    assert [lim["name"] for lim in json.loads(done.stdout)["limits"]] == ["charge"]
    done = run("activity", "limit", "charge", "--burst", "lots")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == (
        "harvest: error: usage_error: --burst must be a number >= 1 or 'none', got 'lots'"
    )


# -------------------------------------------------------------------------------- magics
class FlowShell(InteractiveShell):
    __test__ = False


@pytest.fixture(scope="module")
def shell() -> Iterator[InteractiveShell]:
    config = Config()
    config.HistoryAccessor.enabled = False
    config.InteractiveShell.colors = "nocolor"
    ip = FlowShell.instance(config=config)
    ip.displayhook.flush = lambda: None  # type: ignore[method-assign]
    yield ip
    FlowShell.clear_instance()


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


def test_magic_queue_limit_pause_list_resume(ip: InteractiveShell, client: hs.Client) -> None:
    tasks_in(client, "emails")
    limited = out(ip, "%harvest queue limit emails --rate 5 --burst 10")
    assert limited.text == "limited queue emails: 5/s (burst 10)"
    assert (limited.data.limit.rate, limited.data.limit.burst) == (5, 10)
    assert limited.to_json()["action"] == "limit"
    paused = out(ip, "%harvest queue pause emails")
    assert paused.text == "paused queue emails" and paused.data.limit.paused

    listing = out(ip, "%harvest queue list")
    assert [(q.name, q.ready, q.delayed) for q in listing.data.queues] == [("emails", 2, 1)]
    cells = listing.text.splitlines()[1].split(None, 6)
    assert cells[:4] + cells[5:] == ["emails", "2", "1", "0", "0", "paused, 5/s burst 10"]
    data, _ = ip.display_formatter.format(listing)
    assert data["text/plain"] == listing.text
    assert "<table" in data["text/html"] and "paused" in data["text/html"]

    assert out(ip, "%harvest queue resume emails").text == (
        "resumed queue emails (still limited: 5/s (burst 10))"
    )
    assert out(ip, "%harvest queue limit emails --rate none --burst none").text == (
        "lifted all limits on queue emails"
    )
    assert client.limits() == []


def test_magic_activity_limit_pause_list(ip: InteractiveShell, client: hs.Client) -> None:
    assert out(ip, "%harvest activity list").text == "(no limits)"
    assert out(ip, "%harvest activity limit charge --max-concurrent 2").text == (
        "limited activity charge: max 2 running"
    )
    assert out(ip, "%harvest activity pause charge").text == "paused activity charge"
    listing = out(ip, "%harvest activity list")
    (limit,) = listing.data.limits
    assert (limit.name, limit.paused, limit.max_concurrent) == ("charge", True, 2)
    html = listing.html
    assert "<table" in html and "charge" in html and "MAX RUNNING" in html
    assert out(ip, "%harvest activity resume charge").text == (
        "resumed activity charge (still limited: max 2 running)"
    )
    escaped = out(ip, "%harvest activity pause '<b>x</b>'")
    assert escaped.text == "paused activity <b>x</b>"
    assert "&lt;b&gt;x&lt;/b&gt;" in out(ip, "%harvest activity list").html
    assert sorted(lim.name for lim in client.limits()) == ["<b>x</b>", "charge"]


def test_magic_workflow_limit_and_list(ip: InteractiveShell, client: hs.Client) -> None:
    assert out(ip, "%harvest workflow list").text == "(no limits)"
    assert out(ip, "%harvest workflow limit nightly --max-workflows 2").text == (
        "limited workflow nightly: max 2 workflows")
    (limit,) = out(ip, "%harvest workflow list").data.limits
    assert (limit.scope, limit.name, limit.max_workflows) == ("workflow", "nightly", 2)
    assert out(ip, "%harvest queue limit etl --max-workflows 3").text == (
        "limited queue etl: max 3 workflows")
    assert out(ip, "%harvest workflow limit nightly --max-workflows none").text == (
        "lifted all limits on workflow nightly")
    assert completions(ip, "%harvest workfl") == ["workflow"]


def test_magic_bad_flow_input_is_a_one_line_usage_error(
    ip: InteractiveShell, client: hs.Client
) -> None:
    cases = {
        "%harvest queue limit emails --rate abc": (
            "usage_error: --rate must be a positive number or 'none', got 'abc'"
        ),
        "%harvest activity limit a --max-concurrent 1.5": "usage_error: --max-concurrent must",
        "%harvest queue limit emails": "usage_error: give at least one of --rate, --burst",
        "%harvest queue": "usage_error: queue: the following arguments are required: ACTION",
        "%harvest activity pause": "usage_error: activity pause: the following arguments",
    }
    for cell, start in cases.items():
        assert str(fails(ip, cell)).startswith(start), cell
    assert client.limits() == []
    shown = out(ip, "%harvest queue limit -h")
    assert "usage: %harvest queue limit" in shown.text and "--max-concurrent" in shown.text
    assert "queue" in out(ip, "%harvest").text


def test_magic_flow_completion(ip: InteractiveShell) -> None:
    assert completions(ip, "%harvest queu") == ["queue"]
    assert completions(ip, "%harvest act") == ["activity"]
    assert completions(ip, "%harvest queue ") == ["list", "pause", "resume", "limit"]
    assert completions(ip, "%harvest activity l") == ["list", "limit"]
    assert completions(ip, "%harvest queue limit emails --max") == [
        "--max-concurrent", "--max-workflows"]
    assert completions(ip, "%harvest queue limit emails --rate n") == ["none"]
    # `queue pause` takes a queue, not a run like `pause` does
    ok(ip, "%config HarvestMagics.completion_cache_seconds = 0")
    run_id = out(ip, "%harvest start mailer --force").run_id
    assert run_id in completions(ip, "%harvest pause ")
    assert run_id not in completions(ip, "%harvest queue pause ")
    ok(
        ip,
        "import harvest_studio as hs\n"
        "@hs.activity(start_to_close='5s')\n"
        "def charge_card(ctx, cents):\n"
        "    return cents\n",
    )
    assert completions(ip, "%harvest activity pause cha") == ["charge_card"]


def test_start_with_priority_and_fairness_key(cli: Cli, db_url: str) -> None:
    ok_line(cli, "start", "some_type", "1", "--force", "--priority", "7", "--fairness-key", "t1")
    assert sql(db_url, "SELECT priority, fairness_key, fair_round > 0 FROM harvest.runs") == [
        (7, "t1", True)
    ]
    assert sql(db_url, "SELECT priority, fair_round > 0 FROM harvest.tasks") == [(7, True)]
    code, _, err = cli("start", "some_type", "1", "--force", "--priority", "5000")
    assert code == 2
    one_error_line(err, "usage_error")
    assert sql(db_url, "SELECT count(*) FROM harvest.runs") == [(1,)]



def test_workflow_limits_from_the_command_line(cli: Any) -> None:
    assert ok_line(cli, "workflow", "limit", "nightly", "--max-workflows", "2") == (
        "limited workflow nightly: max 2 workflows")
    assert ok_line(cli, "queue", "limit", "etl", "--max-workflows", "3") == (
        "limited queue etl: max 3 workflows")
    lines = ok_line(cli, "workflow", "list").splitlines()
    assert len(lines) == 2 and lines[1].split()[:2] == ["workflow", "nightly"]
    assert lines[1].split()[-1] == "2"
    assert "max 3 workflows" in ok_line(cli, "queue", "list")
    assert ok_line(cli, "workflow", "limit", "nightly", "--max-workflows", "none") == (
        "lifted all limits on workflow nightly")
    code, out, err = cli("workflow", "limit", "nightly", "--max-workflows", "-1")
    assert code == 2 and out == "" and "--max-workflows must be an integer >= 0" in err
    code, out, err = cli("activity", "limit", "charge", "--max-workflows", "1")
    assert code == 2 and out == ""
