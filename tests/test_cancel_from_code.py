"""Cancelling an activity or a child run from workflow code (Temporal's ``cancellation``
sample): recorded in history, carried out by the store, delivered to the attempt."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

import harvest_studio as hs
from harvest_studio.engine.replay import WorkflowInstance
from harvest_studio.model.events import (
    ActivityScheduled,
    CancelRequested,
    HistoryEvent,
    WorkflowCancelled,
    WorkflowStarted,
)
from harvest_studio.studio.widgets.lanes import compute_lanes

from .conftest import sql, wait_for

seen: dict[str, list[str]] = {}
lock = threading.Lock()


def note(key: str, what: str) -> None:
    with lock:
        seen.setdefault(key, []).append(what)


@pytest.fixture(autouse=True)
def _clear() -> None:
    seen.clear()


@hs.activity(heartbeat_timeout="30s")
def long_sync(ctx: hs.ActivityContext, key: str) -> str:
    note(key, "started")
    for _ in range(300):
        ctx.heartbeat()
        if ctx.is_cancelled:
            note(key, "told")
            ctx.check_cancelled()
        time.sleep(0.05)
    note(key, "finished")
    return "finished"


@hs.activity(heartbeat_timeout="30s")
async def long_async(ctx: hs.ActivityContext, key: str) -> str:
    note(key, "started")
    try:
        for _ in range(300):
            ctx.heartbeat()
            await asyncio.sleep(0.05)
    except asyncio.CancelledError:
        note(key, "cancelled")
        raise
    note(key, "finished")
    return "finished"


@hs.workflow
async def cancels_its_activity(ctx: hs.WorkflowContext, key: str, use_async: bool) -> str:
    future = ctx.execute_activity(long_async if use_async else long_sync, key)
    await ctx.sleep(0.5)
    future.cancel()
    try:
        await future
    except asyncio.CancelledError:
        return "cancelled"
    return "not cancelled"


def _events(run: hs.RunHandle) -> list[str]:
    return [e.event_type for e in run.history()]


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_a_workflow_cancels_a_running_activity(
    client: hs.Client, start_worker: Any, db_url: str, use_async: bool
) -> None:
    start_worker(workflows=[cancels_its_activity], activities=[long_sync, long_async])
    key = f"k-{use_async}"
    run = client.start(cancels_its_activity, key, use_async)
    assert run.result(timeout=30) == "cancelled"
    events = _events(run)
    assert "ActivityCancelRequested" in events
    assert "ActivityCompleted" not in events and "ActivityFailed" not in events
    assert sql(db_url, "SELECT count(*) FROM harvest.tasks WHERE kind = 'activity'") == [(0,)]
    lane = next(x for x in compute_lanes(run.history()) if x["kind"] == "activity")
    assert lane["meta"]["status"] == "cancelled"
    assert [i[2] for i in lane["items"]][-1] == "cancelled"
    assert all(i[1] is not None for i in lane["items"])  # nothing left open-ended
    # the attempt learns of it at its next heartbeat: an async one is cancelled
    wait_for(lambda: len(seen.get(key, [])) >= 2, timeout=10)
    assert seen[key] == ["started", "cancelled" if use_async else "told"]


@hs.workflow
async def cancels_before_start(ctx: hs.WorkflowContext) -> list[str]:
    queued = ctx.execute_activity("nobody_runs_this", queue="nobody")
    later = ctx.execute_activity("nor_this", queue="nobody")
    await ctx.sleep(0.2)
    queued.cancel()
    index, _ = await ctx.wait_first(later, ctx.sleep(0.2))
    later.cancel()
    return [str(queued.cancelled()), str(later.cancelled()), str(index)]


def test_a_pending_activity_is_removed_before_anyone_runs_it(
    client: hs.Client, start_worker: Any, db_url: str
) -> None:
    start_worker(workflows=[cancels_before_start])
    run = client.start(cancels_before_start)
    assert run.result(timeout=30) == ["True", "True", "1"]
    cancels = [e.event for e in run.history() if e.event_type == "ActivityCancelRequested"]
    assert [c.scheduled_seq for c in cancels] == [2, 3]  # type: ignore[attr-defined]
    assert sql(db_url, "SELECT count(*) FROM harvest.tasks WHERE kind = 'activity'") == [(0,)]


@hs.workflow
async def cancelled_while_waiting(ctx: hs.WorkflowContext, key: str) -> str:
    return str(await ctx.execute_activity(long_async, key))


def test_cancelling_the_run_cancels_the_activity_it_awaits(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[cancelled_while_waiting], activities=[long_async])
    run = client.start(cancelled_while_waiting, "w")
    wait_for(lambda: seen.get("w") == ["started"])
    run.cancel("stop it")
    with pytest.raises(hs.WorkflowFailedError, match="CANCELLED"):
        run.result(timeout=30)
    events = _events(run)
    assert events.index("ActivityCancelRequested") < events.index("WorkflowCancelled")
    wait_for(lambda: seen.get("w") == ["started", "cancelled"], timeout=10)


def test_a_run_recorded_before_activity_cancels_were_recorded_replays_unchanged() -> None:
    run_id = str(uuid.uuid4())
    at = datetime(2026, 1, 1, tzinfo=UTC)
    recorded = [
        HistoryEvent(1, at, WorkflowStarted("cancelled_while_waiting", "old", "default",
                                            "default", ["x"])),
        HistoryEvent(2, at, ActivityScheduled("long_async", ["x"], "default",
                                              dict(long_async.options.to_json()))),
        HistoryEvent(3, at, CancelRequested(reason="old")),
        HistoryEvent(4, at, WorkflowCancelled(reason="old")),
    ]
    instance = WorkflowInstance(cancelled_while_waiting, run_id)
    assert instance.replay(recorded) == []  # no divergence, nothing new
    assert instance.closed


@hs.workflow
async def waits_forever(ctx: hs.WorkflowContext) -> str:
    try:
        await ctx.wait_signal("never")
    except asyncio.CancelledError:
        await ctx.sleep(0.05)  # a cancelled child may still clean up
        raise
    return "signalled"


@hs.workflow
async def cancels_its_child(ctx: hs.WorkflowContext) -> dict[str, Any]:
    child = ctx.start_child(waits_forever, id=f"{ctx.info.workflow_id}-child")
    await ctx.sleep(0.2)
    first = child.cancel("no longer needed")
    try:
        await child
    except hs.ChildWorkflowError as exc:
        return {"asked": first, "status": exc.status, "again": child.cancel()}
    return {"asked": first, "status": "COMPLETED"}


def test_a_workflow_cancels_its_child(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[cancels_its_child, waits_forever])
    run = client.start(cancels_its_child, id="parent-1")
    assert run.result(timeout=30) == {"asked": True, "status": "CANCELLED", "again": False}
    assert "ChildWorkflowCancelRequested" in _events(run)
    child = client.handle("parent-1-child")
    assert child.describe().status == "CANCELLED"
    requested = [e.event for e in child.history() if e.event_type == "CancelRequested"]
    assert [r.reason for r in requested] == ["no longer needed"]  # type: ignore[attr-defined]


@hs.workflow
async def cancels_and_leaves(ctx: hs.WorkflowContext) -> str:
    child = ctx.start_child(waits_forever, id=f"{ctx.info.workflow_id}-kid",
                            parent_close_policy="abandon")
    await ctx.sleep(0.1)
    child.cancel("the parent is done")
    return "left"


def test_a_child_cancel_in_the_parents_last_step_is_sent(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[cancels_and_leaves, waits_forever])
    assert client.start(cancels_and_leaves, id="leaver").result(timeout=20) == "left"
    wait_for(lambda: client.describe("leaver-kid").status == "CANCELLED")
