"""An unexpected exception in workflow code blocks the run (a bug can be fixed and deployed);
``ApplicationError``, uncaught activity and child failures and the types a workflow lists
in ``failure_exceptions`` fail it."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import harvest_studio as hs
from harvest_studio.commands import render

from .conftest import wait_for

calls: list[str] = []
lock = threading.Lock()


@pytest.fixture(autouse=True)
def _clear() -> None:
    calls.clear()


@hs.activity
def fetch_profile(ctx: hs.ActivityContext, user: str) -> dict[str, Any]:
    with lock:
        calls.append(user)
    return {"name": user.title()}


@hs.workflow(name="welcome")
async def welcome_v1(ctx: hs.WorkflowContext, user: str) -> str:
    profile = await ctx.execute_activity(fetch_profile, user)
    return f"welcome {profile['nickname']}"  # a bug: there is no nickname


@hs.workflow(name="welcome")
async def welcome_v2(ctx: hs.WorkflowContext, user: str) -> str:
    profile = await ctx.execute_activity(fetch_profile, user)
    return f"welcome {profile.get('nickname', profile['name'])}"


def test_a_bug_blocks_the_run_and_fixed_code_finishes_it(
    client: hs.Client, start_worker: Any
) -> None:
    old = start_worker(workflows=[welcome_v1], activities=[fetch_profile])
    run = client.start(welcome_v1, "ada", id="welcome-ada")
    wait_for(lambda: run.describe().is_blocked)
    info = run.describe()
    assert info.status == "RUNNING"
    blocked = info.blocked or {}
    assert blocked["kind"] == "code_error"
    assert blocked["message"] == "workflow code raised KeyError: 'nickname'"
    assert "profile['nickname']" in blocked["error"]["traceback"]
    assert "WorkflowFailed" not in [e.event_type for e in run.history()]
    shown = render.render_run(info)
    assert "Blocked" in shown and "code_error: workflow code raised KeyError" in shown
    assert "raised at" in shown and "profile['nickname']" in shown
    old.stop()
    start_worker(workflows=[welcome_v2], activities=[fetch_profile])
    assert run.result(timeout=30) == "welcome Ada"
    assert calls == ["ada"]  # the activity's recorded result was used, not run again


@hs.workflow
async def signal_bug(ctx: hs.WorkflowContext) -> str:
    seen: list[int] = []
    ctx.set_signal_handler("number", lambda n: seen.append(10 // n))
    await ctx.wait_condition(lambda: len(seen) >= 2)
    return str(seen)


@hs.workflow
async def waits_too_long(ctx: hs.WorkflowContext) -> str:
    await ctx.wait_condition(lambda: False, timeout=0.2)
    return "never"


def test_a_failing_signal_handler_and_an_uncaught_timeout_block_too(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[signal_bug, waits_too_long])
    run = client.start(signal_bug)
    run.signal("number", 5)
    run.signal("number", 0)
    wait_for(lambda: run.describe().is_blocked)
    assert "ZeroDivisionError" in (run.describe().blocked or {})["message"]
    slow = client.start(waits_too_long)
    wait_for(lambda: slow.describe().is_blocked)
    assert "TimeoutError" in (slow.describe().blocked or {})["message"]


@hs.activity(retry=hs.RetryPolicy(max_attempts=5, initial_interval=0.05))
def refuses(ctx: hs.ActivityContext, how: str) -> None:
    with lock:
        calls.append(how)
    if how == "for good":
        raise hs.ApplicationError("card declined", non_retryable=True)
    raise ValueError("no")


@hs.workflow
async def fails_by_activity(ctx: hs.WorkflowContext, how: str) -> None:
    await ctx.execute_activity(refuses, how)


def test_what_fails_a_run(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[fails_by_activity], activities=[refuses])
    run = client.start(fails_by_activity, "for good")
    with pytest.raises(hs.WorkflowFailedError) as caught:
        run.result(timeout=20)
    assert caught.value.error is not None and caught.value.error["type"] == "ActivityError"
    assert calls == ["for good"]  # non_retryable: one attempt
    with pytest.raises(hs.UsageError, match="exception classes"):
        hs.workflow(failure_exceptions=["ValueError"])(welcome_v1.fn)  # type: ignore[list-item]


@hs.workflow
async def cancelled_is_not_a_bug(ctx: hs.WorkflowContext) -> None:
    await asyncio.sleep(0)
    await ctx.sleep(60)


def test_cancellation_still_ends_cancelled(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[cancelled_is_not_a_bug])
    run = client.start(cancelled_is_not_a_bug)
    wait_for(lambda: any(p.get("kind") == "timer" for p in run.describe().pending))
    run.cancel()
    with pytest.raises(hs.WorkflowFailedError, match="CANCELLED"):
        run.result(timeout=20)
