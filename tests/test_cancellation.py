"""Cancel (cooperative) vs terminate (forced), and pause / resume."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from typing import Any

import pytest

import harvest_studio as hs

from .conftest import sql

calls: dict[str, list[Any]] = defaultdict(list)
lock = threading.Lock()


@pytest.fixture(autouse=True)
def _reset() -> None:
    calls.clear()


@hs.activity
def book(ctx: hs.ActivityContext, what: str) -> str:
    with lock:
        calls["book"].append(what)
    return what


@hs.activity
def undo(ctx: hs.ActivityContext, what: str) -> str:
    with lock:
        calls["undo"].append(what)
    return what


@hs.workflow
async def trip(ctx: hs.WorkflowContext) -> str:
    done: list[str] = []
    try:
        for step in ("flight", "hotel", "car"):
            done.append(await ctx.execute_activity(book, step))
        await ctx.sleep(60)
        return "booked"
    except asyncio.CancelledError:
        for step in reversed(done):
            await ctx.execute_activity(undo, step)
        raise


@hs.workflow
async def terminable(ctx: hs.WorkflowContext) -> str:
    try:
        await ctx.sleep(60)
    finally:
        await ctx.execute_activity(undo, "should-not-run")
    return "no"


@hs.activity(heartbeat_timeout="30s")
def watches_for_cancel(ctx: hs.ActivityContext) -> str:
    for _ in range(200):
        ctx.heartbeat()
        if ctx.is_cancelled:
            with lock:
                calls["saw_cancel"].append(ctx.cancel_reason)
            raise hs.ActivityCancelledError(ctx.cancel_reason or "cancelled")
        time.sleep(0.05)
    return "finished"


@hs.workflow
async def long_activity(ctx: hs.WorkflowContext) -> str:
    return str(await ctx.execute_activity(watches_for_cancel))


@hs.workflow
async def waits_for_go(ctx: hs.WorkflowContext) -> str:
    return str(await ctx.wait_signal("go"))


def wait_for_event(run: hs.RunHandle, event_type: str, count: int = 1) -> None:
    deadline = time.time() + 15
    while time.time() < deadline:
        if sum(e.event_type == event_type for e in run.history()) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"no {event_type} in history")


def test_cancel_runs_compensations_in_reverse_and_ends_cancelled(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[trip], activities=[book, undo])
    run = client.start(trip)
    wait_for_event(run, "TimerStarted")
    assert run.cancel("customer changed plans") is True
    assert run.cancel() is False  # already requested
    with pytest.raises(hs.WorkflowFailedError) as caught:
        run.result(timeout=20)
    assert caught.value.status == "CANCELLED"
    assert calls["undo"] == ["car", "hotel", "flight"]
    types = [e.event_type for e in run.history()]
    assert "CancelRequested" in types and types[-1] == "WorkflowCancelled"


def test_terminate_ends_at_once_without_running_code(
    client: hs.Client, start_worker: Any, db_url: str
) -> None:
    start_worker(workflows=[terminable], activities=[undo])
    run = client.start(terminable)
    wait_for_event(run, "TimerStarted")
    run.terminate("operator")
    with pytest.raises(hs.WorkflowFailedError) as caught:
        run.result(timeout=5)
    assert caught.value.status == "TERMINATED"
    time.sleep(0.5)
    assert calls["undo"] == []
    assert [e.event_type for e in run.history()][-1] == "WorkflowTerminated"
    assert sql(db_url, "SELECT count(*) FROM harvest.timers") == [(0,)]
    assert sql(db_url, "SELECT count(*) FROM harvest.tasks") == [(0,)]
    with pytest.raises(hs.RunNotRunningError):
        run.terminate()
    with pytest.raises(hs.RunNotRunningError):
        run.cancel()


def test_cancel_reaches_running_activity_through_heartbeats(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[long_activity], activities=[watches_for_cancel])
    run = client.start(long_activity)
    wait_for_event(run, "ActivityScheduled")
    time.sleep(0.3)
    run.cancel("stop it")
    with pytest.raises(hs.WorkflowFailedError) as caught:
        run.result(timeout=20)
    assert caught.value.status == "CANCELLED"
    deadline = time.time() + 10
    while not calls["saw_cancel"] and time.time() < deadline:
        time.sleep(0.05)
    assert len(calls["saw_cancel"]) == 1  # it stopped early instead of running 10 s


def test_pause_holds_workflow_tasks_until_resume(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[waits_for_go])
    run = client.start(waits_for_go)
    wait_for_event(run, "WorkflowStarted")
    time.sleep(0.3)
    assert run.pause("maintenance") is True
    assert run.pause() is False
    run.signal("go", "now")
    time.sleep(1.0)
    assert "SignalReceived" not in [e.event_type for e in run.history()]
    assert run.describe().paused
    assert run.resume() is True
    assert run.result(timeout=20) == "now"
    types = [e.event_type for e in run.history()]
    assert "WorkflowPaused" in types and "WorkflowResumed" in types
