"""What activity attempts print or log is kept per attempt (bounded), written with the
attempt's outcome, readable from the client, shown in the explorer's inspector and the run
card; output from outside attempts passes through untouched; in a notebook kernel it never
lands under an unrelated cell."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import pytest

import harvest_studio as hs
from harvest_studio.engine import attempt_output

from .test_notebooks import python3_kernel  # noqa: F401  (the fixture)

calls = {"flaky": 0}


@hs.activity(retry=hs.RetryPolicy(max_attempts=3, initial_interval=0.05, jitter=0.0))
def chatty(ctx: hs.ActivityContext, name: str) -> str:
    calls["flaky"] += 1
    print(f"hello from {name}, attempt {ctx.attempt}")
    logging.getLogger("chatty").warning("careful with %s", name)
    if ctx.attempt == 1:
        print("about to fail", file=sys.stderr)
        raise RuntimeError("first attempt fails")
    return name


@hs.activity
async def loud(ctx: hs.ActivityContext, size: int) -> int:
    for i in range(size // 100):
        print(f"{i:06d}" + "x" * 93)
    await asyncio.sleep(0)
    return size


@hs.activity
async def quiet(ctx: hs.ActivityContext) -> int:
    return 1


@hs.activity
def odd_bytes(ctx: hs.ActivityContext) -> str:
    print("nul:\x00 surrogate:\udc80 done")
    return "ok"


@hs.workflow
async def odd(ctx: hs.WorkflowContext) -> str:
    return await ctx.execute_activity(odd_bytes)


@hs.workflow
async def talks(ctx: hs.WorkflowContext) -> list[Any]:
    return [await ctx.execute_activity(chatty, "ada"), await ctx.execute_activity(loud, 200_000),
            await ctx.execute_activity(quiet)]


def test_each_attempt_keeps_what_it_printed_and_logged(
    client: hs.Client, start_worker: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    start_worker(workflows=[talks], activities=[chatty, loud, quiet])
    run = client.start(talks)
    assert run.result(timeout=30) == ["ada", 200_000, 1]
    logs = run.attempt_logs()
    loud_seq = [e.seq for e in run.history() if e.event_type == "ActivityScheduled"][1]
    assert [(log.activity_seq, log.attempt) for log in logs] == [(2, 1), (2, 2), (loud_seq, 1)]
    first, second, big = logs
    assert first.output == ("hello from ada, attempt 1\n"
                            "WARNING chatty: careful with ada\n"
                            "about to fail\n")
    assert second.output == "hello from ada, attempt 2\nWARNING chatty: careful with ada\n"
    # the last 64 KiB are kept, the rest is counted
    assert len(big.output) == attempt_output.LIMIT
    assert big.dropped == 200_000 - attempt_output.LIMIT
    assert big.output.endswith("x" * 93 + "\n") and big.output.split("\n")[-2].startswith("001999")
    assert run.attempt_logs(activity_seq=loud_seq) == [big]
    # a worker outside a kernel echoes it too, and leaves other output alone
    print("not from an attempt")
    out = capsys.readouterr()
    assert "hello from ada, attempt 2" in out.out and "not from an attempt" in out.out
    assert "about to fail" in out.err


def test_output_postgres_cannot_store_is_escaped_and_the_result_kept(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[odd], activities=[odd_bytes])
    run = client.start(odd)
    assert run.result(timeout=30) == "ok"
    [log] = run.attempt_logs()
    assert log.output.startswith("nul:\\x00 surrogate:\\udc80 done\n")


def test_logging_outside_attempts_is_untouched(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[odd], activities=[odd_bytes])
    # the capturing handler sits on the root logger only while an attempt runs: between
    # attempts, logging.basicConfig and Python's last resort work as without a worker
    assert not any(h is attempt_output._handler for h in logging.getLogger().handlers)
    client.start(odd).result(timeout=30)
    assert not any(h is attempt_output._handler for h in logging.getLogger().handlers)


def test_streams_are_restored_when_the_last_worker_stops(client: hs.Client) -> None:
    before = sys.stdout, sys.stderr
    first = hs.Worker(client, workflows=[talks], activities=[chatty], poll_interval=0.2)
    second = hs.Worker(client, workflows=[talks], activities=[chatty], poll_interval=0.2)
    with first:
        assert isinstance(sys.stdout, attempt_output._Stream)
        with second:
            pass
        assert isinstance(sys.stdout, attempt_output._Stream)  # the first still runs
    assert (sys.stdout, sys.stderr) == before


def test_capture_can_be_turned_off(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[talks], activities=[chatty, loud, quiet],
                 tuning={"capture_output": False})
    run = client.start(talks)
    run.result(timeout=30)
    assert run.attempt_logs() == []


def test_the_explorer_and_card_show_an_attempts_output(
    client: hs.Client, start_worker: Any
) -> None:
    from harvest_studio.studio.widgets.card import RunCard
    from harvest_studio.studio.widgets.explorer import HistoryExplorer

    start_worker(workflows=[talks], activities=[chatty, loud, quiet])
    run = client.start(talks)
    run.result(timeout=30)
    explorer = HistoryExplorer(client, run.id)
    failed = next(e.seq for e in run.history() if e.event_type == "ActivityFailed")
    explorer.selected_seq = failed
    assert explorer.selected_event["output"].startswith("hello from ada, attempt 1\n")
    assert explorer.selected_event["output_dropped"] == 0
    scheduled = next(e.seq for e in run.history() if e.event_type == "ActivityScheduled")
    explorer.selected_seq = scheduled
    assert "output" not in explorer.selected_event
    explorer.close()
    card = RunCard(client, run.id, live=False)
    shown = card.summary["output"]
    assert shown["activity"] == "loud" and shown["attempt"] == 1 and len(shown["lines"]) == 5
    assert shown["lines"][-1].startswith("001999") and shown["more"]
    card.close()


NOTEBOOK_CELLS = [
    "import harvest_studio as hs\n%load_ext harvest_studio\n"
    "%config HarvestMagics.database_url = {url!r}",
    "import time\n\n@hs.activity\ndef noisy(ctx, n):\n"
    "    for i in range(n):\n        print('NOISE', i)\n        time.sleep(0.05)\n    return n\n\n"
    "@hs.workflow\nasync def makes_noise(ctx, n):\n"
    "    return await ctx.execute_activity(noisy, n)",
    "%harvest worker start",
    "run = %harvest start makes_noise 40",
    "time.sleep(2.5)\nprint('the other cell')",
    "run.result(timeout=30), len(run.attempt_logs()[0].output.splitlines())",
]


def test_activity_prints_do_not_land_in_an_unrelated_cell(
    db_url: str, python3_kernel: str, tmp_path: Path  # noqa: F811
) -> None:
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(cell.format(url=db_url))
                      for cell in NOTEBOOK_CELLS]
    NotebookClient(notebook, kernel_name=python3_kernel, timeout=120,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    texts = []
    for cell in notebook.cells:
        parts = [o.get("text", "") for o in cell.outputs if o.output_type == "stream"]
        parts += [o.get("data", {}).get("text/plain", "") for o in cell.outputs
                  if "data" in o]
        texts.append("".join(parts))
    other = texts[4]
    assert "the other cell" in other and "NOISE" not in other
    assert not any("NOISE" in text for text in texts)
    assert texts[5] == "(40, 40)"


@hs.workflow
async def narrates(ctx: hs.WorkflowContext) -> int:
    ctx.logger.warning("starting")
    await ctx.execute_activity(quiet)
    ctx.logger.warning("between %s", "steps")
    await ctx.execute_activity(quiet)
    ctx.logger.warning("done")
    return 2


def test_workflow_logger_speaks_once_not_on_replay(
    client: hs.Client, start_worker: Any, caplog: pytest.LogCaptureFixture
) -> None:
    start_worker(workflows=[narrates], activities=[quiet], tuning={"cache_size": 0})
    with caplog.at_level(logging.WARNING, logger="harvest_studio.worker.workflow"):
        run = client.start(narrates, id="narrator")
        assert run.result(timeout=30) == 2
    said = [r.getMessage() for r in caplog.records
            if r.name == "harvest_studio.worker.workflow.narrates"]
    # every decision replays the code from the start (no cache), yet each line once
    assert said == ["[narrator] starting", "[narrator] between steps", "[narrator] done"]


def test_workflow_logger_keeps_a_percent_in_the_id(
    client: hs.Client, start_worker: Any, caplog: pytest.LogCaptureFixture
) -> None:
    start_worker(workflows=[narrates], activities=[quiet])
    with caplog.at_level(logging.WARNING, logger="harvest_studio.worker.workflow"):
        client.start(narrates, id="50%off").result(timeout=30)
    said = [r.getMessage() for r in caplog.records]
    assert "[50%off] starting" in said and "[50%off] between steps" in said
    logger = logging.getLogger("harvest_studio.worker.workflow.narrates")
    assert all(r.name == logger.name for r in caplog.records if "50%off" in r.getMessage())
