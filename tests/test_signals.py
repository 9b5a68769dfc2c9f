"""Signals: order, idempotency, signal-with-start, timeouts, handlers, the final decision."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
import pytest

import harvest_studio as hs
from harvest_studio import store
from harvest_studio.model import serde
from harvest_studio.model.events import SignalReceived, WorkflowCompleted
from harvest_studio.store.connection import run_sync

from .conftest import sql


@hs.workflow
async def collects(ctx: hs.WorkflowContext, count: int) -> list[Any]:
    return [await ctx.wait_signal("item") for _ in range(count)]


@hs.workflow
async def approval(ctx: hs.WorkflowContext, timeout: float) -> str:
    approved = await ctx.wait_signal("approve", timeout=timeout)
    return "expired" if approved is None else f"approved by {approved}"


@hs.workflow
async def sees_start_signal(ctx: hs.WorkflowContext) -> list[Any]:
    early = ctx.signals("hello")  # no waiting: must already be there
    later = await ctx.wait_signal("hello")
    return [early, later]


@hs.workflow
async def counts_with_handler(ctx: hs.WorkflowContext, target: int) -> int:
    total = {"sum": 0, "n": 0}

    def on_add(amount: Any) -> None:
        total["sum"] += int(amount)
        total["n"] += 1

    ctx.set_signal_handler("add", on_add)
    while total["n"] < target:
        await ctx.sleep(0.05)
    return total["sum"]


def signal_events(run: hs.RunHandle) -> list[dict[str, Any]]:
    return [e.event.fields() for e in run.history() if e.event_type == "SignalReceived"]


def test_sequential_signals_are_recorded_in_send_order(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[collects])
    run = client.start(collects, 8)
    for i in range(8):
        assert run.signal("item", i) is True
    assert run.result(timeout=20) == list(range(8))
    assert [s["payload"] for s in signal_events(run)] == list(range(8))


def test_one_idempotency_key_gives_one_event(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[collects])
    run = client.start(collects, 2)
    sent = [run.signal("item", "once", idempotency_key="k-1") for _ in range(5)]
    assert sent == [True, False, False, False, False]
    run.signal("item", "other")
    assert run.result(timeout=20) == ["once", "other"]
    assert [s["payload"] for s in signal_events(run)] == ["once", "other"]


def test_signal_with_start_delivers_signal_before_the_code_runs(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[sees_start_signal])
    run = client.signal_with_start(
        sees_start_signal, id="greeter", signal="hello", signal_payload="first"
    )
    history = run.history()
    assert [e.event_type for e in history[:2]] == ["WorkflowStarted", "SignalReceived"]
    # a second signal-with-start finds the run open and only signals it
    again = client.signal_with_start(
        sees_start_signal, id="greeter", signal="hello", signal_payload="second"
    )
    assert again.run_id == run.run_id
    assert run.result(timeout=20) == [["first"], "second"]


def test_wait_signal_timeout_and_arrival(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[approval])
    expired = client.start(approval, 0.3)
    assert expired.result(timeout=20) == "expired"
    approved = client.start(approval, 30)
    approved.signal("approve", "ada")
    assert approved.result(timeout=20) == "approved by ada"


@hs.workflow
async def two_approvals(ctx: hs.WorkflowContext) -> list[Any]:
    first = await ctx.wait_signal("approve", timeout=60)
    second = await ctx.wait_signal("approve", timeout=60)
    return [first, second]


def test_signal_that_beats_its_timeout_cancels_the_timer(
    client: hs.Client, start_worker: Any, db_url: str
) -> None:
    start_worker(workflows=[two_approvals])
    run = client.start(two_approvals)
    run.signal("approve", 1)
    deadline = time.time() + 10
    while time.time() < deadline:
        if any(e.event_type == "TimerCancelled" for e in run.history()):
            break
        time.sleep(0.05)
    assert sql(db_url, "SELECT count(*) FROM harvest.timers") == [(1,)]  # only the second
    run.signal("approve", 2)
    assert run.result(timeout=20) == [1, 2]
    types = [e.event_type for e in run.history()]
    assert types.count("TimerCancelled") == 2 and "TimerFired" not in types
    assert sql(db_url, "SELECT count(*) FROM harvest.timers") == [(0,)]


def test_signal_handler_sees_every_signal_in_order(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[counts_with_handler])
    run = client.start(counts_with_handler, 4)
    for amount in (1, 2, 3, 4):
        run.signal("add", amount)
    assert run.result(timeout=20) == 10


def test_signals_to_ended_or_unknown_runs_are_typed_errors(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[approval])
    run = client.start(approval, 0.1)
    run.result(timeout=20)
    with pytest.raises(hs.RunNotRunningError):
        run.signal("approve", 1)
    with pytest.raises(hs.RunNotFoundError):
        client.signal("no-such-run", "approve", 1)
    with pytest.raises(hs.PayloadError):
        client.start(approval, 30).signal("approve", object())


def test_signal_arriving_during_final_decision_is_not_lost(
    client: hs.Client, db_url: str
) -> None:
    run = client.start(collects, 0, force=True)
    assert run.run_id

    async def scenario() -> tuple[set[int], str]:
        conn = await psycopg.AsyncConnection.connect(db_url, autocommit=True)
        async with conn:
            [task] = await store.claim_tasks(
                conn, worker_id="w", namespace="default", queues=["default"],
                workflows=["collects"], activities=[], limit=1, lease_seconds=30,
            )
            # the code decided to complete; before the decision commits, a signal arrives
            queued = await store.queue_event(
                conn, str(run.run_id), "SignalReceived",
                serde.dumps(SignalReceived(name="item", payload="late").fields()),
            )
            done = WorkflowCompleted(result=[])
            decision = store.Decision(
                task_id=task["task_id"], attempt=task["attempt"], run_id=str(run.run_id),
                namespace="default", expected_seq=1,
                events=[(2, done.type_name, task["started_at"], serde.dumps(done.fields()))],
                close_status="COMPLETED", result_json="[]",
            )
            outcome = await store.commit_decisions(
                conn, [decision], worker_id="w", lease_seconds=30
            )
            return outcome.lost, queued

    lost, queued = run_sync(scenario())
    assert queued == "queued" and len(lost) == 1
    assert run.describe().status == "RUNNING"
    assert sql(db_url, "SELECT state FROM harvest.tasks WHERE kind = 'workflow'") == [
        ("PENDING",)
    ]
    assert sql(db_url, "SELECT count(*) FROM harvest.inbox") == [(1,)]
    assert sql(db_url, "SELECT count(*) FROM harvest.history") == [(1,)]


def test_many_concurrent_signals_each_recorded_once(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[collects])
    run = client.start(collects, 20)

    async def blast() -> None:
        async with hs.AsyncClient(client.url) as aio:
            await asyncio.gather(*(aio.signal(run.ref, "item", i) for i in range(20)))

    run_sync(blast())
    result = run.result(timeout=30)
    assert sorted(result) == list(range(20))
    assert len(signal_events(run)) == 20
    time.sleep(0.1)


@hs.activity
def stamp(ctx: hs.ActivityContext, item: str) -> str:
    return f"stamped {item}"


@hs.workflow
async def stamps(ctx: hs.WorkflowContext) -> list[str]:
    done: list[str] = []
    enough = asyncio.Event()

    async def on_item(item: str) -> None:  # an async handler: runs as a task, in order
        done.append(await ctx.execute_activity(stamp, item))
        if len(done) == 2:
            enough.set()

    ctx.set_signal_handler("item", on_item)
    await enough.wait()
    return sorted(done)


def test_async_signal_handlers_run_and_replay(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[stamps], activities=[stamp], tuning={"cache_size": 0})
    run = client.start(stamps)
    run.signal("item", "a")
    run.signal("item", "b")
    assert run.result(timeout=20) == ["stamped a", "stamped b"]
    assert [e.event_type for e in run.history()].count("ActivityScheduled") == 2
