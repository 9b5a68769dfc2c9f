"""The workload the benchmarks run on Harvest Studio (imported by worker processes)."""

from __future__ import annotations

import harvest_studio as hs


@hs.activity(start_to_close="60s")
def step(ctx: hs.ActivityContext, x: int) -> int:
    return x + 1


@hs.workflow
async def three_steps(ctx: hs.WorkflowContext, x: int) -> int:
    for _ in range(3):
        x = await ctx.execute_activity(step, x)
    return x


@hs.workflow
async def one_step(ctx: hs.WorkflowContext, x: int) -> int:
    return int(await ctx.execute_activity(step, x))


@hs.workflow
async def one_local_step(ctx: hs.WorkflowContext, x: int) -> int:
    return int(await ctx.execute_local_activity(step, x))


WORKFLOWS = [three_steps, one_step, one_local_step]
ACTIVITIES = [step]
