"""Bad input on the command line: a one-line typed error (exit 2 for usage), nothing
written, never a traceback — and `--json` errors as JSON, `harvest` alone prints help, a
reader that goes away ends the output quietly."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from harvest_studio.cli import main as harvest_main

from .conftest import sql
from .test_cli import Cli, cli, harvest_exe, subprocess_env  # noqa: F401  (fixture)


def test_harvest_alone_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert harvest_main([]) == 0
    assert capsys.readouterr().out.startswith("usage: harvest")


@pytest.mark.parametrize("argv", [
    ["list", "--since", "1e30"],
    ["list", "--until", "0001-01-01"],
    ["list", "--since", "99999-01-01"],
    ["start", "anything", "--start-delay", "inf"],
    ["start", "anything", "--execution-timeout", "1e30"],
])
def test_out_of_range_times_and_durations_are_usage_errors(
    cli: Cli, db_url: str, argv: list[str]  # noqa: F811
) -> None:
    code, _, err = cli(*argv)
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err and "error:" in err
    assert sql(db_url, "SELECT count(*) FROM harvest.runs") == [(0,)]


def test_json_errors_are_json(cli: Cli) -> None:  # noqa: F811
    code, out, err = cli("--json", "show", "nope")
    assert code == 1 and out == ""
    assert json.loads(err) == {"code": "run_not_found",
                               "message": "no run 'nope' in namespace 'default'"}
    code, _, err = cli("--json", "list", "--since", "soon")
    assert code == 2 and json.loads(err)["code"] == "bad_time"


def test_a_reader_that_goes_away_ends_the_output_quietly(
    cli: Cli, db_url: str  # noqa: F811
) -> None:
    for i in range(60):
        cli("start", "anything", "--id", f"many-{i}", "--force")
    reader: Any = subprocess.run(
        f"'{harvest_exe()}' --json list --limit 60 | head -c 10", shell=True,
        capture_output=True, text=True, env=subprocess_env(db_url), timeout=60)
    assert reader.stdout == '{\n  "runs"' and reader.stderr == ""


def test_terminal_escapes_in_ids_are_shown_escaped(cli: Cli) -> None:  # noqa: F811
    code, _, err = cli("start", "anything", "--id", "evil\x1b[2J\x07id", "--force")
    assert code == 0, err
    for argv in (("list",), ("show", "evil\x1b[2J\x07id")):
        code, out, err = cli(*argv)
        assert code == 0, err
        assert "\x1b" not in out and "\x07" not in out and "evil\\x1b[2J\\x07id" in out


def test_a_database_url_that_is_not_one_is_a_usage_error(
    capsys: pytest.CaptureFixture[str]
) -> None:
    assert harvest_main(["--database-url", "not a url", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("harvest: error: usage_error: the database URL is not")
    assert err.count("\n") == 1


def test_arguments_that_are_not_utf8_are_refused(db_url: str) -> None:
    for argv in ([b"show", b"bad\xffid"], [b"list", b"--query", b"name = '\xfe'"],
                 [b"--namespace", b"n\xff", b"list"]):
        done = subprocess.run([harvest_exe().encode(), *argv], capture_output=True,
                              env=subprocess_env(db_url), timeout=60)
        assert done.returncode == 2, done.stderr
        err = done.stderr.decode()
        assert "is not valid UTF-8" in err and "Traceback" not in err
    assert sql(db_url, "SELECT count(*) FROM harvest.runs") == [(0,)]


def test_a_filter_number_out_of_range_is_a_filter_error(cli: Cli) -> None:  # noqa: F811
    code, _, err = cli("list", "--query", "amount > 1e999")
    assert code == 2 and "bad_filter: number out of range: 1e999" in err


def test_large_values_come_from_a_file_or_standard_input(
    cli: Cli, db_url: str, tmp_path: Any  # noqa: F811
) -> None:
    big = {"rows": list(range(50_000))}
    (tmp_path / "big.json").write_text(json.dumps(big))
    code, _, err = cli("--json", "start", "anything", f"@{tmp_path / 'big.json'}", "--force",
                         "--id", "from-file")
    assert code == 0, err
    assert sql(db_url, "SELECT input FROM harvest.runs WHERE workflow_id = 'from-file'") == [
        ([big],)]
    done = subprocess.run([harvest_exe(), "signal", "from-file", "note", "-"],
                          input='{"said": "from stdin"}', capture_output=True, text=True,
                          env=subprocess_env(db_url), timeout=60)
    assert done.returncode == 0, done.stderr
    assert sql(db_url, "SELECT payload FROM harvest.inbox WHERE event_type = 'SignalReceived'"
               ) == [({"name": "note", "payload": {"said": "from stdin"}, "with_start": False,
                       "idempotency_key": None},)]
    for bad, message in ((f"@{tmp_path / 'none.json'}", "no such file"),
                         (f"@{tmp_path}", "cannot read it")):
        code, _, err = cli("start", "anything", bad, "--force")
        assert code == 2 and message in err
    (tmp_path / "bad.json").write_text("{nope")
    code, _, err = cli("start", "anything", f"@{tmp_path / 'bad.json'}", "--force")
    assert code == 2 and "argument 1 (@" in err
