"""Workflows for the CLI tests; also served by ``harvest worker tests.apps.cli_app``."""

from __future__ import annotations

import asyncio
from typing import Any

import harvest_studio as hs


@hs.activity(start_to_close="10s")
def shout(ctx: hs.ActivityContext, text: str) -> str:
    return text.upper() + "!"


@hs.activity(start_to_close="10s", retry=hs.RetryPolicy(max_attempts=1))
def explode(ctx: hs.ActivityContext, why: str) -> None:
    raise RuntimeError(why)


@hs.workflow
async def greet(ctx: hs.WorkflowContext, name: str) -> str:
    """One activity: ``greet("ada")`` -> ``"HELLO ADA!"``."""
    return str(await ctx.execute_activity(shout, f"hello {name}"))


@hs.workflow
async def doomed(ctx: hs.WorkflowContext, why: str) -> None:
    """Fails: its only activity raises and is not retried."""
    await ctx.execute_activity(explode, why)


@hs.workflow
async def napper(ctx: hs.WorkflowContext, seconds: float) -> str:
    """A durable timer, then done."""
    await ctx.sleep(seconds)
    return "rested"


@hs.workflow(name="drifting")
async def drifting(ctx: hs.WorkflowContext) -> str:
    """Version 1 of ``drifting``: an activity, then a timer (tests swap in another version)."""
    await ctx.execute_activity(shout, "a")
    await ctx.sleep(1.0)
    return "done"


# ------------------------------------------------------------ talking to running workflows
@hs.activity(start_to_close="10s")
def book(ctx: hs.ActivityContext, what: str) -> str:
    return f"booked {what}"


@hs.activity(start_to_close="10s")
def unbook(ctx: hs.ActivityContext, what: str) -> str:
    return f"released {what}"


@hs.workflow
async def trip(ctx: hs.WorkflowContext, steps: list[str]) -> list[str]:
    """Books each step, then waits for a ``confirm`` signal. Cancelled, it releases what it
    booked, newest first, and ends CANCELLED."""
    booked: list[str] = []
    try:
        for step in steps:
            await ctx.execute_activity(book, step)
            booked.append(step)
        await ctx.wait_signal("confirm")
        return booked
    except asyncio.CancelledError:
        for step in reversed(booked):
            await ctx.execute_activity(unbook, step)
        raise


@hs.workflow
async def inbox(ctx: hs.WorkflowContext, count: int) -> list[Any]:
    """The payloads of the first ``count`` signals called ``item``, in order."""
    return [await ctx.wait_signal("item") for _ in range(count)]


@hs.workflow
async def approval(ctx: hs.WorkflowContext, timeout: float | None = None) -> str:
    """Waits for an ``approve`` signal (at most ``timeout`` seconds, if given)."""
    approver = await ctx.wait_signal("approve", timeout=timeout)
    return "expired" if approver is None else f"approved by {approver}"


# ------------------------------------------------------------ queries and updates
@hs.workflow
async def tally(ctx: hs.WorkflowContext, start: int = 0) -> int:
    """A running total: query ``total`` (and ``has_reached(n)``); update ``add(n)``
    (validated: n must be a positive int) returns the new total; update ``close`` ends it."""
    state = {"total": start, "open": True}
    done = asyncio.Event()

    def validate_add(amount: Any) -> None:
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise ValueError(f"amount must be a positive integer, not {amount!r}")

    def add(amount: int) -> int:
        state["total"] += amount
        return int(state["total"])

    def close() -> int:
        done.set()
        return int(state["total"])

    def broken() -> None:
        raise RuntimeError("this update always fails")

    ctx.set_query_handler("total", lambda: state["total"])
    ctx.set_query_handler("has_reached", lambda n: state["total"] >= n)
    ctx.set_update_handler("add", add, validator=validate_add)
    ctx.set_update_handler("close", close)
    ctx.set_update_handler("broken", broken)
    await done.wait()
    return int(state["total"])


# ------------------------------------------------------------ children, chains, attributes
@hs.workflow
async def kid(ctx: hs.WorkflowContext, n: int) -> int:
    """A child: waits ``n`` tenths of a second if n > 0 (durable timer), returns n * 10."""
    if n > 0:
        await ctx.sleep(n / 10)
    return n * 10


@hs.workflow
async def family(ctx: hs.WorkflowContext, ns: list[int]) -> list[int]:
    """One child per n, terminated if still running when this run closes: ``kid(n)``, or
    for n == 1 ``nest(1)``, which has a child of its own."""
    handles = [
        ctx.start_child(nest if n == 1 else kid, n, id=f"{ctx.info.workflow_id}-kid-{i}",
                        parent_close_policy="terminate")
        for i, n in enumerate(ns)
    ]
    return [int(await h) for h in handles]


@hs.workflow
async def nest(ctx: hs.WorkflowContext, n: int) -> int:
    """A child that has a child of its own (abandoned if ``nest`` closes first)."""
    return int(await ctx.execute_child(kid, n + 1, parent_close_policy="abandon")) + 1


@hs.workflow
async def looper(ctx: hs.WorkflowContext, n: int, total: int) -> int:
    """Adds n to total and continues as new with n - 1 until n is 0."""
    if n > 0:
        ctx.continue_as_new(n - 1, total + n)
    return total


@hs.workflow
async def tagged(ctx: hs.WorkflowContext, customer: str, amount: float) -> str:
    """Sets search attributes ``customer`` and ``amount``, then ``stage`` = "done"."""
    ctx.upsert_search_attributes({"customer": customer, "amount": amount})
    await ctx.sleep(0.01)
    ctx.upsert_search_attributes({"stage": "done"})
    return customer


# ------------------------------------------------------------ reset, retry
switch = {"fail": True}


@hs.activity(start_to_close="10s", retry=hs.RetryPolicy(max_attempts=1))
def flaky(ctx: hs.ActivityContext, x: int) -> int:
    """Fails while ``switch["fail"]`` is set (tests flip it to let a retry succeed)."""
    if switch["fail"]:
        raise RuntimeError("downstream is down")
    return x * 10


@hs.workflow
async def pipeline(ctx: hs.WorkflowContext, x: int) -> int:
    """``shout`` then ``flaky``: fails while the switch is on."""
    await ctx.execute_activity(shout, str(x))
    return int(await ctx.execute_activity(flaky, x))


@hs.workflow
async def collector(ctx: hs.WorkflowContext, count: int) -> list[Any]:
    """``shout("go")``, then the payloads of ``count`` signals ``item``."""
    first = await ctx.execute_activity(shout, "go")
    return [first, *[await ctx.wait_signal("item") for _ in range(count)]]
