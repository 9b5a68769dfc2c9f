"""Versioning with ctx.patched: old runs replay the old branch, new runs take the new one."""

from __future__ import annotations

import time
from typing import Any

import harvest_studio as hs
from harvest_studio.testing import WorkflowEnvironment


@hs.activity
def letter(ctx: hs.ActivityContext, name: str) -> str:
    return name


@hs.workflow(name="versioned")
async def versioned_v1(ctx: hs.WorkflowContext) -> str:
    x = await ctx.execute_activity(letter, "b")
    await ctx.sleep(1.0)
    return f"{x} done"


@hs.workflow(name="versioned")
async def versioned_v2(ctx: hs.WorkflowContext) -> str:
    if ctx.patched("use-c"):
        x = await ctx.execute_activity(letter, "c")
    else:
        x = await ctx.execute_activity(letter, "b")
    await ctx.sleep(1.0)
    return f"{x} done"


@hs.workflow(name="versioned")
async def versioned_v3(ctx: hs.WorkflowContext) -> str:
    ctx.deprecate_patch("use-c")
    x = await ctx.execute_activity(letter, "c")
    await ctx.sleep(1.0)
    return f"{x} done"


@hs.activity
def other_letter(ctx: hs.ActivityContext, name: str) -> str:
    return name


@hs.workflow(name="versioned")
async def versioned_unpatched(ctx: hs.WorkflowContext) -> str:
    x = await ctx.execute_activity(other_letter, "c")  # changed without a patch
    await ctx.sleep(1.0)
    return f"{x} done"


def wait_for(run: hs.RunHandle, event_type: str) -> None:
    deadline = time.time() + 10
    while time.time() < deadline:
        if any(e.event_type == event_type for e in run.history()):
            return
        time.sleep(0.05)
    raise AssertionError(event_type)


def test_patched_keeps_old_runs_on_old_branch(harvest_env: WorkflowEnvironment) -> None:
    # the test kit's clock skips each run's one-second timer
    client = harvest_env.client
    v1 = harvest_env.worker(workflows=[versioned_v1], activities=[letter])
    old = client.start(versioned_v1)
    wait_for(old, "TimerStarted")
    v1.stop()
    v2 = harvest_env.worker(workflows=[versioned_v2], activities=[letter])
    new = client.start(versioned_v2)
    assert harvest_env.result(old) == "b done"
    assert harvest_env.result(new) == "c done"
    assert old.describe().blocked is None
    markers = [e.event.fields()["name"] for e in new.history() if e.event_type == "MarkerRecorded"]
    assert markers == ["patch:use-c"]
    assert not any(e.event_type == "MarkerRecorded" for e in old.history())
    # v3 drops the old branch; runs recorded by v2 still replay (the marker is consumed)
    v2_run = client.start(versioned_v2)
    wait_for(v2_run, "TimerStarted")
    v2.stop()
    harvest_env.worker(workflows=[versioned_v3], activities=[letter])
    assert harvest_env.result(v2_run) == "c done"
    assert v2_run.describe().blocked is None


def test_blocked_run_names_both_code_fingerprints(client: hs.Client, start_worker: Any) -> None:
    v1 = start_worker(workflows=[versioned_v1], activities=[letter])
    run = client.start(versioned_v1)
    wait_for(run, "TimerStarted")
    v1.stop()
    start_worker(workflows=[versioned_unpatched], activities=[letter, other_letter])
    deadline = time.time() + 15
    info = run.describe()
    while info.blocked is None and time.time() < deadline:
        time.sleep(0.1)
        info = run.describe()
    assert info.blocked is not None
    assert info.blocked["code_fingerprint"] == {
        "run": versioned_v1.fingerprint,
        "worker": versioned_unpatched.fingerprint,
    }
