"""Flow control on the claim path, against a real PostgreSQL with workers on threads:
priorities, fairness keys, rate limits and concurrency caps shared by several workers,
pausing queues and activity types."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import harvest_studio as hs

from .conftest import sql, wait_for

lock = threading.Lock()
seen: list[Any] = []
spans: list[tuple[float, float]] = []


@pytest.fixture(autouse=True)
def _clear() -> None:
    seen.clear()
    spans.clear()


@hs.activity(start_to_close="10s")
def note(ctx: hs.ActivityContext, tag: Any) -> Any:
    with lock:
        seen.append(tag)
    return tag


@hs.activity(start_to_close="10s")
def stamp(ctx: hs.ActivityContext, i: int) -> int:
    with lock:
        seen.append(time.monotonic())
    return i


@hs.activity(start_to_close="10s", queue="narrow")
def hold(ctx: hs.ActivityContext, seconds: float) -> None:
    began = time.monotonic()
    time.sleep(seconds)
    with lock:
        spans.append((began, time.monotonic()))


@hs.workflow
async def one_note(ctx: hs.WorkflowContext, tag: Any) -> Any:
    return await ctx.execute_activity(note, tag)


@hs.workflow
async def notes_by_priority(ctx: hs.WorkflowContext, priorities: list[int]) -> list[Any]:
    return list(
        await ctx.gather(*(ctx.execute_activity(note, p, priority=p) for p in priorities))
    )


@hs.workflow
async def stamps(ctx: hs.WorkflowContext, n: int) -> list[int]:
    return list(await ctx.gather(*(ctx.execute_activity(stamp, i) for i in range(n))))


@hs.workflow
async def holds(ctx: hs.WorkflowContext, n: int, seconds: float) -> None:
    await ctx.gather(*(ctx.execute_activity(hold, seconds) for _ in range(n)))


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def test_higher_priority_runs_are_claimed_first(
    client: hs.Client, start_worker: Callable[..., hs.Worker]
) -> None:
    for i in range(6):
        client.start(one_note, f"low{i}")
    for i in range(3):
        client.start(one_note, f"high{i}", priority=5)
    start_worker(workflows=[one_note], activities=[note], tuning={"max_concurrent_tasks": 1})
    wait_for(lambda: len(seen) == 9)
    assert sorted(seen[:3]) == ["high0", "high1", "high2"], seen
    assert seen[3:] == [f"low{i}" for i in range(6)]
    assert sql(client.url, "SELECT DISTINCT priority FROM harvest.runs ORDER BY 1") == [(0,), (5,)]


def test_activity_priority_orders_attempts_of_one_run(
    client: hs.Client, start_worker: Callable[..., hs.Worker]
) -> None:
    run = client.start(notes_by_priority, [0, 1, 2, 3, 4, 5])
    start_worker(
        workflows=[notes_by_priority], activities=[note], tuning={"max_concurrent_tasks": 1}
    )
    run.result(timeout=20)
    # the first may be handed to the deciding worker at once; the rest wait in the queue
    assert seen[1:] == sorted(seen[1:], reverse=True), seen
    assert seen[-2:] != [4, 5]


def test_fairness_keys_take_turns(
    client: hs.Client, start_worker: Callable[..., hs.Worker]
) -> None:
    for i in range(30):
        client.start(one_note, f"big{i}", fairness_key="tenant-big")
    for i in range(5):
        client.start(one_note, f"small{i}", fairness_key="tenant-small")
    start_worker(workflows=[one_note], activities=[note], tuning={"max_concurrent_tasks": 1})
    wait_for(lambda: len(seen) == 35, timeout=40)
    small_at = [i for i, tag in enumerate(seen) if tag.startswith("small")]
    # in start order they would be the last five (30..34); taking turns puts them early
    assert max(small_at) <= 11, seen
    big = [tag for tag in seen if tag.startswith("big")]
    assert big == [f"big{i}" for i in range(30)]  # within a key, start order


def test_rate_limit_is_shared_by_all_workers(
    client: hs.Client, start_worker: Callable[..., hs.Worker]
) -> None:
    rate, burst = 5.0, 1.0
    client.set_limits(activity="stamp", rate=rate, burst=burst)
    for _ in range(2):
        start_worker(workflows=[stamps], activities=[stamp], tuning={"max_concurrent_tasks": 8})
    client.start(stamps, 12).result(timeout=30)
    times = sorted(seen)
    assert len(times) == 12
    # any k attempts need (k - burst) / rate seconds, whichever worker started them
    for i in range(len(times)):
        for j in range(i + 1, len(times)):
            allowed = burst + rate * (times[j] - times[i]) + 0.5  # 0.5: clock jitter
            assert j - i + 1 <= allowed + 1, (i, j, times[j] - times[i])
    assert times[-1] - times[0] >= (12 - burst) / rate * 0.9


def test_queue_cap_holds_across_workers(
    client: hs.Client, start_worker: Callable[..., hs.Worker]
) -> None:
    client.set_limits(queue="narrow", max_concurrent=2)
    for _ in range(2):
        start_worker(
            workflows=[holds], activities=[hold], queues=["default", "narrow"],
            tuning={"max_concurrent_tasks": 8},
        )
    client.start(holds, 8, 0.3).result(timeout=30)
    assert len(spans) == 8
    assert _max_overlap(spans) == 2


def test_paused_queue_holds_runs_until_resumed(
    client: hs.Client, start_worker: Callable[..., hs.Worker]
) -> None:
    client.pause_queue("default")
    start_worker(workflows=[one_note], activities=[note])
    run = client.start(one_note, "waited")
    time.sleep(1.0)
    assert run.describe().status == "RUNNING"
    assert seen == []
    assert [q.limit.paused for q in client.queues() if q.name == "default" and q.limit] == [True]
    assert client.resume_queue("default") is None  # nothing left to enforce: the row goes
    assert run.result(timeout=10) == "waited"


def test_paused_activity_type_waits_and_resumes(
    client: hs.Client, start_worker: Callable[..., hs.Worker]
) -> None:
    start_worker(workflows=[one_note], activities=[note])
    client.pause_activity("note")
    run = client.start(one_note, "later")
    time.sleep(1.0)
    assert seen == []
    history = [e.event_type for e in run.history()]
    assert "ActivityScheduled" in history and "ActivityCompleted" not in history
    client.resume_activity("note")
    assert run.result(timeout=10) == "later"


def test_limits_are_listed_changed_and_lifted(client: hs.Client) -> None:
    limit = client.set_limits(queue="emails", rate=10, max_concurrent=4)
    assert limit is not None and (limit.rate, limit.burst, limit.max_concurrent) == (10, None, 4)
    assert limit.tokens == pytest.approx(10, abs=0.1)  # a new rate starts with a full bucket
    limit = client.set_limits(queue="emails", burst=20)
    assert limit is not None and (limit.rate, limit.burst) == (10, 20)
    client.set_limits(activity="charge", max_concurrent=1)
    assert [(lim.scope, lim.name) for lim in client.limits()] == [
        ("queue", "emails"), ("activity", "charge")
    ]
    assert [q.name for q in client.queues()] == ["emails"]
    assert client.set_limits(queue="emails", rate=None, max_concurrent=None) is None
    assert client.set_limits(activity="charge", max_concurrent=None) is None
    assert client.limits() == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.set_limits(queue="q", rate=0), "rate must be a positive number"),
        (lambda c: c.set_limits(queue="q", rate=float("nan")), "rate must be"),
        (lambda c: c.set_limits(queue="q", burst=0.5), "burst must be a number >= 1"),
        (lambda c: c.set_limits(queue="q", max_concurrent=-1), "max_concurrent must be"),
        (lambda c: c.set_limits(queue="q", activity="a", rate=1), "exactly one"),
        (lambda c: c.set_limits(rate=1), "exactly one"),
        (lambda c: c.pause_queue(""), "1..200 characters"),
        (lambda c: c.start(one_note, 1, priority=5000), "priority must be an int"),
        (lambda c: c.start(one_note, 1, priority=True), "priority must be an int"),
        (lambda c: c.start(one_note, 1, fairness_key=""), "fairness_key must be"),
    ],
)
def test_bad_flow_input_is_a_usage_error(
    client: hs.Client, call: Callable[[hs.Client], Any], message: str
) -> None:
    with pytest.raises(hs.UsageError, match=message):
        call(client)
    assert client.limits() == []
    assert sql(client.url, "SELECT count(*) FROM harvest.runs") == [(0,)]
