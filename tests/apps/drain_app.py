"""Workflows for the drain test: two slow steps per run, each noting when it starts and
ends in the file named by ``HARVEST_TEST_STEP_LOG``."""

from __future__ import annotations

import os
import time

import harvest_studio as hs


def _note(line: str) -> None:
    with open(os.environ["HARVEST_TEST_STEP_LOG"], "a") as log:
        log.write(line + "\n")


@hs.activity(start_to_close="30s")
def slow_step(ctx: hs.ActivityContext, run: int, step: int) -> int:
    _note(f"start {run}:{step}")
    time.sleep(0.8)
    _note(f"end {run}:{step}")
    return step


@hs.workflow
async def slow_pair(ctx: hs.WorkflowContext, run: int) -> int:
    first = await ctx.execute_activity(slow_step, run, 1)
    second = await ctx.execute_activity(slow_step, run, 2)
    return int(first + second)
