"""Child workflows: results and failures reach the parent; parent-close policies; trees."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import harvest_studio as hs

from .conftest import wait_for


@hs.activity
def square(ctx: hs.ActivityContext, x: int) -> int:
    return x * x


@hs.workflow(failure_exceptions=[ValueError])
async def square_child(ctx: hs.WorkflowContext, x: int) -> int:
    if x < 0:
        raise ValueError("negative")
    return int(await ctx.execute_activity(square, x))


@hs.workflow
async def fan_out(ctx: hs.WorkflowContext, xs: list[int]) -> dict[str, Any]:
    handles = [ctx.start_child(square_child, x) for x in xs]
    results: list[Any] = []
    for handle in handles:
        try:
            results.append(await handle)
        except hs.ChildWorkflowError as exc:
            results.append(f"{exc.status}:{(exc.error or {}).get('type')}")
    return {"results": results}


@hs.workflow
async def sleepy_child(ctx: hs.WorkflowContext) -> str:
    try:
        await ctx.sleep(120)
    except asyncio.CancelledError:
        raise
    return "woke"


@hs.workflow
async def parent_of_three(ctx: hs.WorkflowContext) -> None:
    ctx.start_child(sleepy_child, id="kid-terminate", parent_close_policy="terminate")
    ctx.start_child(sleepy_child, id="kid-cancel", parent_close_policy="request_cancel")
    ctx.start_child(sleepy_child, id="kid-abandon", parent_close_policy="abandon")
    await ctx.sleep(120)


@hs.workflow
async def duplicate_child_ids(ctx: hs.WorkflowContext) -> str:
    ctx.start_child(sleepy_child, id="only-one", parent_close_policy="terminate")
    second = ctx.start_child(sleepy_child, id="only-one", parent_close_policy="terminate")
    try:
        await second
    except hs.ChildWorkflowError as exc:
        return exc.status
    return "?"


def test_children_results_and_failures_reach_parent(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[fan_out, square_child], activities=[square])
    run = client.start(fan_out, [2, -1, 3])
    assert run.result(timeout=30) == {"results": [4, "FAILED:ValueError", 9]}
    tree = run.tree()
    assert [r.depth for r in tree] == [0, 1, 1, 1]
    assert {r.parent_run_id for r in tree[1:]} == {run.run_id}
    assert sorted(r.status for r in tree[1:]) == ["COMPLETED", "COMPLETED", "FAILED"]


def test_terminating_parent_applies_each_child_policy(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[parent_of_three, sleepy_child])
    run = client.start(parent_of_three)
    deadline = time.time() + 15
    while len(run.tree()) < 4 and time.time() < deadline:
        time.sleep(0.05)
    for kid in ("kid-terminate", "kid-cancel", "kid-abandon"):  # all started
        while client.describe(kid).events < 2 and time.time() < deadline:
            time.sleep(0.05)
    run.terminate("done here")
    deadline = time.time() + 15
    while time.time() < deadline:
        statuses = {k: client.describe(k).status for k in ("kid-terminate", "kid-cancel")}
        if statuses == {"kid-terminate": "TERMINATED", "kid-cancel": "CANCELLED"}:
            break
        time.sleep(0.1)
    assert client.describe("kid-terminate").status == "TERMINATED"
    assert client.describe("kid-cancel").status == "CANCELLED"
    assert client.describe("kid-abandon").status == "RUNNING"
    client.terminate("kid-abandon")


def test_child_id_already_running_fails_the_child_start(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[duplicate_child_ids, sleepy_child])
    run = client.start(duplicate_child_ids)
    assert run.result(timeout=20) == "START_FAILED"


def test_bad_parent_close_policy_blocks_the_parent(client: hs.Client, start_worker: Any) -> None:
    @hs.workflow(name="bad_policy")
    async def bad_policy(ctx: hs.WorkflowContext) -> None:
        ctx.start_child(sleepy_child, parent_close_policy="maybe")

    start_worker(workflows=[bad_policy, sleepy_child])
    run = client.start(bad_policy)
    wait_for(lambda: run.describe().is_blocked)  # a bug in the code: fixable, not final
    assert "parent_close_policy" in (run.describe().blocked or {})["message"]
