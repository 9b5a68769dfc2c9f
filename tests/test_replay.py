"""The replayer on its own: no database, histories built by hand."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

import harvest_studio as hs
from harvest_studio.engine.replay import WorkflowInstance
from harvest_studio.model.events import (
    ActivityCompleted,
    ActivityFailed,
    ActivityStarted,
    HistoryEvent,
    TimerFired,
    WorkflowStarted,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@hs.activity
def work(ctx: hs.ActivityContext, x: int) -> int:
    return x


@hs.workflow
async def two_steps(ctx: hs.WorkflowContext, n: int) -> int:
    a = await ctx.execute_activity(work, n)
    await ctx.sleep(5)
    return int(a) * 2


@hs.workflow
async def uses_asyncio_sleep(ctx: hs.WorkflowContext) -> None:
    await asyncio.sleep(1)


def started(*args: object) -> HistoryEvent:
    return HistoryEvent(1, T0, WorkflowStarted("two_steps", "id", "default", "default", list(args)))


def run_id() -> str:
    return str(uuid.uuid4())


def live_history(rid: str) -> list[HistoryEvent]:
    inst = WorkflowInstance(two_steps, rid)
    inst.replay([started(3)])
    inst.advance([(ActivityStarted(2, 1, "w", ""), T0), (ActivityCompleted(2, 1, 3), T0)])
    inst.advance([(TimerFired(5), T0)])
    assert inst.closed
    return inst.events


def test_first_decision_issues_commands_for_undecided_start() -> None:
    inst = WorkflowInstance(two_steps, run_id())
    new = inst.replay([started(3)])
    assert [e.event_type for e in new] == ["ActivityScheduled"]
    assert new[0].seq == 2


def test_full_replay_matches_and_issues_nothing_new() -> None:
    rid = run_id()
    history = live_history(rid)
    assert [e.event_type for e in history] == [
        "WorkflowStarted",
        "ActivityScheduled",
        "ActivityStarted",
        "ActivityCompleted",
        "TimerStarted",
        "TimerFired",
        "WorkflowCompleted",
    ]
    again = WorkflowInstance(two_steps, rid)
    assert again.replay(history) == []
    assert again.closed


def test_cached_instance_continues_from_where_it_stopped() -> None:
    rid = run_id()
    inst = WorkflowInstance(two_steps, rid)
    inst.replay([started(3)])
    before = len(inst.events)
    new = inst.advance([(ActivityCompleted(2, 1, 3), T0)])
    assert [e.seq for e in new] == [before + 1, before + 2]


@hs.workflow(name="two_steps")
async def reordered(ctx: hs.WorkflowContext, n: int) -> int:
    await ctx.sleep(5)
    return int(await ctx.execute_activity(work, n))


def test_reordered_code_is_a_divergence_with_expected_and_actual() -> None:
    history = live_history(run_id())
    inst = WorkflowInstance(reordered, run_id())
    with pytest.raises(hs.NonDeterminismError) as caught:
        inst.replay(history)
    assert caught.value.seq == 2
    assert caught.value.expected == {"type": "ActivityScheduled", "activity_type": "work"}
    assert caught.value.actual == {"type": "TimerStarted", "duration": 5.0}


@hs.workflow(name="two_steps")
async def fewer_commands(ctx: hs.WorkflowContext, n: int) -> int:
    return int(await ctx.execute_activity(work, n))


def test_missing_command_is_a_divergence() -> None:
    with pytest.raises(hs.NonDeterminismError, match=r"did not issue it|code issued"):
        WorkflowInstance(fewer_commands, run_id()).replay(live_history(run_id()))


def test_retrying_failure_is_informational() -> None:
    inst = WorkflowInstance(two_steps, run_id())
    inst.replay([started(3)])
    error = {"type": "E", "message": "m"}
    new = inst.advance([(ActivityFailed(2, 1, error, retrying=True, next_attempt_in=1.0), T0)])
    assert [e.event_type for e in new] == ["ActivityFailed"]
    assert not inst.closed


def test_final_failure_raises_activity_error_in_code() -> None:
    inst = WorkflowInstance(two_steps, run_id())
    inst.replay([started(3)])
    new = inst.advance([(ActivityFailed(2, 3, {"type": "KeyError", "message": "k"}), T0)])
    assert new[-1].event_type == "WorkflowFailed"
    assert "ActivityError" in new[-1].event.fields()["error"]["type"]


def test_loop_timers_are_refused() -> None:
    inst = WorkflowInstance(uses_asyncio_sleep, run_id())
    with pytest.raises(hs.WorkflowCodeError, match=r"ctx\.sleep") as caught:
        inst.replay([started()])  # a bug in the code: the run is blocked, not failed
    assert caught.value.error["type"] == "WorkflowLoopError"


def test_random_and_uuid_depend_only_on_run_id() -> None:
    rid = run_id()
    a, b = WorkflowInstance(two_steps, rid), WorkflowInstance(two_steps, rid)
    a.replay([started(1)])
    b.replay([started(1)])
    assert a.ctx.uuid4() == b.ctx.uuid4() and a.ctx.random() == b.ctx.random()
