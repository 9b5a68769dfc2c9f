"""DAGs from the front ends: ``harvest dag show|graph|runs|retry|mark`` (in process through
``cli.main`` and as the console script) and the same ``%harvest dag`` subcommands through a
real IPython shell, against a real PostgreSQL with workers on threads."""

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
from harvest_studio.cli import main as harvest_main
from harvest_studio.studio.display import HarvestOutput

from .conftest import sql, wait_for

Cli = Callable[..., tuple[int, str, str]]

# ---------------------------------------------------------------------------- the DAGs
broken = {"on": True}


@hs.activity(start_to_close="10s")
def parts(ctx: hs.ActivityContext) -> list[int]:
    return [0, 1, 2, 3]


@hs.activity(start_to_close="10s", retry=hs.RetryPolicy(max_attempts=1))
def cube(ctx: hs.ActivityContext, item: int) -> int:
    if broken["on"] and item == 2:
        raise RuntimeError("item 2 is broken")
    return item**3


@hs.activity(start_to_close="10s", retry=hs.RetryPolicy(max_attempts=2, initial_interval=0.01))
def aside(ctx: hs.ActivityContext) -> str:
    if broken["on"]:
        raise RuntimeError("aside is broken")
    return "aside ok"


@hs.activity(start_to_close="10s")
def summed(ctx: hs.ActivityContext, cubes: list[int], extra: str) -> str:
    return f"{sum(cubes)} {extra}"


@hs.dag
def cubes(d: hs.Dag) -> None:
    items = d.task(parts)
    mapped = d.map(cube, over=items, failure="collect")
    extra = d.task(aside, upstream=[items])
    d.task(summed, mapped, extra)


@hs.activity(start_to_close="10s")
def count_files(ctx: hs.ActivityContext, ready: Any) -> int:
    return int(ready["files"])


@hs.dag
def gated_load(d: hs.Dag) -> None:
    gate = d.wait_signal("files_ready")
    d.task(count_files, gate, name="load_files")


@hs.workflow
async def plain(ctx: hs.WorkflowContext) -> int:
    return 1


ACTIVITIES = [parts, cube, aside, summed, count_files]


@pytest.fixture
def worker(start_worker: Callable[..., hs.Worker]) -> hs.Worker:
    broken["on"] = True
    return start_worker(workflows=[cubes, gated_load, plain], activities=ACTIVITIES)


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


def one_error_line(err: str, code: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"harvest: error: {code}: "), err
    return lines[0]


def failed_cubes_run(client: hs.Client) -> str:
    run = client.start(cubes)
    with pytest.raises(hs.WorkflowFailedError, match="cube failed, aside failed"):
        run.result(timeout=30)
    assert run.run_id is not None
    return run.run_id


def row(text: str, first: str) -> list[str]:
    """The table line whose first cell is ``first``, split on runs of 2+ spaces."""
    for line in text.splitlines():
        cells = [c for c in line.strip().split("  ") if c.strip()]
        if cells and cells[0].strip() == first:
            return [c.strip() for c in cells]
    raise AssertionError(f"no row {first!r} in\n{text}")


def runs_count(url: str) -> int:
    return int(sql(url, "SELECT count(*) FROM harvest.runs")[0][0])


