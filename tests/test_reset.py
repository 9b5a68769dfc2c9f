"""Reset (with dry run and signal re-delivery), retry from a failed activity, rerun."""

from __future__ import annotations

import time
from typing import Any

import pytest

import harvest_studio as hs

fail_switch = {"on": True}


@hs.activity
def prepare(ctx: hs.ActivityContext, x: int) -> int:
    return x + 1


@hs.activity(retry=hs.RetryPolicy(max_attempts=1))
def fragile(ctx: hs.ActivityContext, x: int) -> int:
    if fail_switch["on"]:
        raise RuntimeError("downstream is down")
    return x * 10


@hs.workflow
async def gathers(ctx: hs.WorkflowContext, x: int) -> list[Any]:
    base = await ctx.execute_activity(prepare, x)
    items = [await ctx.wait_signal("item") for _ in range(3)]
    return [base, *items]


@hs.workflow
async def needs_fragile(ctx: hs.WorkflowContext, x: int) -> int:
    y = await ctx.execute_activity(prepare, x)
    return int(await ctx.execute_activity(fragile, y))


def wait_signals(run: hs.RunHandle, count: int) -> None:
    deadline = time.time() + 15
    while time.time() < deadline:
        if sum(e.event_type == "SignalReceived" for e in run.history()) >= count:
            return
        time.sleep(0.05)
    raise AssertionError("signals not recorded")


def completed_seq(run: hs.RunHandle) -> int:
    return next(e.seq for e in run.history() if e.event_type == "ActivityCompleted")


@pytest.mark.parametrize(("mode", "expected"), [("buffer", ["s1", "s2"]), ("drop", [])])
def test_reset_redelivers_or_drops_later_signals(
    client: hs.Client, start_worker: Any, mode: str, expected: list[str]
) -> None:
    start_worker(workflows=[gathers], activities=[prepare])
    run = client.start(gathers, 1, id=f"g-{mode}")
    deadline = time.time() + 15
    while not any(e.event_type == "ActivityCompleted" for e in run.history()):
        assert time.time() < deadline
        time.sleep(0.05)
    run.signal("item", "s1")
    run.signal("item", "s2")
    wait_signals(run, 2)
    boundary = completed_seq(run)
    outcome = client.reset(run.ref, to_event=boundary, reapply_signals=mode, reason="test")
    assert outcome.applied and outcome.valid and outcome.run is not None
    new = outcome.run
    assert isinstance(new, hs.RunHandle)
    assert run.describe().status == "TERMINATED"
    assert run.history()[-1].event_type == "WorkflowReset"
    history = new.history()
    assert [e.seq for e in history[:boundary]] == list(range(1, boundary + 1))
    assert history[boundary].event_type == "WorkflowResetFork"
    for i in range(3 - len(expected)):
        new.signal("item", f"n{i}")
    assert new.result(timeout=20) == [2, *expected, *[f"n{i}" for i in range(3 - len(expected))]]
    assert new.describe().reset_from == run.run_id
    assert client.describe(f"g-{mode}").run_id == new.run_id  # the id now names the new run


def test_reset_to_an_open_point_is_refused_with_nearest_valid_points(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[gathers], activities=[prepare])
    run = client.start(gathers, 1)
    run.signal("item", "s1")
    wait_signals(run, 1)
    history = run.history()
    scheduled = next(e.seq for e in history if e.event_type == "ActivityScheduled")
    refused = client.reset(run.ref, to_event=scheduled)
    assert not refused.valid and not refused.applied and refused.run is None
    assert refused.plan.nearest_valid_before == 1
    assert refused.plan.nearest_valid_after == completed_seq(run)
    assert "not a point" in (refused.plan.reason or "")
    dry = client.reset(run.ref, to="last_workflow_task", dry_run=True)
    assert dry.valid and not dry.applied
    assert run.describe().status == "RUNNING"  # nothing was written
    assert dry.plan.boundary == history[-1].seq  # the signal's decision


@hs.workflow
async def races_a_signal(ctx: hs.WorkflowContext) -> int:
    await ctx.wait_signal("go", timeout=60)
    return int(await ctx.execute_activity(prepare, 1))


def test_cancelled_timer_closes_for_reset_points(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[races_a_signal], activities=[prepare])
    run = client.start(races_a_signal)
    run.signal("go")
    assert run.result(timeout=20) == 2
    points = client.reset(run.ref, to="last_workflow_task", dry_run=True).plan.valid_points
    completed = next(e.seq for e in run.history() if e.event_type == "ActivityCompleted")
    assert points[-1] == completed


def test_retry_from_failed_activity(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[needs_fragile], activities=[prepare, fragile])
    fail_switch["on"] = True
    run = client.start(needs_fragile, 1)
    with pytest.raises(hs.WorkflowFailedError):
        run.result(timeout=20)
    fail_switch["on"] = False  # the downstream is back
    outcome = client.retry_failed_activity(run.ref)
    assert outcome.applied and outcome.run is not None
    assert outcome.run.result(timeout=20) == 20
    new_history = outcome.run.history()
    assert sum(e.event_type == "ActivityCompleted" for e in new_history) == 2
    assert run.describe().status == "FAILED"  # an ended source stays as it was


def test_rerun_starts_fresh_from_the_original_input(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[needs_fragile], activities=[prepare, fragile])
    fail_switch["on"] = False
    run = client.start(needs_fragile, 4, id="rerun-me")
    assert run.result(timeout=20) == 50
    again = client.rerun(run.ref)
    assert again.run_id != run.run_id and again.result(timeout=20) == 50
    pending = client.start(needs_fragile, 1, id="still")
    with pytest.raises(hs.WorkflowAlreadyStartedError):
        client.rerun(pending.ref)
    pending.result(timeout=20)
