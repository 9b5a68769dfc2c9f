"""Workflows for the CLI tests; also served by ``harvest worker tests.apps.cli_app``."""

from __future__ import annotations

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
