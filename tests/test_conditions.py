"""``ctx.wait_condition`` (checked after every event, with a durable timeout whose timer is
cancelled when the condition wins) and ``ctx.all_handlers_finished`` — the shapes of
Temporal's ``wait_condition`` and ``safe_message_handlers`` samples."""

from __future__ import annotations

import threading
from typing import Any

import harvest_studio as hs
from harvest_studio.commands import render

from .conftest import wait_for


@hs.workflow
async def approval(ctx: hs.WorkflowContext, timeout: float) -> str:
    state = {"approved": False, "by": None}

    def on_approve(who: str) -> None:
        state["approved"], state["by"] = True, who

    def approved() -> bool:
        return bool(state["approved"])

    ctx.set_signal_handler("approve", on_approve)
    try:
        await ctx.wait_condition(approved, timeout=timeout)
    except TimeoutError:
        return "nobody approved"
    return f"approved by {state['by']}"


def test_a_condition_met_by_a_signal_cancels_its_timer(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[approval], activities=[], tuning={"cache_size": 0})
    run = client.start(approval, 60.0)
    wait_for(lambda: bool(run.describe().waiting))
    info = run.describe()
    assert info.waiting[0]["kind"] == "condition" and info.waiting[0]["name"] == "approved"
    assert "waiting for condition approved, times out in" in render.render_run(info)
    run.signal("approve", "ada")
    assert run.result(timeout=20) == "approved by ada"
    kinds = [e.event_type for e in run.history()]
    assert "TimerCancelled" in kinds and "TimerFired" not in kinds


def test_a_condition_that_stays_false_times_out(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[approval], activities=[], tuning={"cache_size": 0})
    run = client.start(approval, 0.3)
    assert run.result(timeout=20) == "nobody approved"
    assert "TimerFired" in [e.event_type for e in run.history()]


@hs.activity
def book(ctx: hs.ActivityContext, seat: int) -> str:
    return f"seat {seat}"


@hs.workflow
async def booking(ctx: hs.WorkflowContext) -> list[str]:
    state: dict[str, Any] = {"closing": False, "seats": []}

    async def reserve(seat: int) -> str:
        ticket = await ctx.execute_activity(book, seat)  # takes a while: an activity
        state["seats"].append(ticket)
        return ticket

    def close(_: Any) -> None:
        state["closing"] = True

    ctx.set_update_handler("reserve", reserve)
    ctx.set_signal_handler("close", close)
    await ctx.wait_condition(lambda: state["closing"])
    await ctx.wait_condition(ctx.all_handlers_finished)  # no update is cut short
    return sorted(state["seats"])


def test_all_handlers_finished_lets_running_updates_end_before_the_run(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[booking], activities=[book], tuning={"cache_size": 0})
    client.pause_activity("book")  # the updates are admitted, then wait for their activity
    run = client.start(booking)
    answers: dict[int, Any] = {}

    def reserve(seat: int) -> None:
        answers[seat] = run.update("reserve", seat, timeout=30)

    callers = [threading.Thread(target=reserve, args=(seat,)) for seat in (1, 2, 3)]
    for caller in callers:
        caller.start()
    wait_for(lambda: [e.event_type for e in run.history()].count("UpdateAdmitted") == 3)
    run.signal("close")  # the run would end now, but three updates are still running
    client.resume_activity("book")
    for caller in callers:
        caller.join(timeout=30)
    assert answers == {1: "seat 1", 2: "seat 2", 3: "seat 3"}
    assert run.result(timeout=20) == ["seat 1", "seat 2", "seat 3"]


@hs.workflow
async def races(ctx: hs.WorkflowContext) -> int:
    index, _ = await ctx.wait_first(ctx.execute_activity(book, 1), ctx.sleep(60))
    return index


def test_wait_first_cancels_the_timer_that_lost(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[races], activities=[book], tuning={"cache_size": 0})
    run = client.start(races)
    assert run.result(timeout=20) == 0
    assert "TimerCancelled" in [e.event_type for e in run.history()]
    assert not run.describe().pending  # no timer left to fire
