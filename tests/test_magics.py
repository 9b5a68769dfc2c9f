"""The ``%harvest`` magics and the in-kernel worker, driven through a real IPython shell.

Cells run with ``shell.run_cell(...)`` as a user would type them (variable expansion and
the trailing-``;`` rule only apply there). The shell is an ``InteractiveShell`` with its
history database disabled.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.completer import provisionalcompleter
from IPython.core.error import UsageError as IPythonUsageError
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

import harvest_studio as hs
from harvest_studio.studio.display import HarvestOutput
from harvest_studio.studio.magics import HarvestMagics
from harvest_studio.tools.code_versions import CodeVersions

from .apps import cli_app
from .conftest import FAST

# ------------------------------------------------------------------------------ fixtures
DEFINITIONS = '''
import asyncio
import harvest_studio as hs

@hs.activity(start_to_close="10s")
def shout(ctx, text):
    return text.upper() + "!"

@hs.workflow
async def greet(ctx, name):
    return await ctx.execute_activity(shout, f"hello {name}")

@hs.workflow
async def counter(ctx, start=0):
    state = {"total": start}

    def add(n):
        state["total"] += n
        return state["total"]

    ctx.set_query_handler("total", lambda: state["total"])
    ctx.set_update_handler("add", add)
    await ctx.wait_signal("stop")
    return state["total"]

flaky_switch = {"fail": True}

@hs.activity(start_to_close="10s", retry=hs.RetryPolicy(max_attempts=1))
def flaky(ctx, x):
    if flaky_switch["fail"]:
        raise RuntimeError("downstream is down")
    return x * 10

@hs.workflow
async def pipeline(ctx, x):
    await ctx.execute_activity(shout, str(x))
    return await ctx.execute_activity(flaky, x)
'''

REVIEW_V1 = '''
@hs.workflow
async def review(ctx, doc):
    await ctx.wait_signal("go")
    return f"v1 {doc}"
'''

REVIEW_V2 = '''
@hs.workflow
async def review(ctx, doc):
    await ctx.wait_signal("go")
    loud = await ctx.execute_activity(shout, doc)
    return f"v2 {loud}"
'''


class TestingShell(InteractiveShell):
    """The shell the tests type into (its display hook is stubbed at exit, as jupysql
    does)."""

    __test__ = False


@pytest.fixture(scope="module")
def shell() -> Iterator[InteractiveShell]:
    config = Config()
    config.HistoryAccessor.enabled = False
    config.InteractiveShell.colors = "nocolor"
    ip = TestingShell.instance(config=config)
    ip.displayhook.flush = lambda: None  # type: ignore[method-assign]
    yield ip
    TestingShell.clear_instance()


@pytest.fixture
def ip(shell: InteractiveShell, db_url: str) -> Iterator[InteractiveShell]:
    """The shell with the extension loaded against this test's database; fast worker."""
    ok(shell, "%load_ext harvest_studio")
    ok(shell, f"%config HarvestMagics.database_url = {db_url!r}")
    magics(shell).worker_options = dict(FAST)
    try:
        yield shell
    finally:
        shell.run_cell("%unload_ext harvest_studio")
        shell.reset(new_session=False)
        shell.config.pop("HarvestMagics", None)  # %config writes there too


def magics(shell: InteractiveShell) -> HarvestMagics:
    found = [c for c in shell.configurables if isinstance(c, HarvestMagics)]
    assert len(found) == 1
    return found[0]


def ok(shell: InteractiveShell, cell: str) -> Any:
    """Run a cell that must succeed; returns the value it displayed."""
    result = shell.run_cell(cell)
    error = result.error_before_exec or result.error_in_exec
    if error is not None:
        raise error
    return result.result


def fails(shell: InteractiveShell, cell: str) -> IPythonUsageError:
    """Run a cell that must fail with a one-line UsageError; returns it."""
    result = shell.run_cell(cell)
    error = result.error_in_exec
    assert isinstance(error, IPythonUsageError), f"{cell!r} gave {error!r}"
    assert "\n" not in str(error)
    return error


def out(shell: InteractiveShell, cell: str) -> HarvestOutput:
    value = ok(shell, cell)
    assert isinstance(value, HarvestOutput), f"{cell!r} displayed {value!r}"
    return value


