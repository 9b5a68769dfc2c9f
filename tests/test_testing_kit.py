"""The test kit (``harvest_studio.testing``): the ``harvest_env`` fixture and its clock that
skips ahead whenever every run waits on time."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta
from typing import Any

import pytest

import harvest_studio as hs
from harvest_studio.testing import WorkflowEnvironment

attempts: list[int] = []


@hs.workflow
async def remind_in_a_month(ctx: hs.WorkflowContext, who: str) -> dict[str, Any]:
    started = ctx.now()
    await ctx.sleep("30d")
    return {"who": who, "days": (ctx.now() - started).total_seconds() / 86400}


def test_a_thirty_day_sleep_takes_no_time(harvest_env: WorkflowEnvironment) -> None:
    harvest_env.worker(workflows=[remind_in_a_month])
    before = harvest_env.now()
    began = time.monotonic()
    run = harvest_env.client.start(remind_in_a_month, "ann")
    result = harvest_env.result(run)
    assert time.monotonic() - began < 5  # seconds of wall time, for 30 days of run time
    assert result["who"] == "ann" and 30 <= result["days"] < 30.01
    assert harvest_env.now() - before >= timedelta(days=30)
    fired = [e for e in run.history() if e.event_type == "TimerFired"]
    assert fired and fired[0].at - run.history()[0].at >= timedelta(days=30)


@hs.activity(retry=hs.RetryPolicy(initial_interval="10m", backoff_coefficient=1, jitter=0,
                                  max_attempts=3))
def flaky(ctx: hs.ActivityContext) -> int:
    attempts.append(ctx.attempt)
    if ctx.attempt < 3:
        raise ConnectionError("try again in ten minutes")
    return ctx.attempt


@hs.workflow
async def patient(ctx: hs.WorkflowContext) -> int:
    return int(await ctx.execute_activity(flaky))


@hs.workflow(execution_timeout="1d")
async def too_long(ctx: hs.WorkflowContext) -> None:
    await ctx.sleep("2d")


def test_backoffs_and_timeouts_obey_the_clock(harvest_env: WorkflowEnvironment) -> None:
    attempts.clear()
    harvest_env.worker(workflows=[patient, too_long], activities=[flaky])
    began = time.monotonic()
    assert harvest_env.result(harvest_env.client.start(patient)) == 3
    assert attempts == [1, 2, 3]
    run = harvest_env.client.start(too_long)
    with pytest.raises(hs.WorkflowFailedError, match="TIMED_OUT"):
        harvest_env.result(run)
    assert time.monotonic() - began < 10


@hs.workflow
async def waits_for_approval(ctx: hs.WorkflowContext) -> str:
    approved = await ctx.wait_signal("approve", timeout="7d")
    return "escalated after a week" if approved is None else f"approved by {approved}"


def test_manual_sleep_and_signals_in_between(harvest_env: WorkflowEnvironment) -> None:
    harvest_env.worker(workflows=[waits_for_approval])
    early = harvest_env.client.start(waits_for_approval)
    harvest_env.sleep(3 * 86400)  # three days pass: no answer yet
    assert not early.describe().unserved_queues  # the worker is not taken for dead
    early.signal("approve", "bob")
    assert harvest_env.result(early) == "approved by bob"
    late = harvest_env.client.start(waits_for_approval)
    assert harvest_env.result(late) == "escalated after a week"
    with pytest.raises(hs.UsageError, match="forward"):
        harvest_env.sleep(-1)


@hs.workflow
async def hourly_report(ctx: hs.WorkflowContext) -> str:
    return ctx.now().isoformat()


def test_schedules_fire_on_the_skipped_clock(harvest_env: WorkflowEnvironment) -> None:
    harvest_env.worker(workflows=[hourly_report])
    harvest_env.client.create_schedule("reports", hourly_report, every="1h")
    began = time.monotonic()

    def runs() -> list[hs.RunInfo]:
        return list(harvest_env.client.list(workflow_type="hourly_report", status="COMPLETED"))

    harvest_env.wait_until(lambda: len(runs()) >= 3)
    assert time.monotonic() - began < 15
    times = sorted(r.created_at for r in runs())
    assert all(b - a >= timedelta(minutes=59) for a, b in itertools.pairwise(times))
