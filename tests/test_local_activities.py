"""Local activities (Temporal's ``hello_local_activity``): run by the workflow's own worker
inside the workflow task, recorded with its decision, retried in process, timed out."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

import harvest_studio as hs

from .conftest import sql

attempts: dict[str, int] = {}
lock = threading.Lock()


@pytest.fixture(autouse=True)
def _clear() -> None:
    attempts.clear()


@hs.activity
def compose_greeting(ctx: hs.ActivityContext, greeting: str, name: str) -> str:
    assert ctx.info.is_local and ctx.info.task_id == 0
    return f"{greeting}, {name}! ({ctx.info.workflow_id})"


@hs.workflow
async def greeting_workflow(ctx: hs.WorkflowContext, name: str) -> str:
    return str(await ctx.execute_local_activity(compose_greeting, "Hello", name,
                                                start_to_close="10s"))


def test_hello_local_activity(client: hs.Client, start_worker: Any, db_url: str) -> None:
    # the worker does not register the activity: the workflow passes the definition
    start_worker(workflows=[greeting_workflow])
    run = client.start(greeting_workflow, "World", id="hello-local")
    assert run.result(timeout=20) == "Hello, World! (hello-local)"
    history = run.history()
    assert [e.event_type for e in history] == [
        "WorkflowStarted", "ActivityScheduled", "ActivityStarted", "ActivityCompleted",
        "WorkflowCompleted",
    ]
    assert history[1].event.options["local"] is True  # type: ignore[attr-defined]
    # one decision did it all: no activity task was ever queued
    assert sql(db_url, "SELECT count(*) FROM harvest.tasks") == [(0,)]
    assert run.describe().status == "COMPLETED"


@hs.activity(retry=hs.RetryPolicy(initial_interval=0.05, max_attempts=4))
async def flaky_lookup(ctx: hs.ActivityContext, key: str) -> str:
    with lock:
        attempts[key] = attempts.get(key, 0) + 1
        seen = attempts[key]
    await asyncio.sleep(0)
    if seen < 3:
        raise ConnectionError(f"lookup of {key} failed ({seen})")
    return f"{key}={seen}"


@hs.activity(retry=hs.RetryPolicy(initial_interval=0.05, max_attempts=2))
def slow_step(ctx: hs.ActivityContext) -> str:
    time.sleep(1.0)
    return "late"


@hs.workflow
async def uses_local_steps(ctx: hs.WorkflowContext) -> dict[str, Any]:
    found = await ctx.execute_local_activity(flaky_lookup, "a")
    both = await ctx.gather(ctx.execute_local_activity(flaky_lookup, "b"),
                            ctx.execute_local_activity(flaky_lookup, "c"))
    try:
        await ctx.execute_local_activity(slow_step, start_to_close=0.2)
        timed = "no"
    except hs.ActivityError as exc:
        timed = f"{exc.error_type} {exc.timeout_type} after {exc.attempt}"
    try:
        await ctx.execute_local_activity(flaky_lookup, "d", retry=hs.RetryPolicy(max_attempts=1))
        failed = "no"
    except hs.ActivityError as exc:
        failed = f"{exc.error_type} after {exc.attempt}"
    return {"found": found, "both": both, "timed": timed, "failed": failed}


def test_local_retries_timeouts_and_failures(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[uses_local_steps])
    run = client.start(uses_local_steps)
    assert run.result(timeout=30) == {
        "found": "a=3", "both": ["b=3", "c=3"],
        "timed": "TimeoutError start_to_close after 2", "failed": "ConnectionError after 1",
    }
    types = [e.event_type for e in run.history()]
    assert types.count("ActivityScheduled") == 5
    assert types.count("ActivityStarted") == 3 + 3 + 3 + 2 + 1


@hs.workflow
async def local_then_signal(ctx: hs.WorkflowContext) -> list[str]:
    first = await ctx.execute_local_activity(flaky_lookup, "x")
    word = await ctx.wait_signal("word")
    second = await ctx.execute_local_activity(compose_greeting, "Hi", str(word))
    return [str(first), str(second)]


def test_a_local_activity_replays_from_history(client: hs.Client, start_worker: Any) -> None:
    worker = start_worker(workflows=[local_then_signal], tuning={"cache_size": 0})
    run = client.start(local_then_signal, id="replayed")
    time.sleep(0.5)
    run.signal("word", "Ann")
    assert run.result(timeout=20) == ["x=3", "Hi, Ann! (replayed)"]
    assert attempts == {"x": 3}  # the second decision replayed the first local activity
    assert worker is not None


@hs.workflow
async def changes_its_mind(ctx: hs.WorkflowContext) -> str:
    first = ctx.execute_local_activity(flaky_lookup, "never")
    first.cancel()
    return str(await ctx.execute_local_activity(compose_greeting, "Bye", "all"))


def test_a_local_activity_cancelled_before_it_ran_never_runs(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[changes_its_mind])
    run = client.start(changes_its_mind, id="mind")
    assert run.result(timeout=20) == "Bye, all! (mind)"
    assert "never" not in attempts
    assert "ActivityCancelRequested" in [e.event_type for e in run.history()]