def worker_up(shell: InteractiveShell) -> None:
    ok(shell, DEFINITIONS)
    status = out(shell, "%harvest worker start")
    assert status.data.state == "running"


# ------------------------------------------------------------------------- load / unload
def test_import_is_cheap() -> None:
    code = (
        "import sys, harvest_studio\n"
        "assert 'IPython' not in sys.modules, 'IPython imported'\n"
        "assert 'harvest_studio.studio.magics' not in sys.modules\n"
        "assert callable(harvest_studio.load_ipython_extension)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_load_and_unload(shell: InteractiveShell) -> None:
    ok(shell, "%load_ext harvest_studio")
    try:
        m = magics(shell)
        assert shell.magics_manager.magics["line"]["harvest"].__self__ is m
        assert shell.magics_manager.magics["cell"]["harvest"].__self__ is m
        assert any(getattr(f, "__self__", None) is m for f in shell.Completer.custom_matchers)
        assert m.post_run_cell in shell.events.callbacks["post_run_cell"]
        ok(shell, "%load_ext harvest_studio")  # a second load changes nothing
        assert len([c for c in shell.configurables if isinstance(c, HarvestMagics)]) == 1
    finally:
        ok(shell, "%unload_ext harvest_studio")
    assert "harvest" not in shell.magics_manager.magics["line"]
    assert "harvest" not in shell.magics_manager.magics["cell"]
    assert not any(isinstance(c, HarvestMagics) for c in shell.configurables)
    assert not any(
        isinstance(getattr(f, "__self__", None), HarvestMagics)
        for f in shell.Completer.custom_matchers
    )
    assert m.post_run_cell not in shell.events.callbacks["post_run_cell"]
    error = shell.run_cell("%harvest list").error_in_exec
    assert isinstance(error, IPythonUsageError) and "not found" in str(error)
    ok(shell, "%reload_ext harvest_studio")  # load, unload, load again
    ok(shell, "%unload_ext harvest_studio")


def test_help(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    ok(ip, "%harvest?")
    printed = capsys.readouterr().out
    assert "%harvest COMMAND" in printed and "worker" in printed and "Commands:" in printed
    bare = out(ip, "%harvest")
    assert "Commands:" in bare.text
    start_help = out(ip, "%harvest start -h")
    assert "usage: %harvest start" in start_help.text and "--id-reuse-policy" in start_help.text


# ------------------------------------------------------------------------------ commands
def test_start_list_show_history_result(ip: InteractiveShell) -> None:
    worker_up(ip)
    done = out(ip, "%harvest start greet '\"ada\"' --id greet-ada --wait --timeout 30s")
    assert done.data.status == "COMPLETED" and done.data.result == "HELLO ADA!"
    assert "started greet: workflow id greet-ada" in done.text
    assert "Status  COMPLETED" in done.text

    started = out(ip, "%harvest start greet '\"bob\"'")
    assert started.text.startswith("started greet: workflow id ")
    run_id = started.run_id  # attributes of .data read through
    assert started.data.run_id == run_id

    result = out(ip, f"%harvest result {run_id} --timeout 30s")
    assert result.data.result == "HELLO BOB!" and "HELLO BOB!" in result.text

    listing = out(ip, "%harvest list")
    assert run_id in listing.text and "greet-ada" in listing.text
    assert listing.data.runs[0].run_id == run_id
    listing = out(ip, "%harvest list --workflow-id greet-ada --status completed")
    assert len(listing.data.runs) == 1

    shown = out(ip, "%harvest show greet-ada")
    assert shown.data.workflow_type == "greet" and "Status       COMPLETED" in shown.text
    assert shown.data.fingerprint == ip.user_ns["greet"].fingerprint

    history = out(ip, "%harvest history greet-ada")
    types = [e.event_type for e in history.data.events]
    assert types[0] == "WorkflowStarted" and types[-1] == "WorkflowCompleted"
    assert "ActivityCompleted" in history.text


def test_what_a_magic_returns_about_a_run_is_its_handle(ip: InteractiveShell) -> None:
    worker_up(ip)
    ok(ip, "run = %harvest start counter 5 --id handled")
    run = ip.user_ns["run"]
    assert run.id == "handled" and run.run_id == run.data.run_id
    assert run.update("add", 2) == 7 and run.query("total") == 7
    assert run.signal("stop") is True
    assert run.result(timeout=30) == 7
    assert run.describe().status == "COMPLETED"
    card = run.card()
    assert type(card).__name__ == "RunCard"
    assert type(run.explore()).__name__ == "HistoryExplorer"
    assert "started counter: workflow id handled" in run.text  # still the rich display
    shown = out(ip, "%harvest show handled")
    assert shown.history()[-1].event_type == "WorkflowCompleted"
    # signal-with-start: the result's `signal` field is read from .data, the handle's
    # signal() is the method
    ok(ip, "sws = %harvest start counter 1 --id sws --signal stop")
    sws = ip.user_ns["sws"]
    assert sws.data.signal == "stop" and callable(sws.signal)
    assert sws.result(timeout=30) == 1
    assert {"result", "signal", "explore", "run_id"} <= set(dir(sws))


def test_rich_output_and_silencing(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
                                   ) -> None:
    worker_up(ip)
    ok(ip, "%harvest start greet '\"ada\"' --id g1 --wait")
    for cell in ("%harvest list", "%harvest show g1", "%harvest history g1",
                 "%harvest result g1", "%harvest worker status"):
        value = out(ip, cell)
        data, _ = ip.display_formatter.format(value)
        assert data["text/plain"] == value.text, cell
        assert data["text/html"].startswith("<"), cell
        assert "<script" not in data["text/html"]
    html = out(ip, "%harvest list").html
    assert "<table" in html and "COMPLETED" in html and "g1" in html
    ok(ip, "%harvest start greet '\"<i>\"' --id '<b>id</b>' --wait")
    for cell in ("%harvest list", "%harvest show '<b>id</b>'", "%harvest history '<b>id</b>'"):
        html = out(ip, cell).html
        assert "&lt;b&gt;id&lt;/b&gt;" in html and "<b>id" not in html, cell
    capsys.readouterr()

    result = ip.run_cell("%harvest list;")
    assert result.success and result.result is None
    assert "g1" not in capsys.readouterr().out
    result = ip.run_cell("%harvest start greet '\"zed\"' --id g2;")
    assert result.success and result.result is None
    assert out(ip, "%harvest result g2 --timeout 30s").data.result == "HELLO ZED!"
    shown = ip.run_cell("%harvest show g2")
    assert shown.result is not None and "Out[" in capsys.readouterr().out


def test_signal_query_update_pause_resume(ip: InteractiveShell) -> None:
    worker_up(ip)
    ok(ip, "%harvest start counter 5 --id c1")
    assert out(ip, "%harvest query c1 total").data.result == 5
    updated = out(ip, "%harvest update c1 add 3")
    assert updated.data.result == 8 and "update add(3)" in updated.text
    paused = out(ip, "%harvest pause c1 --reason 'look first'")
    assert paused.data.changed and paused.text.startswith("paused run")
    assert out(ip, "%harvest pause c1").data.changed is False
    assert out(ip, "%harvest resume c1").data.changed
    signalled = out(ip, "%harvest signal c1 stop")
    assert signalled.text.startswith("signalled stop to run")
    assert out(ip, "%harvest result c1 --timeout 30s").data.result == 8


def test_cell_bodies_are_python(ip: InteractiveShell) -> None:
    worker_up(ip)
    ip.user_ns["who"] = "grace"
    started = out(ip, "%%harvest start greet --id cell-greet\nwho")
    assert out(ip, f"%harvest result {started.run_id} --timeout 30s").data.result == (
        "HELLO GRACE!"
    )
    ok(ip, "%%harvest start counter --id cell-counter\nbase = 40\nbase + 2")
    assert out(ip, "%%harvest query cell-counter total\n()").data.result == 42
    assert out(ip, "%%harvest update cell-counter add\n(8)").data.result == 50
    ok(ip, "%%harvest signal cell-counter stop\n{'by': who}")
    assert out(ip, "%harvest result cell-counter --timeout 30s").data.result == 50
    error = fails(ip, "%%harvest start greet '\"x\"'\nwho")
    assert "not both" in str(error)
    error = fails(ip, "%%harvest show cell-greet\nwho")
    assert "takes no cell body" in str(error)


def test_cancel_and_terminate(ip: InteractiveShell) -> None:
    worker_up(ip)
    ok(ip, "%harvest start counter --id to-cancel")
    ok(ip, "%harvest start counter --id to-terminate")
    cancelled = out(ip, "%harvest cancel to-cancel --reason enough")
    assert cancelled.data.changed and "cancel requested" in cancelled.text
    assert out(ip, "%harvest result to-cancel --timeout 30s").data.status == "CANCELLED"
    terminated = out(ip, "%harvest terminate to-terminate")
    assert terminated.text.startswith("terminated run")
    assert out(ip, "%harvest show to-terminate").data.status == "TERMINATED"


def test_reset_retry_rerun_children_chain(ip: InteractiveShell) -> None:
    worker_up(ip)
    failed = out(ip, "%harvest start pipeline 4 --id pipe --wait --timeout 30s")
    assert failed.data.status == "FAILED"
    dry = out(ip, "%harvest reset pipe --to first_activity --dry-run")
    assert dry.data.valid and not dry.data.applied and dry.text.startswith("dry run:")
    error = fails(ip, "%harvest reset pipe --to-event 3")
    assert str(error).startswith("invalid_reset_point:")
    ip.user_ns["flaky_switch"]["fail"] = False
    retried = out(ip, "%harvest retry pipe")
    assert retried.data.applied and retried.text.startswith("retried run")
    assert out(ip, f"%harvest result {retried.data.new_run_id} --timeout 30s").data.result == 40
    rerun = out(ip, "%harvest rerun pipe")
    assert rerun.text.startswith("reran pipeline")
    assert out(ip, f"%harvest result {rerun.run_id} --timeout 30s").data.result == 40
    tree = out(ip, "%harvest children pipe")
    assert "(no child runs)" in tree.text
    chain = out(ip, "%harvest chain pipe")
    assert chain.text.startswith("workflow id pipe: 1 run(s)")


def test_bad_arguments_are_one_line_usage_errors(ip: InteractiveShell,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    ok(ip, DEFINITIONS)
    cases = {
        "%harvest bogus": "usage_error: argument COMMAND: invalid choice",
        "%harvest start": "usage_error: start: the following arguments are required",
        "%harvest start greet ada": "bad_payload:",
        "%harvest start greet '\"a": "usage_error: cannot split the line",
        "%harvest start nobody": "unknown_workflow:",
        "%harvest start greet --timeout 5s": "usage_error: start: --timeout only makes sense",
        "%harvest show no-such-run": "run_not_found:",
        "%harvest history x --limit 0": "usage_error: history: argument --limit",
        "%harvest list --status nope": "usage_error: unknown status",
        "%harvest list --query 'a ='": "bad_filter:",
        "%harvest reset x": "usage_error: reset: one of the arguments",
        "%harvest worker stop --queue q": "usage_error: worker:",
        "%harvest list; %harvest list": "usage_error: one command per %harvest line",
    }
    for cell, start in cases.items():
        error = fails(ip, cell)
        assert str(error).startswith(start), (cell, str(error))
    printed = capsys.readouterr().err
    assert "Traceback" not in printed and "UsageError: bad_payload:" in printed


# ---------------------------------------------------------------------------- completion
def completions(shell: InteractiveShell, line: str) -> list[str]:
    """What Jupyter's complete_request gets for the cursor at the end of ``line``."""
    with provisionalcompleter():
        found = list(shell.Completer.completions(line, len(line)))
    return [c.text for c in found]


def test_completion(ip: InteractiveShell, start_worker: Callable[..., hs.Worker]) -> None:
    assert completions(ip, "%harvest st") == ["start"]
    assert completions(ip, "%%harvest sta") == ["start"]
    assert set(completions(ip, "%harvest ")) >= {"start", "list", "show", "worker", "reset"}
    assert completions(ip, "%harvest worker s") == ["start", "stop", "status"]
    assert completions(ip, "%harvest start --id-r") == ["--id-reuse-policy"]
    assert completions(ip, "%harvest start greet --id-reuse-policy rej") == ["reject_duplicate"]
    assert completions(ip, "%harvest list --status=RUN") == ["RUNNING"]
    assert completions(ip, "%harvest list --status COMP") == ["COMPLETED"]
    assert completions(ip, "%harvest reset x --to first") == ["first_activity"]
    assert "print" in completions(ip, "pri")  # other lines are left alone

    # workflow names: defined in the notebook, and registered by other workers
    ok(ip, DEFINITIONS)
    assert completions(ip, "%harvest start gr") == ["greet"]
    assert completions(ip, "%harvest list --type cou") == ["counter"]
    start_worker(workflows=[cli_app.napper])
    assert completions(ip, "%harvest start nap") == []  # no client yet: no database reads
    ok(ip, "%config HarvestMagics.completion_cache_seconds = 0")
    ok(ip, "%harvest worker start")
    assert completions(ip, "%harvest start nap") == ["napper"]

    # run ids and workflow ids of recent runs
    started = out(ip, "%harvest start greet '\"ada\"' --id ada-greeting")
    run_id = started.run_id
    assert completions(ip, f"%harvest show {run_id[:8]}") == [run_id]
    assert completions(ip, "%harvest history ada-") == ["ada-greeting"]
    assert completions(ip, f"%harvest signal {run_id[:13]}") == [run_id]
    assert completions(ip, "%harvest list --workflow-id ada") == ["ada-greeting"]


# -------------------------------------------------------------------------- configuration
def test_config_traits(ip: InteractiveShell, db_url: str,
                       caplog: pytest.LogCaptureFixture) -> None:
    worker_up(ip)
    for name in ("a", "b", "c"):
        ok(ip, f"%harvest start greet '\"{name}\"' --id cfg-{name} --wait --timeout 30s")
    ok(ip, "%config HarvestMagics.display_limit = 2")
    listing = out(ip, "%harvest list")
    assert len(listing.data.runs) == 2 and listing.data.next_page_token
    assert "more runs: add --page-token" in listing.text
    listing = out(ip, "%harvest list --limit 3")
    assert len(listing.data.runs) == 3
    assert "1 more not shown (display_limit)" in listing.text
    history = out(ip, "%harvest history cfg-a")
    assert len(history.data.events) > 2 and "more events: add --after-seq 2" in history.text
    ok(ip, "%config HarvestMagics.display_limit = 0")  # %config logs the refusal
    assert "display_limit must be >= 1" in caplog.text
    assert magics(ip).display_limit == 2

    with hs.connect(db_url) as client:
        client.create_namespace("team")
    ok(ip, "%config HarvestMagics.namespace = 'team'")
    assert magics(ip).client.namespace == "team"
    assert out(ip, "%harvest list").data.runs == []
    ok(ip, "%config HarvestMagics.namespace = 'missing'")
    assert str(fails(ip, "%harvest start greet '\"x\"'")).startswith("namespace_not_found:")
    # the worker keeps serving where it started until restarted
    assert out(ip, "%harvest worker status").data.namespace == "default"

    # a bad value set with %config stays in the shell's config: loading again says so
    error = fails(ip, "%reload_ext harvest_studio")
    assert str(error).startswith("bad_config: HarvestMagics: display_limit must be >= 1")
    ok(ip, "%config HarvestMagics.display_limit = 2")
    ok(ip, "%load_ext harvest_studio")
    assert magics(ip).display_limit == 2


def test_pyproject_settings(shell: InteractiveShell, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent("""
        [project]
        name = "analysis"

        [tool.harvest_studio]
        namespace = "team"
        display_limit = 7
        worker_options = { poll_interval = 0.5 }
        something_else = "ignored"
    """))
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    ok(shell, "%load_ext harvest_studio")
    try:
        m = magics(shell)
        assert m.pyproject == tmp_path / "pyproject.toml"
        assert (m.namespace, m.display_limit) == ("team", 7)
        assert m.worker_options == {"poll_interval": 0.5}
    finally:
        ok(shell, "%unload_ext harvest_studio")

    shell.config.HarvestMagics.display_limit = 3  # IPython configuration wins
    try:
        ok(shell, "%load_ext harvest_studio")
        assert (magics(shell).namespace, magics(shell).display_limit) == ("team", 3)
        ok(shell, "%unload_ext harvest_studio")
    finally:
        del shell.config["HarvestMagics"]

    (tmp_path / "pyproject.toml").write_text("[tool.harvest_studio]\ndisplay_limit = 0\n")
    error = shell.run_cell("%load_ext harvest_studio").error_in_exec
    assert isinstance(error, IPythonUsageError) and "[tool.harvest_studio]" in str(error)
    assert not any(isinstance(c, HarvestMagics) for c in shell.configurables)


# -------------------------------------------------------------------- the in-kernel worker
def test_worker_start_status_stop(ip: InteractiveShell) -> None:
    status = out(ip, "%harvest worker")
    assert status.data.state == "not started" and "not started" in status.text
    assert str(fails(ip, "%harvest worker start")).startswith("usage_error: this notebook "
                                                                "defines no")
    ok(ip, DEFINITIONS)
    started = out(ip, "%harvest worker start --concurrency 4")
    assert started.data.action == "started" and started.data.running
    assert {w.name for w in started.data.workflows} == {"greet", "counter", "pipeline"}
    assert set(started.data.activities) == {"shout", "flaky"}
    assert "A kernel restart loses nothing" in started.text
    assert "lease expires" in started.text
    worker = magics(ip).kernel_worker.worker
    assert worker is not None and worker.options.max_concurrent_tasks == 4

    # cells keep running while the worker works; re-running definition cells keeps it up
    ok(ip, "%harvest start greet '\"ada\"' --id w1")
    ok(ip, DEFINITIONS)
    assert magics(ip).kernel_worker.worker is worker and worker.running
    assert out(ip, "%harvest result w1 --timeout 30s").data.result == "HELLO ADA!"
    status = out(ip, "%harvest worker status")
    assert status.data.state == "running" and status.data.stats["activities"] >= 1

    # a workflow defined after the start is not served until a restart
    ok(ip, REVIEW_V1)
    status = out(ip, "%harvest worker status")
    assert status.data.not_served == ("review",)
    assert "Defined but not served: review" in status.text
    restarted = out(ip, "%harvest worker start")
    assert restarted.data.action == "restarted" and not restarted.data.not_served
    assert not worker.running and magics(ip).kernel_worker.worker is not worker

    stopped = out(ip, "%harvest worker stop")
    assert stopped.data.state == "stopped" and "in-kernel worker stopped" in stopped.text
    assert out(ip, "%harvest worker status").data.state == "stopped"


def test_worker_warnings_stay_out_of_cells(
    ip: InteractiveShell, capfd: pytest.CaptureFixture[str]
) -> None:
    import logging
    import threading

    worker_up(ip)
    # what the worker's own thread logs (a lost listener, a blocked run...)
    said = threading.Thread(target=lambda: logging.getLogger("harvest_studio.worker").warning(
        "run %s blocked: %s", "r-1", "the code issues a timer where history has an activity"))
    said.start()
    said.join()
    for _ in range(3):
        ok(ip, "x = 1")  # unrelated cells
    printed = capfd.readouterr()
    assert "blocked" not in printed.out + printed.err
    log = out(ip, "%harvest worker log")
    [record] = [r for r in log.data if "blocked" in r.message]
    assert record.level == "WARNING" and "r-1" in record.message and "r-1" in log.text
    status = out(ip, "%harvest worker status")
    assert status.data.warnings >= 1 and "`%harvest worker log`" in status.text
    assert str(fails(ip, "%harvest worker status --limit 3")).startswith("usage_error")


def test_redefining_a_workflow_makes_a_new_version(ip: InteractiveShell, db_url: str) -> None:
    ok(ip, DEFINITIONS)
    ok(ip, REVIEW_V1)
    v1 = ip.user_ns["review"].fingerprint
    ok(ip, "%harvest worker start")
    old = out(ip, "%harvest start review '\"a\"' --id old-review")
    assert out(ip, "%harvest show old-review").data.fingerprint == v1

    # redefine the cell: new code, new fingerprint; new runs use it at once
    ok(ip, REVIEW_V2)
    v2 = ip.user_ns["review"].fingerprint
    assert v2 != v1
    assert [d.fingerprint for d in magics(ip).versions.workflow_versions("review")] == [v1, v2]
    new = out(ip, "%harvest start review '\"b\"' --id new-review")
    assert out(ip, "%harvest show new-review").data.fingerprint == v2
    status = out(ip, "%harvest worker status")
    (review,) = [w for w in status.data.workflows if w.name == "review"]
    assert (review.fingerprint, review.newest, review.versions) == (v2, v2, 2)

    # a start by name from outside the notebook gets the new version too
    with hs.connect(db_url) as client:
        outside = client.start("review", "c", id="outside-review")
        assert client.describe("outside-review").fingerprint == v2

    # a fresh worker (empty cache) replays each run with the version it started with
    assert out(ip, "%harvest worker start").data.action == "restarted"
    for ref in (old.run_id, new.run_id, outside.run_id):
        ok(ip, f"%harvest signal {ref} go")
    assert out(ip, "%harvest result old-review --timeout 30s").data.result == "v1 a"
    assert out(ip, "%harvest result new-review --timeout 30s").data.result == "v2 B!"
    assert out(ip, "%harvest result outside-review --timeout 30s").data.result == "v2 C!"

    # re-running the old cell makes its code the newest again, for starts by name too
    ok(ip, REVIEW_V1)
    ok(ip, "%harvest start review '\"d\"' --id again-review")
    assert out(ip, "%harvest show again-review").data.fingerprint == v1
    with hs.connect(db_url) as client:
        client.start("review", "e", id="outside-again")
        assert client.describe("outside-again").fingerprint == v1
    for ref in ("again-review", "outside-again"):
        ok(ip, f"%harvest signal {ref} go")
    assert out(ip, "%harvest result again-review --timeout 30s").data.result == "v1 d"
    assert out(ip, "%harvest result outside-again --timeout 30s").data.result == "v1 e"


def test_activity_redefinition_takes_effect_without_restart(ip: InteractiveShell) -> None:
    worker_up(ip)
    assert out(ip, "%harvest start greet '\"a\"' --wait --timeout 30s").data.result == (
        "HELLO A!"
    )
    ok(ip, textwrap.dedent('''
        @hs.activity(start_to_close="10s")
        def shout(ctx, text):
            return text.upper() + "!!!"
    '''))
    assert out(ip, "%harvest start greet '\"b\"' --wait --timeout 30s").data.result == (
        "HELLO B!!!"
    )


# ------------------------------------------------------------------------- code versions
def _review(suffix: str) -> hs.WorkflowDefinition:
    async def review(ctx: hs.WorkflowContext) -> str:
        return suffix

    return hs.WorkflowDefinition("review", review, f"fp-{suffix}")


def test_code_versions_newest_is_the_last_bound() -> None:
    versions = CodeVersions()
    v1, v2 = _review("1"), _review("2")
    assert versions.scan({"review": v1, "_": v2, "_5": v2}).workflows == [v1]
    assert versions.newest_workflow("review") is v1
    new = versions.scan({"review": v2})
    assert new.workflows == [v2] and versions.newest_workflow("review") is v2
    versions.scan({"review": v2, "old": v1})  # v1 bound again under another name...
    assert versions.newest_workflow("review") is v1  # ...newly bound: newest
    versions.scan({"review": v2, "old": v1})  # nothing newly bound: nothing changes
    assert versions.newest_workflow("review") is v1
    versions.scan({"review": v2})  # v1 no longer bound: the bound version is the newest
    assert versions.newest_workflow("review") is v2
    versions.scan({"review": _review("2")})  # same code again, a new function object
    assert versions.newest_workflow("review") is not v2
    assert [d.fingerprint for d in versions.workflow_versions("review")] == ["fp-1", "fp-2"]
    versions.scan({})  # nothing bound: the last newly bound is the newest
    assert versions.newest_workflow("review").fingerprint == "fp-1"
    versions.scan({"review": v2})
    assert versions.workflow("review", "fp-1") is v1
    assert versions.workflow("review", "fp-unknown").fingerprint == "fp-2"  # the newest
    assert versions.workflow("nothing", None) is None
    assert versions.bound_workflow("review", {"a": v1, "b": v2}) is v2
    assert versions.bound_workflow("other", {"other": v1}) is v1  # by variable name
    assert versions.bound_workflow("review", {}) is None


def test_explore_opens_the_history_explorer(ip: InteractiveShell) -> None:
    from harvest_studio.studio.widgets.explorer import HistoryExplorer

    worker_up(ip)
    out(ip, "%harvest start greet '\"eve\"' --id greet-eve --wait --timeout 30s")
    explorer = ok(ip, "%harvest explore greet-eve --window 50")
    try:
        assert isinstance(explorer, HistoryExplorer)
        assert explorer.window_size == 50
        assert explorer.summary["status"] == "COMPLETED"
    finally:
        explorer.close()
    fails(ip, "%harvest explore")
