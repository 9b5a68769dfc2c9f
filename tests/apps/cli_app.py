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