# ----------------------------------------------------------------------------------- CLI
def test_dag_show_graph_runs_and_retry(
    cli: Cli, client: hs.Client, worker: hs.Worker, tmp_path: Path, db_url: str
) -> None:
    run_id = failed_cubes_run(client)

    text = ok_out(cli, "dag", "show", run_id)
    assert f"Run          {run_id}" in text and "DAG          cubes" in text
    assert "Status       FAILED" in text and "Error        DagFailedError: DAG cubes" in text
    assert "NODE" in text and "DURATION" in text and "ERROR" in text
    assert row(text, "parts")[:4] == ["parts", "task", "succeeded", "1"]
    assert row(text, "cube")[:3] == ["cube", "map", "failed (3/4 ok, 1 failed)"]
    assert row(text, "aside")[:4] == ["aside", "task", "failed", "2"]
    assert row(text, "aside")[-1].endswith("RuntimeError: aside is broken")
    assert row(text, "summed")[:3] == ["summed", "task", "upstream_failed"]
    assert "cube[2]" not in text and "4 map item(s) folded" in text
    items = ok_out(cli, "dag", "show", run_id, "--items")
    assert row(items, "cube[2]")[:3] == ["cube[2]", "item", "failed"]
    assert "item 2 is broken" in row(items, "cube[2]")[-1]

    code, out, err = cli("dag", "show", run_id, "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert (shown["run_id"], shown["dag"], shown["status"]) == (run_id, "cubes", "FAILED")
    assert list(shown["nodes"]) == ["parts", "cube", "aside", "summed"]
    assert shown["nodes"]["cube"]["counts"]["failed"] == 1
    assert shown["states"] == {"failed": 2, "succeeded": 1, "upstream_failed": 1}
    code, out, _ = cli("--json", "dag", "show", run_id, "--items")
    assert "cube[3]" in json.loads(out)["nodes"]

    # the graph of the run, to a file
    target = tmp_path / "cubes.svg"
    written = ok_out(cli, "dag", "graph", run_id, "-o", str(target))
    assert written.startswith(f"wrote {target}: DAG cubes, run {run_id} (FAILED), 4 node(s)")
    svg = target.read_text()
    assert "<svg" in svg and "</svg>" in svg
    for name in ("parts", "cube", "aside", "summed"):
        assert f'data-node="{name}"' in svg
    assert 'data-node="aside" data-state="failed"' in svg
    # a DAG name: the graph of its newest run's version, every node pending, to stdout
    drawn = ok_out(cli, "dag", "graph", "cubes", "--engine", "python")
    assert drawn.startswith("<svg") and 'data-state="failed"' not in drawn
    assert 'data-node="summed" data-state="pending"' in drawn
    code, out, err = cli(
        "dag", "graph", run_id, "--engine", "python", "-o", str(tmp_path / "py.svg"), "--json"
    )
    assert code == 0, err
    picture = json.loads(out)
    assert picture["path"] == str(tmp_path / "py.svg") and "svg" not in picture
    assert (picture["engine"], picture["run_id"], picture["nodes"]) == ("python", run_id, 4)
    assert "without Graphviz" in picture["note"]

    lines = ok_out(cli, "dag", "runs", "cubes").splitlines()
    assert lines[0].split() == ["RUN", "ID", "STATUS", "STARTED", "TOOK", "NODES"]
    assert lines[1].startswith(run_id) and "FAILED" in lines[1]
    assert lines[1].endswith("2 failed, 1 succeeded, 1 upstream_failed")

    broken["on"] = False
    retried = ok_out(cli, "dag", "retry", run_id)
    first, kept, again = retried.splitlines()
    assert first.startswith(f"retried the failed nodes of DAG cubes run {run_id}: new run ")
    assert kept.split() == ["kept", "parts"]
    assert again.split(None, 2) == ["runs", "again", "cube (3 item(s) kept), aside, summed"]
    new_id = first.rsplit("new run ", 1)[1].split()[0]
    assert client.result(new_id, timeout=30)["summed"] == "36 aside ok"

    code, out, err = cli("dag", "runs", "cubes", "--json")
    assert code == 0, err
    listing = json.loads(out)
    assert [r["run_id"] for r in listing["runs"]] == [new_id, run_id]
    assert listing["runs"][0]["status"] == "COMPLETED"
    assert listing["runs"][0]["states"] == {"succeeded": 4}
    assert ok_out(cli, "dag", "runs", "cubes", "--limit", "1").count("\n") == 1

    # every node succeeded: nothing to retry (a usage error, nothing written)
    before = runs_count(db_url)
    code, out, err = cli("dag", "retry", new_id)
    assert code == 2 and out == ""
    assert "nothing to retry" in one_error_line(err, "usage_error")
    assert runs_count(db_url) == before

    # the console script, with --json
    exe = Path(sys.executable).with_name("harvest")
    harvest = str(exe) if exe.exists() else shutil.which("harvest")
    assert harvest, "the harvest console script is not installed"
    env = {**os.environ, "HARVEST_DATABASE_URL": db_url, "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        [harvest, "dag", "show", new_id, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["nodes"]["parts"]["reused_from"] == run_id


def test_dag_mark_opens_a_waiting_gate(cli: Cli, client: hs.Client, worker: hs.Worker) -> None:
    run = client.start(gated_load)
    wait_for(lambda: client.dag_run(run.run_id).nodes["files_ready"].state == "waiting")
    shown = ok_out(cli, "dag", "show", run.run_id)
    assert row(shown, "files_ready")[:3] == ["files_ready", "signal", "waiting"]

    marked = ok_out(
        cli,
        "dag",
        "mark",
        run.run_id,
        "files_ready",
        "--result",
        '{"files": 12}',
        "--by",
        "ann",
        "--reason",
        "copied by hand",
    )
    assert marked == (
        f"marked node files_ready of DAG gated_load run {run.run_id} succeeded with result "
        '{"files":12}, by ann: copied by hand'
    )
    assert run.result(timeout=20) == {"files_ready": {"files": 12}, "load_files": 12}
    markers = [
        e.event.details
        for e in run.history()
        if e.event_type == "MarkerRecorded"
        and e.event.details.get("node") == "files_ready"
        and e.event.details.get("state") == "succeeded"
    ]
    assert markers[0]["marked_by"] == "ann" and markers[0]["reason"] == "copied by hand"

    # a finished node (of an ended run) cannot be marked: exit 2
    code, out, err = cli("dag", "mark", run.run_id, "load_files", "--skipped", "--json")
    assert code == 2 and out == ""
    error = json.loads(err)  # --json: the error as JSON too
    assert error["code"] == "usage_error" and "cannot be marked" in error["message"]

    second = client.start(gated_load)
    wait_for(lambda: client.dag_run(second.run_id).nodes["files_ready"].state == "waiting")
    code, out, err = cli("dag", "mark", second.run_id, "files_ready", "--skipped", "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "run_id": second.run_id,
        "workflow_id": second.workflow_id,
        "dag": "gated_load",
        "node": "files_ready",
        "state": "skipped",
        "result": None,
        "by": None,
        "reason": None,
    }
    assert second.result(timeout=20) == {}
    assert client.dag_run(second.run_id).nodes["load_files"].state == "skipped"


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (("dag", "graph", "x", "--engine", "fancy"), "usage_error", "argument --engine"),
        (
            ("dag", "mark", "r", "n", "--skipped", "--result", "1"),
            "usage_error",
            "--result goes with a node marked succeeded",
        ),
        (("dag", "mark", "r", "n", "--result", "{bad"), "bad_payload", "result"),
        (("dag", "graph", "r", "-o", "/no/such/dir/x.svg"), "usage_error", "no directory"),
        (("dag", "runs", "cubes", "--limit", "0"), "usage_error", "--limit"),
        (("dag",), "usage_error", "dag: the following arguments are required: ACTION"),
        (("dag", "mark", "r"), "usage_error", "the following arguments are required: NODE"),
    ],
)
def test_bad_dag_input_exits_2_before_the_database(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], code: str, message: str
) -> None:
    nowhere = "postgresql://nobody@127.0.0.1:1/nowhere?connect_timeout=1"
    assert harvest_main(["--database-url", nowhere, *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and message in one_error_line(err, code)


def test_dag_refs_that_are_not_dag_runs(
    cli: Cli, client: hs.Client, worker: hs.Worker, tmp_path: Path
) -> None:
    code, out, err = cli("dag", "show", "nope")
    assert code == 1 and out == "" and "no run 'nope'" in one_error_line(err, "run_not_found")
    target = tmp_path / "none.svg"
    code, out, err = cli("dag", "graph", "nope", "-o", str(target))
    assert code == 1 and out == ""
    one_error_line(err, "dag_not_found")
    assert not target.exists()
    handle = client.start(plain)
    handle.result(timeout=20)
    code, _, err = cli("dag", "show", handle.run_id)
    assert code == 2 and "which is not a DAG" in one_error_line(err, "usage_error")
    assert ok_out(cli, "dag", "runs", "never_ran") == "(no runs of DAG never_ran)"


# -------------------------------------------------------------------------------- magics
class DagShell(InteractiveShell):
    __test__ = False


@pytest.fixture(scope="module")
def shell() -> Iterator[InteractiveShell]:
    config = Config()
    config.HistoryAccessor.enabled = False
    config.InteractiveShell.colors = "nocolor"
    ip = DagShell.instance(config=config)
    ip.displayhook.flush = lambda: None  # type: ignore[method-assign]
    yield ip
    DagShell.clear_instance()


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


def test_magic_dag_show_graph_runs(
    ip: InteractiveShell, client: hs.Client, worker: hs.Worker, tmp_path: Path
) -> None:
    run_id = failed_cubes_run(client)
    shown = out(ip, f"%harvest dag show {run_id}")
    assert shown.data.info.status == "FAILED" and shown.to_json()["dag"] == "cubes"
    assert "failed (3/4 ok, 1 failed)" in shown.text
    data, _ = ip.display_formatter.format(shown)
    assert data["text/plain"] == shown.text
    html = data["text/html"]
    assert "<table" in html and "<code>aside</code>" in html and "aside is broken" in html

    target = tmp_path / "run.svg"
    graph = out(ip, f"%harvest dag graph {run_id} -o {target}")
    assert graph.text.startswith(f"wrote {target}: DAG cubes, run {run_id} (FAILED)")
    assert target.read_text() == graph.svg and 'data-node="cube"' in graph.svg
    data, _ = ip.display_formatter.format(graph)
    assert data["image/svg+xml"].count('class="node ') == 4 and "text/html" not in data
    assert graph._repr_svg_() == graph.svg

    listing = out(ip, "%harvest dag runs cubes")
    assert [r.id for r in listing.data.runs] == [run_id]
    assert "<table" in listing.html and "2 failed" in listing.html

    # a DAG defined in this notebook is drawn from its definition, without the database
    ok(
        ip,
        "import harvest_studio as hs\n"
        "@hs.activity\n"
        "def step(ctx):\n"
        "    return 1\n"
        "@hs.dag\n"
        "def local_dag(d):\n"
        "    first = d.task(step, name='first')\n"
        "    d.task(step, name='second', upstream=[first], trigger_rule='all_done')\n",
    )
    local = out(ip, "%harvest dag graph local_dag --engine python")
    assert local.text.startswith("drew: DAG local_dag as defined here, 2 node(s)")
    assert 'data-node="second"' in local.svg and "all_done" in local.svg

    assert str(fails(ip, "%harvest dag graph nope")).startswith("dag_not_found: no run 'nope'")
    assert str(fails(ip, "%harvest dag mark r n --skipped --result 1")).startswith(
        "usage_error: --result goes with a node marked succeeded"
    )
    assert "usage: %harvest dag graph" in out(ip, "%harvest dag graph -h").text
    assert completions(ip, "%harvest da") == ["dag"]
    assert completions(ip, "%harvest dag ") == ["list", "show", "graph", "runs", "retry", "mark"]
    assert completions(ip, "%harvest dag graph x --eng") == ["--engine"]
    assert completions(ip, "%harvest dag graph x --engine ") == ["auto", "dot", "python"]
    ok(ip, "%config HarvestMagics.completion_cache_seconds = 0")
    assert run_id in completions(ip, "%harvest dag show ")
    assert "cubes" in completions(ip, "%harvest dag runs ")


def test_magic_dag_retry_and_mark(
    ip: InteractiveShell, client: hs.Client, worker: hs.Worker
) -> None:
    run_id = failed_cubes_run(client)
    broken["on"] = False
    retried = out(ip, f"%harvest dag retry {run_id}")
    assert retried.data.kept == ["parts"] and retried.retry_of == run_id
    assert client.result(retried.run_id, timeout=30)["summed"] == "36 aside ok"

    run = client.start(gated_load)
    wait_for(lambda: client.dag_run(run.run_id).nodes["files_ready"].state == "waiting")
    marked = out(
        ip, f"%harvest dag mark {run.run_id} files_ready --result '{{\"files\": 3}}' --by bob"
    )
    assert marked.data.result == {"files": 3} and marked.text.endswith(", by bob")
    assert run.result(timeout=20)["load_files"] == 3


def test_dag_list_and_graph_by_name(client: hs.Client, db_url: str, capsys: Any) -> None:
    from harvest_studio.cli import main as harvest_main

    @hs.dag
    def listed(d: hs.Dag) -> None:
        d.task("noop_activity")

    # the DAG is recorded when a client starts it from its definition
    client.start(listed)
    capsys.readouterr()
    assert harvest_main(["--database-url", db_url, "dag", "list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [(d["name"], d["nodes"], d["last_status"]) for d in listing["dags"]] == [
        ("listed", 1, "RUNNING")
    ]
    assert harvest_main(["--database-url", db_url, "dag", "graph", "listed"]) == 0
    assert "noop_activity" in capsys.readouterr().out


def test_magic_live_graph_follows_the_run(
    ip: InteractiveShell, client: hs.Client, worker: hs.Worker, tmp_path: Path
) -> None:
    from harvest_studio.studio.widgets.dag_graph import DagGraphView

    run = client.start(gated_load)
    wait_for(lambda: client.dag_run(run.run_id).nodes["files_ready"].state == "waiting")
    view = ok(ip, f"%harvest dag graph {run.run_id} --live --interval 0.2 --engine python")
    try:
        assert isinstance(view, DagGraphView) and view.live
        assert view.summary["status"] == "RUNNING"
        assert view.summary["nodes"] == {"waiting": 1, "pending": 1}
        assert 'data-node="files_ready" data-state="waiting"' in view.svg
        before = view.svg
        run.signal("files_ready", {"files": 2})
        wait_for(lambda: view.summary["status"] == "COMPLETED")
        assert view.summary["nodes"] == {"succeeded": 2} and view.svg != before
        wait_for(lambda: not view.live)  # the poller stops once the run has ended
    finally:
        view.close()
    assert str(fails(ip, f"%harvest dag graph {run.run_id} --live -o {tmp_path / 'x.svg'}"))
    assert "--interval must be more than 0" in str(
        fails(ip, f"%harvest dag graph {run.run_id} --live --interval 0")
    )
    assert str(fails(ip, "%harvest dag graph cubes --live")).startswith("run_not_found")
    assert completions(ip, "%harvest dag graph x --li") == ["--live"]


def test_dag_graph_of_a_dag_name_and_one_of_its_runs(
    cli: Cli, ip: InteractiveShell, client: hs.Client, worker: hs.Worker
) -> None:
    run_id = failed_cubes_run(client)
    code, printed, err = cli("--json", "dag", "graph", "cubes", run_id)
    assert code == 0, err
    drawn = json.loads(printed)
    assert (drawn["dag"], drawn["run_id"], drawn["status"]) == ("cubes", run_id, "FAILED")
    code, _, err = cli("dag", "graph", "gated_load", run_id)
    assert code == 2
    assert "is a run of 'cubes', not of DAG 'gated_load'" in one_error_line(err, "usage_error")
    graph = out(ip, f"%harvest dag graph cubes {run_id} --engine python")
    assert graph.data.run_id == run_id and 'data-state="failed"' in graph.data.svg
    assert "not of DAG 'gated_load'" in str(fails(ip, f"%harvest dag graph gated_load {run_id}"))
    assert "not of DAG" in str(fails(ip, f"%harvest dag graph gated_load {run_id} --live"))
