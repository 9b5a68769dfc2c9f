"""Definitions used by the crash tests. Activities leave marks in ``HARVEST_TEST_MARKS``."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import harvest_studio as hs


def mark(name: str, text: str) -> None:
    folder = Path(os.environ["HARVEST_TEST_MARKS"])
    with (folder / name).open("a") as f:
        f.write(text + "\n")


@hs.activity(start_to_close="60s", retry=hs.RetryPolicy(max_attempts=5, initial_interval=0.1))
def long_step(ctx: hs.ActivityContext, seconds: float) -> str:
    mark("long_step", f"{ctx.attempt} {ctx.idempotency_key} {os.getpid()}")
    time.sleep(seconds)
    return "finished"


@hs.workflow
async def crash_during_activity(ctx: hs.WorkflowContext, seconds: float) -> str:
    return await ctx.execute_activity(long_step, seconds)


@hs.workflow
async def crash_during_timer(ctx: hs.WorkflowContext, seconds: float) -> str:
    await ctx.sleep(seconds)
    return "woke"


@hs.activity(start_to_close="60s")
def kills_its_worker(ctx: hs.ActivityContext) -> None:
    mark("poison", str(os.getpid()))
    os.kill(os.getpid(), signal.SIGKILL)


@hs.workflow
async def poisoned(ctx: hs.WorkflowContext) -> None:
    await ctx.execute_activity(kills_its_worker)


@hs.activity(start_to_close="60s")
def poison_until_cured(ctx: hs.ActivityContext, n: int) -> str:
    """Kills its worker while the mark file ``poison_on`` exists; then succeeds."""
    if (Path(os.environ["HARVEST_TEST_MARKS"]) / "poison_on").exists():
        mark("poison", f"{n} {os.getpid()}")
        os.kill(os.getpid(), signal.SIGKILL)
    return f"cured {n}"


@hs.workflow
async def sometimes_poisoned(ctx: hs.WorkflowContext, n: int) -> str:
    return str(await ctx.execute_activity(poison_until_cured, n))
