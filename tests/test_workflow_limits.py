"""Workflow-level concurrency limits (DBOS's queue concurrency): at most ``max_workflows``
runs of a workflow type, or on a queue, in progress at once, across all workers."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import harvest_studio as hs
from harvest_studio.commands import render

from .conftest import sql, wait_for

spans: list[tuple[str, float, float]] = []
lock = threading.Lock()


@pytest.fixture(autouse=True)
def _clear() -> None:
    spans.clear()


@hs.activity
def work(ctx: hs.ActivityContext, key: str) -> str:
    began = time.monotonic()
    time.sleep(0.25)
    with lock:
        spans.append((key, began, time.monotonic()))
    return key


@hs.workflow
async def import_file(ctx: hs.WorkflowContext, key: str) -> str:
    return str(await ctx.execute_activity(work, key))


@hs.workflow(queue="etl")
async def etl_step(ctx: hs.WorkflowContext, key: str) -> str:
    return str(await ctx.execute_activity(work, key))


def most_at_once() -> int:
    edges = sorted([(b, 1) for _, b, _ in spans] + [(e, -1) for _, _, e in spans])
    now = peak = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak


def test_a_workflow_type_runs_at_most_max_workflows_at_once(
    client: hs.Client, start_worker: Any
) -> None:
    limit = client.set_limits(workflow="import_file", max_workflows=2)
    assert limit is not None and limit.scope == "workflow" and limit.max_workflows == 2
    for _ in range(2):  # two workers: the limit holds across them
        start_worker(workflows=[import_file], activities=[work], max_concurrent_tasks=8)
    runs = [client.start(import_file, f"f{i}") for i in range(6)]
    assert [r.result(timeout=30) for r in runs] == [f"f{i}" for i in range(6)]
    assert most_at_once() == 2


def test_a_queue_limit_counts_every_workflow_type_on_the_queue(
    client: hs.Client, start_worker: Any, db_url: str
) -> None:
    client.set_limits(queue="etl", max_workflows=1)
    start_worker(workflows=[etl_step], activities=[work], queues=["etl", "default"])
    runs = [client.start(etl_step, f"e{i}") for i in range(3)]
    assert [r.result(timeout=30) for r in runs] == ["e0", "e1", "e2"]
    assert most_at_once() == 1
    assert sql(db_url, "SELECT count(*) FROM harvest.runs WHERE held") == [(0,)]


def test_lifting_a_limit_lets_held_runs_go(
    client: hs.Client, start_worker: Any, db_url: str
) -> None:
    client.set_limits(workflow="import_file", max_workflows=0)  # hold every new run
    start_worker(workflows=[import_file], activities=[work])
    runs = [client.start(import_file, f"h{i}") for i in range(3)]
    time.sleep(0.6)
    assert sql(db_url, "SELECT count(*) FROM harvest.runs WHERE held") == [(3,)]
    assert spans == []
    info = runs[0].describe()
    assert info.held and info.to_json()["held"] is True
    assert "Waiting      for a slot" in render.render_run(info)
    assert client.set_limits(workflow="import_file", max_workflows=None) is None
    assert [r.result(timeout=30) for r in runs] == ["h0", "h1", "h2"]
    wait_for(lambda: sql(db_url, "SELECT count(*) FROM harvest.runs WHERE held") == [(0,)])


def test_limit_input_is_checked(client: hs.Client) -> None:
    with pytest.raises(hs.UsageError, match="max_workflows must be an int"):
        client.set_limits(workflow="import_file", max_workflows=-1)
    with pytest.raises(hs.UsageError, match="max_workflows only"):
        client.set_limits(workflow="import_file", rate=3)
    with pytest.raises(hs.UsageError, match="not an activity"):
        client.set_limits(activity="work", max_workflows=3)
    with pytest.raises(hs.UsageError, match="exactly one"):
        client.set_limits(queue="etl", workflow="import_file", max_workflows=3)
