"""The tutorial notebooks in ``notebooks/``, run top to bottom in a real kernel.

Each notebook is executed with papermill in the ``python3`` kernel of this interpreter,
against this test's database (its ``parameters`` cell takes ``database_url``), and the
tests check what it printed and what it left in the database.

The notebooks are generated from the cell sources below (no outputs are committed):

    python -m tests.test_notebooks        # rewrite notebooks/*.ipynb

and :func:`test_notebooks_are_generated_without_outputs` fails when a notebook and its
source here disagree.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from .notebook_analysis import ANALYSIS
from .notebook_cells import PARAMETERS, SETUP, Cell, code, md
from .notebook_dags import DAGS_AND_SCHEDULES
from .notebook_tour import TOUR

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
TIMEOUT = 60  # seconds a notebook may wait on a run (the notebooks' `timeout` parameter)

# ---------------------------------------------------------------------------------------
# the notebooks' sources: (cell type, source, tags)
# ---------------------------------------------------------------------------------------
QUICKSTART: list[Cell] = [
    md(
        """
        # Harvest Studio quickstart

        Define an activity and a workflow in cells, serve them from a worker inside this
        kernel, start a run and look at it. Everything a run does is stored in PostgreSQL:
        by default the embedded server that needs no setup.
        """
    ),
    PARAMETERS,
    md("`%load_ext harvest_studio` adds the `%harvest` magic (`%harvest?` lists its commands)."),
    SETUP,
    md(
        """
        ## Define

        An **activity** does the real work (calls services, writes files); it may be retried.
        A **workflow** is `async` code that orchestrates activities; the engine records every
        step in the run's history and replays the code from it, so a run survives crashes
        and restarts.
        """
    ),
    code(
        """
        @hs.activity(start_to_close="30s")
        def shout(ctx, text):
            return text.upper() + "!"


        @hs.workflow
        async def greet(ctx, name):
            loud = await ctx.execute_activity(shout, f"hello {name}")
            return f"{loud} (from run {ctx.info.workflow_id})"
        """
    ),
    md(
        """
        ## Serve

        The in-kernel worker runs the workflows and activities defined in this notebook on a
        background thread: cells keep running while it works.
        """
    ),
    code("%harvest worker start"),
    md(
        """
        ## Start a run

        Arguments are JSON values, one per word (a string is `'"ada"'`). The command returns
        at once; `result` waits for the run to end.
        """
    ),
    code("""run = %harvest start greet '"ada"' --id greet-ada\nrun"""),
    code("%harvest result greet-ada --timeout {timeout}s"),
    md("`show` gives the run's facts; `history` the events the engine recorded for it."),
    code("%harvest show greet-ada"),
    code("%harvest history greet-ada"),
    md(
        """
        Every `%harvest` command returns an object whose `.data` is the result (here a
        `RunResult`); its attributes read through. One about a run is also the run's
        handle: `outcome.result()` waits for the run's result, as `run.result()` would.
        """
    ),
    code(
        """
        outcome = %harvest result {run.run_id}
        outcome.status, outcome.result()
        """
    ),
    md(
        """
        ## Watch a run live

        This workflow takes a few seconds: each step sleeps. `explore --live` opens the
        history explorer and follows the run: attempts grow while they run, the time axis
        moves with the run, and the header says what the run waits for. Click a bar or a
        row to see its event; the buttons below signal, query, cancel or reset the run.
        When the run ends, the explorer leaves a picture of it in the notebook, so the
        saved notebook shows the run even where no kernel runs.
        """
    ),
    code(
        """
        import time


        @hs.activity(start_to_close="30s")
        def square(ctx, n):
            time.sleep(0.6)
            return n * n


        @hs.workflow
        async def squares(ctx, count):
            total = 0
            for n in range(1, count + 1):
                total += await ctx.execute_activity(square, n)
            return total
        """
    ),
    md(
        """
        The worker serves what the kernel held when it started: `worker start` again
        restarts it with the new definitions (work in flight finishes first).
        """
    ),
    code("%harvest worker start"),
    code("%harvest start squares 5 --id squares-5"),
    code("%harvest explore squares-5 --live"),
    code("%harvest result squares-5 --timeout {timeout}s"),
    code("%harvest worker stop"),
]

SIGNALS: list[Cell] = [
    md(
        """
        # Signals, timers and queries

        A workflow can wait: for a **signal** sent from outside (with a timeout), or for a
        **durable timer** that fires even if the kernel restarted in between. A **query
        handler** answers questions about a running run without changing it.
        """
    ),
    PARAMETERS,
    SETUP,
    code(
        """
        @hs.activity(start_to_close="30s")
        def publish(ctx, doc, reviewer):
            return f"{doc} published (reviewed by {reviewer})"


        @hs.workflow
        async def review(ctx, doc, wait_seconds):
            state = {"doc": doc, "stage": "waiting for a reviewer"}
            ctx.set_query_handler("state", lambda: state)

            # a signal, or None when wait_seconds pass first (a durable timer)
            reviewer = await ctx.wait_signal("reviewed", timeout=wait_seconds)
            if reviewer is None:
                state["stage"] = "expired"
                return f"{doc}: nobody reviewed it in {wait_seconds}s"

            state["stage"] = f"cooling off after the review by {reviewer}"
            await ctx.sleep(1)  # a durable timer: 1 second
            state["stage"] = "publishing"
            return await ctx.execute_activity(publish, doc, reviewer)
        """
    ),
    code("%harvest worker start"),
    md("Start a review that waits up to 30 seconds for its signal, and ask it how it is doing:"),
    code("""%harvest start review '"spec.md"' 30 --id review-spec"""),
    code("%harvest query review-spec state"),
    md(
        """
        Send the signal (its payload is one JSON value). The run then sleeps one second on
        a durable timer and publishes:
        """
    ),
    code("""%harvest signal review-spec reviewed '"ada"'"""),
    code("%harvest result review-spec --timeout {timeout}s"),
    md("The history shows the signal, the timer it started and its firing:"),
    code("%harvest history review-spec"),
    md(
        """
        A review nobody signals: after one second the timer of `wait_signal` fires and
        it returns `None`.
        """
    ),
    code("""%harvest start review '"draft.md"' 1 --id review-draft"""),
    code("%harvest result review-draft --timeout {timeout}s"),
    code("%harvest query review-draft state"),
    code("%harvest worker stop"),
]

RESET: list[Cell] = [
    md(
        """
        # When code changes under a running run: replay and reset

        The engine replays a run's history through its workflow code. Code that no longer
        issues the same steps in the same order **blocks** the run (it is not failed) until
        compatible code runs again. This notebook blocks a run on purpose, finds the
        difference with `%harvest replay`, fixes it, and then resets a run.
        """
    ),
    PARAMETERS,
    SETUP,
    md("Retry blocked runs quickly (for this tutorial; the default backoff grows to 60 s):"),
    code(
        """
        %config HarvestMagics.worker_options = {"blocked_backoff": 0.2, "blocked_backoff_max": 1.0}
        """
    ),
    code(
        """
        @hs.activity(start_to_close="30s")
        def check_fraud(ctx, item):
            return "ok"


        @hs.activity(start_to_close="30s")
        def reserve(ctx, item):
            return f"reserved {item}"


        @hs.activity(start_to_close="30s")
        def charge(ctx, item):
            return f"charged {item}"
        """
    ),
    md("Version 1 reserves the item, waits for the payment signal, then charges:"),
    code(
        """
        @hs.workflow
        async def order(ctx, item):
            reserved = await ctx.execute_activity(reserve, item)
            await ctx.wait_signal("paid")
            charged = await ctx.execute_activity(charge, item)
            return f"{reserved}, {charged}"
        """
    ),
    code("%harvest worker start"),
    code("""%harvest start order '"book"' --id order-1"""),
    md(
        """
        A small helper waits until the worker (on its background thread) has got the run to
        a given point:
        """
    ),
    code(
        """
        import time


        def wait_until(ref, done, seconds=timeout):
            deadline = time.monotonic() + seconds
            while True:
                info = %harvest show {ref}
                if done(info.data) or time.monotonic() > deadline:
                    return info
                time.sleep(0.1)


        # reserved, now waiting for "paid"
        wait_until("order-1", lambda run: run.events >= 4)
        """
    ),
    md(
        """
        ## Change the code under it

        Version 2 checks for fraud **before** reserving. Runs started from now on are fine,
        but `order-1` already recorded "reserve" as its first step.
        """
    ),
    code(
        """
        @hs.workflow
        async def order(ctx, item):
            await ctx.execute_activity(check_fraud, item)
            reserved = await ctx.execute_activity(reserve, item)
            await ctx.wait_signal("paid")
            charged = await ctx.execute_activity(charge, item)
            return f"{reserved}, {charged}"
        """
    ),
    md(
        """
        While this kernel holds version 1, `order-1` keeps replaying it. A kernel restart
        forgets it: `%reload_ext` does the same to the code versions (and stops the worker),
        so the restarted worker has only version 2.
        """
    ),
    code(
        """
        %reload_ext harvest_studio
        %harvest worker start
        """
    ),
    md("The payment arrives; the worker replays `order-1` with version 2 and blocks it:"),
    code(
        """
        %harvest signal order-1 paid '"card"';
        wait_until("order-1", lambda run: run.is_blocked)
        """
    ),
    md(
        """
        `%harvest replay` replays the run's stored history through the notebook's code,
        locally, writing nothing, and shows the first difference and both fingerprints:
        """
    ),
    code("%harvest replay order-1"),
    md(
        """
        ## Restore version 1

        Run version 1 again (in a notebook: re-run its cell). The kernel holds it once more,
        the blocked run is retried with it, takes the payment and finishes.
        """
    ),
    code(
        """
        @hs.workflow
        async def order(ctx, item):
            reserved = await ctx.execute_activity(reserve, item)
            await ctx.wait_signal("paid")
            charged = await ctx.execute_activity(charge, item)
            return f"{reserved}, {charged}"
        """
    ),
    code("%harvest replay order-1"),
    code("%harvest result order-1 --timeout {timeout}s"),
    md(
        """
        ## Reset

        A reset makes a new run from a run's history up to a completed point (an event
        number, or `--to first_activity` / `last_workflow_task`) and lets the code running
        now take it from there. Event 4 is where "reserve" completed; `--dry-run` checks the
        point and writes nothing:
        """
    ),
    code("%harvest reset order-1 --to-event 4 --dry-run"),
    md(
        """
        The real reset: the new run keeps "reserve", gets the payment signal again (it came
        after the reset point, so it is re-applied), and charges with the current code. The
        workflow id now names the new run.
        """
    ),
    code("reset = %harvest reset order-1 --to-event 4 --reason 'charge again'\nreset"),
    code("%harvest result order-1 --timeout {timeout}s"),
    code("%harvest worker stop"),
]

SOURCES: dict[str, list[Cell]] = {
    "00_tour.ipynb": TOUR,
    "01_quickstart.ipynb": QUICKSTART,
    "02_signals_timers_queries.ipynb": SIGNALS,
    "03_reset_and_replay.ipynb": RESET,
    "04_dags_and_schedules.ipynb": DAGS_AND_SCHEDULES,
    "05_analysis.ipynb": ANALYSIS,
}


def build(cells: list[Cell]) -> Any:
    import nbformat
    from nbformat import v4

    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for index, (kind, source, tags) in enumerate(cells):
        cell = v4.new_markdown_cell(source) if kind == "markdown" else v4.new_code_cell(source)
        cell["id"] = f"cell-{index:02d}"  # stable ids: regenerating changes nothing
        if tags:
            cell.metadata["tags"] = list(tags)
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def write_notebooks() -> None:
    import nbformat

    NOTEBOOKS.mkdir(exist_ok=True)
    for name, cells in SOURCES.items():
        nbformat.write(build(cells), NOTEBOOKS / name)


# ---------------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def python3_kernel() -> str:
    """The ``python3`` kernel, running this interpreter (a venv made with
    ``pip install -e ".[dev]"`` has it from ipykernel's wheel; otherwise it is installed
    into this environment's prefix)."""
    pytest.importorskip("papermill")
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    def ours() -> bool:
        try:
            spec = KernelSpecManager().get_kernel_spec("python3")
        except NoSuchKernel:
            return False
        exe = spec.argv[0] if spec.argv else ""
        return exe in ("python", "python3", "{python}") or Path(exe) == Path(sys.executable)

    if not ours():
        subprocess.run(
            [sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"],
            check=True, capture_output=True,
        )
        assert ours(), (
            "the python3 kernel does not run this interpreter even after `ipykernel install "
            "--sys-prefix` (a python3 kernelspec in the user's or JUPYTER_PATH's kernels "
            "directory shadows it)"
        )
    return "python3"


def execute(name: str, db_url: str, kernel: str, tmp_path: Path) -> tuple[Any, float]:
    import papermill as pm

    began = time.monotonic()
    nb = pm.execute_notebook(
        str(NOTEBOOKS / name),
        str(tmp_path / name),
        parameters={"database_url": db_url, "timeout": TIMEOUT},
        kernel_name=kernel,
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        start_timeout=60,
        execution_timeout=120,
    )
    return nb, time.monotonic() - began


def texts(nb: Any) -> list[str]:
    """The ``text/plain`` (or stream text) each code cell showed, in order."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        parts = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output.get("text", ""))
            elif "data" in output:
                parts.append(output["data"].get("text/plain", ""))
        out.append("\n".join(parts))
    return out


def saved_as_html(nb: Any, tmp_path: Path) -> Path:
    """The notebook as ``jupyter nbconvert --to html`` renders it after a save from
    JupyterLab, which keeps no widget state unless asked to."""
    import nbformat

    nb.metadata.pop("widgets", None)
    source = tmp_path / "saved.ipynb"
    nbformat.write(nb, source)
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html",
                    str(source), "--output-dir", str(tmp_path)], check=True,
                   capture_output=True)
    return tmp_path / "saved.html"


def status_of(db_url: str, workflow_id: str) -> list[str]:
    from .conftest import sql

    rows = sql(
        db_url,
        "SELECT status FROM harvest.runs WHERE workflow_id = %s ORDER BY created_at",
        (workflow_id,),
    )
    return [r[0] for r in rows]


def test_notebooks_are_generated_without_outputs() -> None:
    nbformat = pytest.importorskip("nbformat")
    for name, cells in SOURCES.items():
        stored = nbformat.read(NOTEBOOKS / name, as_version=4)
        assert stored == build(cells), f"{name} differs: run `python -m tests.test_notebooks`"
        assert all(not c.get("outputs") and c.get("execution_count") is None
                   for c in stored.cells if c.cell_type == "code")
        assert stored.cells[1].metadata.get("tags") == ["parameters"]


def test_tour(db_url: str, python3_kernel: str, tmp_path: Path) -> None:
    nb, _ = execute("00_tour.ipynb", db_url, python3_kernel, tmp_path)
    shown = texts(nb)
    everything = "\n".join(shown)
    assert "'welcome mail sent to ada'" in everything
    assert "laid out by" in everything  # the DAG run's graph
    by_node = next(t for t in shown if "p50_ms" in t)
    for node in ("extract", "transform[0]", "load"):
        assert node in by_node, node
    assert "10,000 simulated runs" in everything
    assert "what if faster={'transform': 0.5}" in everything
    from .conftest import sql

    rows = sql(db_url, "SELECT workflow_type, status FROM harvest.runs ORDER BY created_at")
    assert rows == [("onboarding", "COMPLETED"), ("nightly", "COMPLETED")]
    failures = sql(db_url, "SELECT count(*) FROM harvest.history h JOIN harvest.runs r"
                           " USING (run_id) WHERE r.workflow_type = 'onboarding'"
                           " AND h.event_type = 'ActivityFailed'")
    assert failures == [(2,)]  # the address check failed twice, then the retry succeeded


def test_quickstart(db_url: str, python3_kernel: str, tmp_path: Path) -> None:
    nb, took = execute("01_quickstart.ipynb", db_url, python3_kernel, tmp_path)
    shown = "\n".join(texts(nb))
    assert "in-kernel worker started" in shown
    assert "started greet: workflow id greet-ada" in shown
    assert "HELLO ADA! (from run greet-ada)" in shown
    assert "WorkflowCompleted" in shown
    assert "('COMPLETED', 'HELLO ADA! (from run greet-ada)')" in shown
    assert status_of(db_url, "greet-ada") == ["COMPLETED"]
    assert "COMPLETED 55" in shown or "55" in shown
    assert took < 40, f"took {took:.1f}s"
    # the live explorer's picture was replaced when the run ended (while the result cell
    # ran), and it is what a saved notebook shows without widget state
    [explorer] = [o for c in nb.cells for o in c.get("outputs", [])
                  if "HistoryExplorer squares" in o.get("data", {}).get("text/plain", "")]
    assert "COMPLETED" in explorer["data"]["text/plain"]
    assert "hs-snap-bar" in explorer["data"]["text/html"]
    html_file = saved_as_html(nb, tmp_path)
    assert html_file.read_text().count("hs-snap-bar") >= 5


def test_signals_timers_queries(db_url: str, python3_kernel: str, tmp_path: Path) -> None:
    nb, took = execute("02_signals_timers_queries.ipynb", db_url, python3_kernel, tmp_path)
    shown = "\n".join(texts(nb))
    assert '"stage": "waiting for a reviewer"' in shown
    assert "spec.md published (reviewed by ada)" in shown
    for event in ("SignalReceived", "TimerStarted", "TimerFired", "TimerCancelled"):
        assert event in shown, event
    assert "draft.md: nobody reviewed it in 1s" in shown
    assert '"stage": "expired"' in shown
    assert status_of(db_url, "review-spec") == ["COMPLETED"]
    assert status_of(db_url, "review-draft") == ["COMPLETED"]
    assert took < 30, f"took {took:.1f}s"


def test_reset_and_replay(db_url: str, python3_kernel: str, tmp_path: Path) -> None:
    nb, took = execute("03_reset_and_replay.ipynb", db_url, python3_kernel, tmp_path)
    shown = texts(nb)
    everything = "\n".join(shown)
    assert "non_determinism" in everything  # `%harvest show` of the blocked run
    diverged = [t for t in shown if "diverges at event 2" in t]
    assert diverged and "ActivityScheduled(reserve)" in diverged[0]
    assert "ActivityScheduled(check_fraud)" in diverged[0]
    assert "replays cleanly" in everything
    assert "reserved book, charged book" in everything
    assert "dry run" in everything.lower()
    # the blocked run finished on v1; the reset ended it and made a new run that finished
    assert status_of(db_url, "order-1")[-1] == "COMPLETED"
    assert len(status_of(db_url, "order-1")) == 2
    assert took < 30, f"took {took:.1f}s"


def test_dags_and_schedules(db_url: str, python3_kernel: str, tmp_path: Path) -> None:
    nb, took = execute("04_dags_and_schedules.ipynb", db_url, python3_kernel, tmp_path)
    svgs = [
        o["data"]["image/svg+xml"]
        for c in nb.cells if c.cell_type == "code"
        for o in c.get("outputs", []) if "image/svg+xml" in o.get("data", {})
    ]
    assert len(svgs) >= 2 and all('data-node="transform"' in svg for svg in svgs)
    assert 'data-state="succeeded"' in svgs[-1]
    shown = "\n".join(texts(nb))
    assert "2026-03-29" in shown and "03:00" in shown
    assert status_of(db_url, "nightly-manual") == ["COMPLETED"]
    from .conftest import sql

    scheduled = sql(
        db_url,
        "SELECT count(*), count(*) FILTER (WHERE input->>0 = to_char("
        "(search_attributes->>'scheduled_at')::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD'))"
        " FROM harvest.runs WHERE search_attributes->>'schedule' = 'demo'",
    )[0]
    assert scheduled[0] >= 2 and scheduled[0] == scheduled[1]  # day = the slot's date
    assert "paused" in shown
    assert took < 40, f"took {took:.1f}s"


def test_analysis(db_url: str, python3_kernel: str, tmp_path: Path) -> None:
    nb, took = execute("05_analysis.ipynb", db_url, python3_kernel, tmp_path)
    shown = texts(nb)
    everything = "\n".join(shown)
    assert "40 runs finished" in everything
    assert "loaded 40 new or changed run(s)" in everything
    by_node = next(t for t in shown if "p95_ms" in t)
    for node in ("fetch", "clean", "enrich", "score", "publish"):
        assert node in by_node, node
    assert "critical path:" in everything and "most often critical" in everything
    assert "10,000 simulated runs" in everything
    assert "what if faster={'enrich': 0.5}" in everything
    assert "what if retry=" in everything
    htmls = [o["data"]["text/html"] for c in nb.cells if c.cell_type == "code"
             for o in c.get("outputs", []) if "text/html" in o.get("data", {})]
    assert sum("hs-simulation" in h for h in htmls) >= 3  # the simulation and two what-ifs
    assert any("hs-profile" in h and "<svg" in h for h in htmls)
    assert "DAG00" in everything  # the lint found the DAG without timeouts
    assert status_of(db_url, "nightly") == [] and took < 90, f"took {took:.1f}s"


if __name__ == "__main__":
    write_notebooks()
    print(f"wrote {', '.join(SOURCES)} to {NOTEBOOKS}")
