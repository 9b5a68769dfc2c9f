"""End-to-end behaviour of workers against a real PostgreSQL (workers on threads)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from datetime import datetime
from typing import Any

import pytest

import harvest_studio as hs

from .conftest import sql

calls: dict[str, list[Any]] = defaultdict(list)
lock = threading.Lock()


def record(name: str, value: Any) -> None:
    with lock:
        calls[name].append(value)


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    calls.clear()


# --------------------------------------------------------------------------- definitions
@hs.activity(start_to_close="10s")
def add(ctx: hs.ActivityContext, a: int, b: int) -> int:
    return a + b


@hs.activity(start_to_close="10s")
async def slow_echo(ctx: hs.ActivityContext, value: Any, seconds: float) -> Any:
    await asyncio.sleep(seconds)
    return value


@hs.workflow
async def pipeline(ctx: hs.WorkflowContext, n: int) -> list[int]:
    x = await ctx.execute_activity(add, n, 1)
    y, z = await ctx.gather(ctx.execute_activity(add, x, 10), ctx.execute_activity(add, x, 20))
    return [x, y, z]


@hs.workflow
async def race(ctx: hs.WorkflowContext) -> list[Any]:
    slow = ctx.execute_activity(slow_echo, "slow", 1.0)
    fast = ctx.execute_activity(slow_echo, "fast", 0.05)
    return list(await ctx.wait_first(slow, fast))


@hs.activity(retry=hs.RetryPolicy(max_attempts=5, initial_interval=0.05, jitter=0))
def flaky(ctx: hs.ActivityContext, fail_times: int) -> str:
    record("flaky", (ctx.attempt, ctx.idempotency_key))
    if ctx.attempt <= fail_times:
        raise ConnectionError(f"attempt {ctx.attempt} failed")
    return f"ok after {ctx.attempt}"


@hs.workflow
async def uses_flaky(ctx: hs.WorkflowContext, fail_times: int) -> str:
    return await ctx.execute_activity(flaky, fail_times)


@hs.activity(
    retry=hs.RetryPolicy(
        max_attempts=4,
        initial_interval=0.1,
        backoff_coefficient=3.0,
        max_interval=0.5,
        non_retryable=["ValueError"],
        jitter=0,
    )
)
def picky(ctx: hs.ActivityContext, error: str) -> None:
    record("picky", ctx.attempt)
    raise {"ValueError": ValueError, "KeyError": KeyError}[error]("nope")


@hs.workflow
async def catches(ctx: hs.WorkflowContext, error: str) -> dict[str, Any]:
    try:
        await ctx.execute_activity(picky, error)
    except hs.ActivityError as exc:
        return {"type": exc.error_type, "attempt": exc.attempt, "timeout": exc.timeout_type}
    return {}


@hs.activity(start_to_close=0.5, retry=hs.RetryPolicy(max_attempts=2, initial_interval=0.05))
async def hangs(ctx: hs.ActivityContext) -> None:
    record("hangs", ctx.attempt)
    await asyncio.sleep(30)


@hs.workflow
async def times_out(ctx: hs.WorkflowContext) -> dict[str, Any]:
    try:
        await ctx.execute_activity(hangs)
    except hs.ActivityError as exc:
        return {"timeout": exc.timeout_type, "attempt": exc.attempt}
    return {}


@hs.activity(
    start_to_close="20s",
    heartbeat_timeout=0.6,
    retry=hs.RetryPolicy(max_attempts=3, initial_interval=0.05),
)
def beats_then_stalls(ctx: hs.ActivityContext) -> Any:
    record("beats", (ctx.attempt, ctx.heartbeat_details))
    if ctx.attempt == 1:
        ctx.heartbeat({"done": 7})
        time.sleep(2.5)  # stops heartbeating: the heartbeat timeout fires
        return "late"
    return ctx.heartbeat_details


@hs.workflow
async def resumes_from_heartbeat(ctx: hs.WorkflowContext) -> Any:
    return await ctx.execute_activity(beats_then_stalls)


@hs.workflow
async def waits_on_unserved_queue(ctx: hs.WorkflowContext, option: str) -> Any:
    kwargs: dict[str, Any] = {option: 0.5}
    try:
        await ctx.execute_activity("nobody_serves_this", queue="elsewhere", **kwargs)
    except hs.ActivityError as exc:
        return exc.timeout_type
    return None


@hs.activity(max_concurrent=1)
def exclusive(ctx: hs.ActivityContext, i: int) -> int:
    with lock:
        calls["active"].append(1)
        calls["peak"].append(len(calls["active"]))
    time.sleep(0.15)
    with lock:
        calls["active"].pop()
    return i


@hs.workflow
async def uses_exclusive(ctx: hs.WorkflowContext, i: int) -> int:
    return await ctx.execute_activity(exclusive, i)


@hs.workflow
async def sleeper(ctx: hs.WorkflowContext, seconds: float) -> str:
    before = ctx.now()
    await ctx.sleep(seconds)
    return f"{before.isoformat()}|{ctx.now().isoformat()}"


@hs.workflow
async def deterministic_values(ctx: hs.WorkflowContext) -> dict[str, Any]:
    first = {
        "now": ctx.now().isoformat(),
        "uuid": str(ctx.uuid4()),
        "random": ctx.random(),
        "side": ctx.side_effect(lambda: time.time_ns(), name="clock"),
    }
    await ctx.sleep(0.3)
    return first


@hs.workflow(execution_timeout=0.8)
async def too_slow(ctx: hs.WorkflowContext) -> None:
    await ctx.sleep(30)


@hs.workflow
async def raises_on_purpose(ctx: hs.WorkflowContext) -> None:
    raise hs.ApplicationError("no such customer", details={"id": 7})


@hs.workflow(failure_exceptions=[RuntimeError])
async def raises_listed(ctx: hs.WorkflowContext) -> None:
    raise RuntimeError("workflow code broke")


# --------------------------------------------------------------------------- helpers
def event_types(run: hs.RunHandle) -> list[str]:
    return [e.event_type for e in run.history()]


def events_of(run: hs.RunHandle, type_name: str) -> list[dict[str, Any]]:
    return [e.event.fields() for e in run.history() if e.event_type == type_name]


# --------------------------------------------------------------------------- tests
def test_sequential_and_parallel_activities(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[pipeline], activities=[add])
    run = client.start(pipeline, 1)
    assert run.result(timeout=20) == [2, 12, 22]
    types = event_types(run)
    assert types[0] == "WorkflowStarted" and types[-1] == "WorkflowCompleted"
    assert types.count("ActivityCompleted") == 3
    info = run.describe()
    assert info.status == "COMPLETED" and info.events == len(types)


def test_wait_first_returns_first_finished(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[race], activities=[slow_echo])
    assert client.start(race).result(timeout=20) == [1, "fast"]


def test_retries_until_success_with_stable_idempotency_key(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[uses_flaky], activities=[flaky])
    run = client.start(uses_flaky, 2)
    assert run.result(timeout=20) == "ok after 3"
    attempts = [a for a, _ in calls["flaky"]]
    keys = {k for _, k in calls["flaky"]}
    assert attempts == [1, 2, 3] and len(keys) == 1
    failed = events_of(run, "ActivityFailed")
    assert [f["attempt"] for f in failed] == [1, 2] and all(f["retrying"] for f in failed)
    assert len(events_of(run, "ActivityCompleted")) == 1


def test_non_retryable_error_stops_at_once(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[catches], activities=[picky])
    result = client.start(catches, "ValueError").result(timeout=20)
    assert result == {"type": "ValueError", "attempt": 1, "timeout": None}
    assert calls["picky"] == [1]


def test_exhausted_retries_follow_backoff(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[catches], activities=[picky])
    run = client.start(catches, "KeyError")
    assert run.result(timeout=20) == {"type": "KeyError", "attempt": 4, "timeout": None}
    failed = events_of(run, "ActivityFailed")
    # 0.1, 0.3, then capped at 0.5; the last failure is final
    assert [f["next_attempt_in"] for f in failed] == [
        pytest.approx(0.1),
        pytest.approx(0.3),
        pytest.approx(0.5),
        None,
    ]
    assert [f["retrying"] for f in failed] == [True, True, True, False]


def test_start_to_close_timeout_retries_then_fails(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[times_out], activities=[hangs])
    run = client.start(times_out)
    assert run.result(timeout=30) == {"timeout": "start_to_close", "attempt": 2}
    timeouts = events_of(run, "ActivityTimedOut")
    assert [(t["timeout_type"], t["retrying"]) for t in timeouts] == [
        ("start_to_close", True),
        ("start_to_close", False),
    ]
    # each timed-out attempt's start is in the history, just before its timeout, with the
    # moment it really started (the deadline is 0.5 s after it)
    history = run.history()
    for record in history:
        if record.event_type == "ActivityTimedOut":
            before = history[history.index(record) - 1]
            assert before.event_type == "ActivityStarted"
            assert before.event.attempt == record.event.attempt
            started = datetime.fromisoformat(before.event.started_at)
            assert 0.5 <= (record.at - started).total_seconds() < 3.0


def test_heartbeat_timeout_and_details_survive_retry(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[resumes_from_heartbeat], activities=[beats_then_stalls])
    run = client.start(resumes_from_heartbeat)
    assert run.result(timeout=30) == {"done": 7}
    assert calls["beats"][1] == (2, {"done": 7})
    timeouts = events_of(run, "ActivityTimedOut")
    assert timeouts[0]["timeout_type"] == "heartbeat" and timeouts[0]["retrying"]
    assert len(events_of(run, "ActivityCompleted")) == 1


@pytest.mark.parametrize(
    ("option", "expected"),
    [("schedule_to_start", "schedule_to_start"), ("schedule_to_close", "schedule_to_close")],
)
def test_queue_wait_timeouts(
    client: hs.Client, start_worker: Any, option: str, expected: str
) -> None:
    start_worker(workflows=[waits_on_unserved_queue], activities=[add])
    run = client.start(waits_on_unserved_queue, option)
    assert run.result(timeout=20) == expected
    assert events_of(run, "ActivityTimedOut")[0]["retrying"] is False


def test_max_concurrent_holds_across_workers(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[uses_exclusive], activities=[exclusive])
    start_worker(workflows=[uses_exclusive], activities=[exclusive])
    runs = [client.start(uses_exclusive, i) for i in range(6)]
    assert [r.result(timeout=30) for r in runs] == list(range(6))
    assert max(calls["peak"]) == 1


def test_timer_fires_once_and_not_early(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[sleeper], activities=[add])
    run = client.start(sleeper, 0.7)
    before, after = run.result(timeout=20).split("|")
    elapsed = (datetime.fromisoformat(after) - datetime.fromisoformat(before)).total_seconds()
    assert elapsed >= 0.7
    history = run.history()
    started = [e for e in history if e.event_type == "TimerStarted"]
    fired = [e for e in history if e.event_type == "TimerFired"]
    assert len(started) == 1 and len(fired) == 1
    assert fired[0].at >= datetime.fromisoformat(started[0].event.fire_at)  # type: ignore[attr-defined]


def test_deterministic_values_survive_replay(
    client: hs.Client, start_worker: Any, db_url: str
) -> None:
    worker = start_worker(workflows=[deterministic_values], activities=[add])
    run = client.start(deterministic_values)
    # Let the first decision land, then force a cold replay on another worker.
    deadline = time.time() + 10
    while "TimerStarted" not in event_types(run) and time.time() < deadline:
        time.sleep(0.05)
    worker.stop()
    start_worker(workflows=[deterministic_values], activities=[add])
    result = run.result(timeout=20)
    side = events_of(run, "SideEffectRecorded")
    assert len(side) == 1 and result["side"] == side[0]["value"]
    assert result["now"] == run.history()[0].at.isoformat()
    assert len(sql(db_url, "SELECT 1 FROM harvest.history WHERE event_type = 'TimerFired'")) == 1


def test_execution_timeout_ends_run_timed_out(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[too_slow], activities=[add])
    run = client.start(too_slow)
    with pytest.raises(hs.WorkflowFailedError) as caught:
        run.result(timeout=20)
    assert caught.value.status == "TIMED_OUT"
    assert event_types(run)[-1] == "WorkflowTimedOut"


def test_exception_in_workflow_fails_run(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[raises_on_purpose, raises_listed], activities=[add])
    for workflow, kind in ((raises_on_purpose, "ApplicationError"),
                           (raises_listed, "RuntimeError")):
        run = client.start(workflow)
        with pytest.raises(hs.WorkflowFailedError) as caught:
            run.result(timeout=20)
        assert caught.value.status == "FAILED"
        assert caught.value.error is not None and caught.value.error["type"] == kind


def test_graceful_stop_drains_inflight_activity(client: hs.Client, start_worker: Any) -> None:
    worker = start_worker(workflows=[race], activities=[slow_echo])
    run = client.start(race)
    deadline = time.time() + 10
    while "ActivityScheduled" not in event_types(run) and time.time() < deadline:
        time.sleep(0.02)
    worker.stop()
    # Both activities finished on the stopping worker and their results were written.
    pending = {p["type_name"] for p in run.describe().pending if p["kind"] == "activity"}
    assert pending == set()
    start_worker(workflows=[race], activities=[slow_echo])
    assert run.result(timeout=20) == [1, "fast"]


# --------------------------------------------------------------------------- non-determinism
@hs.activity
def step(ctx: hs.ActivityContext, name: str) -> str:
    record("steps", name)
    return name


@hs.workflow(name="changing")
async def changing_v1(ctx: hs.WorkflowContext) -> list[str]:
    a = await ctx.execute_activity(step, "a")
    await ctx.sleep(1.0)
    b = await ctx.execute_activity(step, "b")
    return [a, b]


@hs.workflow(name="changing")
async def changing_v2(ctx: hs.WorkflowContext) -> list[str]:
    await ctx.sleep(1.0)  # the order changed: timer first
    a = await ctx.execute_activity(step, "a")
    b = await ctx.execute_activity(step, "b")
    return [a, b]


def test_changed_code_blocks_run_and_restoring_it_resumes(
    client: hs.Client, start_worker: Any
) -> None:
    v1 = start_worker(workflows=[changing_v1], activities=[step])
    run = client.start(changing_v1)
    deadline = time.time() + 10
    while "TimerStarted" not in event_types(run) and time.time() < deadline:
        time.sleep(0.02)
    v1.stop()
    v2 = start_worker(workflows=[changing_v2], activities=[step])
    deadline = time.time() + 15
    info = run.describe()
    while info.blocked is None and time.time() < deadline:
        time.sleep(0.1)
        info = run.describe()
    assert info.status == "RUNNING"
    assert info.blocked is not None and info.blocked["kind"] == "non_determinism"
    assert info.blocked["expected"]["type"] == "ActivityScheduled"
    assert info.blocked["actual"]["type"] == "TimerStarted"
    v2.stop()
    start_worker(workflows=[changing_v1], activities=[step])
    assert run.result(timeout=20) == ["a", "b"]
    assert run.describe().blocked is None
    assert calls["steps"] == ["a", "b"]


# --------------------------------------------------------------------------- regressions
@hs.activity(
    start_to_close="60s",
    heartbeat_timeout=1.0,
    retry=hs.RetryPolicy(max_attempts=3, initial_interval=0.05, jitter=0),
)
def slow_first_attempt(ctx: hs.ActivityContext) -> int:
    if ctx.attempt == 1:
        time.sleep(2.5)  # abandoned by the heartbeat timeout, but still running here
        return 1
    for _ in range(15):
        ctx.heartbeat()
        time.sleep(0.1)
    return ctx.attempt


@hs.workflow
async def outlives_its_first_attempt(ctx: hs.WorkflowContext) -> int:
    return int(await ctx.execute_activity(slow_first_attempt))


def test_retry_on_same_worker_keeps_its_own_heartbeats(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[outlives_its_first_attempt], activities=[slow_first_attempt])
    run = client.start(outlives_its_first_attempt)
    assert run.result(timeout=30) == 2
    assert len(events_of(run, "ActivityTimedOut")) == 1


@hs.activity(start_to_close="60s")
def three_seconds(ctx: hs.ActivityContext) -> str:
    time.sleep(3)
    return "done"


@hs.workflow
async def waits_three_seconds(ctx: hs.WorkflowContext) -> str:
    return str(await ctx.execute_activity(three_seconds))


def test_stop_after_drain_timeout_hands_back_without_crash_strike(
    client: hs.Client, start_worker: Any, db_url: str
) -> None:
    worker = start_worker(
        workflows=[waits_three_seconds], activities=[three_seconds],
        tuning={"drain_timeout": 0.3},
    )
    run = client.start(waits_three_seconds)
    deadline = time.time() + 10
    while "ActivityScheduled" not in event_types(run) and time.time() < deadline:
        time.sleep(0.02)
    worker.stop()
    rows = sql(db_url, "SELECT state, crash_strikes FROM harvest.tasks WHERE kind = 'activity'")
    assert rows == [("PENDING", 0)]
    start_worker(workflows=[waits_three_seconds], activities=[three_seconds])
    assert run.result(timeout=30) == "done"


# --------------------------------------------------------------------------- routing
@hs.activity(queue="email")
def send_email(ctx: hs.ActivityContext, to: str) -> str:
    return f"sent to {to}"


@hs.workflow
async def notifies(ctx: hs.WorkflowContext, to: str) -> str:
    return str(await ctx.execute_activity(send_email, to))


def test_activities_route_to_workers_of_their_queue(client: hs.Client, start_worker: Any) -> None:
    orchestrator = start_worker(workflows=[notifies])
    mailer = start_worker(activities=[send_email])
    assert orchestrator.queues == ["default"] and mailer.queues == ["email"]
    run = client.start(notifies, "ada")
    assert run.result(timeout=20) == "sent to ada"
    [started] = events_of(run, "ActivityStarted")
    assert started["worker_id"] == mailer.worker_id
    assert mailer.stats["decisions"] == 0 and orchestrator.stats["activities"] == 0


@hs.activity(start_to_close="10s")
def tick(ctx: hs.ActivityContext, n: int) -> int:
    time.sleep(0.01)
    return n


@hs.workflow
async def three_ticks(ctx: hs.WorkflowContext) -> int:
    return sum([await ctx.execute_activity(tick, n) for n in range(3)])


def test_runs_in_progress_go_ahead_of_a_backlog_of_new_runs(
    client: hs.Client, start_worker: Any, db_url: str
) -> None:
    """With 40 runs queued, the first run finishes before the last one has begun: a woken
    run's tasks are ordered by the run's start, not behind every run queued after it (which
    had all 40 begun first). A free workflow slot still starts a new run while the runs in
    progress wait for their activities, so some do begin."""
    for i in range(40):
        client.start(three_ticks, id=f"tick-{i}", force=True)
    # workflows and activities on different workers: nothing is handed over eagerly, every
    # task goes through the queue
    start_worker(workflows=[three_ticks], tuning={"max_concurrent_tasks": 2})
    start_worker(activities=[tick], tuning={"max_concurrent_tasks": 2})
    deadline = time.monotonic() + 30
    while client.describe("tick-0").status != "COMPLETED":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    begun = sql(db_url, "SELECT count(*) FROM harvest.runs WHERE last_seq > 1")[0][0]
    assert begun <= 30, f"{begun} of 40 runs had begun when the first one finished"


@hs.activity(retry=hs.RetryPolicy(max_attempts=1))
async def raises_its_own_timeout(ctx: hs.ActivityContext) -> None:
    raise TimeoutError("the upstream API timed out")


@hs.workflow
async def calls_a_timing_out_api(ctx: hs.WorkflowContext) -> None:
    await ctx.execute_activity(raises_its_own_timeout, start_to_close="30s")


def test_an_activity_raising_timeout_error_fails_like_any_error(
    client: hs.Client, start_worker: Any
) -> None:
    """A TimeoutError from the activity's own code is a failure of the attempt, written at
    once; only the start-to-close deadline passing is a timeout (it was taken for one, the
    outcome was dropped, and the task was quarantined as a crash)."""
    start_worker(workflows=[calls_a_timing_out_api], activities=[raises_its_own_timeout])
    run = client.start(calls_a_timing_out_api)
    with pytest.raises(hs.WorkflowFailedError, match="the upstream API timed out"):
        run.result(timeout=15)
    failed = [e for e in run.history() if e.event_type == "ActivityFailed"]
    assert len(failed) == 1 and failed[0].event.error["type"] == "TimeoutError"
    assert client.describe(run.run_id).blocked is None


@hs.activity
def who_am_i(ctx: hs.ActivityContext) -> dict[str, object]:
    i = ctx.info
    return {"workflow_id": i.workflow_id, "workflow_type": i.workflow_type, "run_id": i.run_id,
            "activity_type": i.activity_type, "attempt": i.attempt, "queue": i.queue}


@hs.workflow
async def asks_who(ctx: hs.WorkflowContext) -> dict[str, object]:
    first = dict(await ctx.execute_activity(who_am_i))
    second = dict(await ctx.execute_activity(who_am_i))  # scheduled by a handed-over task
    assert first == second, (first, second)
    return first


def test_an_activity_knows_the_run_that_scheduled_it(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[asks_who], activities=[who_am_i])
    run = client.start(asks_who, id="who-1")
    assert run.result(timeout=20) == {
        "workflow_id": "who-1", "workflow_type": "asks_who", "run_id": run.run_id,
        "activity_type": "who_am_i", "attempt": 1, "queue": "default",
    }
