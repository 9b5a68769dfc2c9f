"""Workflows for the chaos test: activities, a durable timer and a signal per run."""

from __future__ import annotations

import time

import harvest_studio as hs


@hs.activity(start_to_close="20s", retry=hs.RetryPolicy(max_attempts=100, initial_interval=0.05))
def chaos_step(ctx: hs.ActivityContext, run: int, n: int) -> int:
    time.sleep(0.02)
    return run + n


@hs.workflow
async def chaos_flow(ctx: hs.WorkflowContext, run: int) -> int:
    total = await ctx.execute_activity(chaos_step, run, 1)
    await ctx.sleep(0.3)
    go = await ctx.wait_signal("go")
    total += await ctx.execute_activity(chaos_step, run, int(go))
    total += await ctx.execute_activity(chaos_step, run, 3)
    return int(total)
