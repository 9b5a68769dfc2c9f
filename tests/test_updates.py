"""Updates: validated, admitted, completed; rejected ones write nothing."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import harvest_studio as hs

from .conftest import sql, wait_for


@hs.activity
def charge(ctx: hs.ActivityContext, amount: int) -> str:
    return f"charged {amount}"


@hs.workflow
async def account(ctx: hs.WorkflowContext) -> int:
    state = {"balance": 0}
    closed = asyncio.Event()  # lives on the workflow's own loop

    def validate_deposit(amount: int) -> None:
        if amount <= 0:
            raise ValueError("deposits must be positive")

    async def deposit(amount: int) -> dict[str, Any]:
        receipt = await ctx.execute_activity(charge, amount)
        state["balance"] += amount
        return {"balance": state["balance"], "receipt": receipt}

    def close() -> int:
        closed.set()
        return state["balance"]

    def explode() -> None:
        raise RuntimeError("handler broke")

    ctx.set_update_handler("deposit", deposit, validator=validate_deposit)
    ctx.set_update_handler("close", close)
    ctx.set_update_handler("explode", explode)
    await closed.wait()
    return state["balance"]


def update_events(run: hs.RunHandle) -> list[str]:
    return [e.event_type for e in run.history() if e.event_type.startswith("Update")]


def test_accepted_update_writes_admitted_and_completed(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[account], activities=[charge])
    run = client.start(account)
    result = run.update("deposit", 30, update_id="dep-1")
    assert result == {"balance": 30, "receipt": "charged 30"}
    assert update_events(run) == ["UpdateAdmitted", "UpdateCompleted"]
    # the same update id is not applied twice, and its result can be fetched later
    assert run.update("deposit", 30, update_id="dep-1") == result
    assert client.update_result(run.ref, "dep-1") == result
    assert run.update("close") == 30
    assert run.result(timeout=20) == 30


def test_rejected_update_writes_nothing(client: hs.Client, start_worker: Any, db_url: str) -> None:
    start_worker(workflows=[account], activities=[charge])
    run = client.start(account)
    run.update("deposit", 5)
    before = sql(db_url, "SELECT count(*) FROM harvest.history")
    with pytest.raises(hs.UpdateRejectedError, match="positive"):
        run.update("deposit", -5)
    with pytest.raises(hs.UpdateRejectedError, match="no update handler"):
        run.update("withdraw", 5)
    assert sql(db_url, "SELECT count(*) FROM harvest.history") == before
    with pytest.raises(hs.UpdateFailedError, match="handler broke"):
        run.update("explode")
    assert run.update("close") == 5


def test_update_with_start_and_ended_runs(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[account], activities=[charge])
    handle, result = client.update_with_start(
        account, id="acct-1", update="deposit", update_args=[7]
    )
    assert result["balance"] == 7
    again, result2 = client.update_with_start(
        account, id="acct-1", update="deposit", update_args=[3]
    )
    assert again.run_id == handle.run_id and result2["balance"] == 10
    assert handle.update("close") == 10
    handle.result(timeout=20)
    with pytest.raises(hs.UpdateRejectedError, match="ended"):
        handle.update("deposit", 1)


def test_an_update_still_running_when_the_run_ends_fails(
    client: hs.Client, start_worker: Any, db_url: str
) -> None:
    start_worker(workflows=[account], activities=[charge])
    client.pause_activity("charge")  # the deposit is admitted, then waits for its activity
    run = client.start(account)
    outcome: list[BaseException] = []

    def deposit() -> None:
        try:
            run.update("deposit", 5, update_id="dep-late", timeout=20)
        except BaseException as exc:
            outcome.append(exc)

    caller = threading.Thread(target=deposit)
    caller.start()
    wait_for(lambda: sql(db_url, "SELECT status FROM harvest.updates") == [("ADMITTED",)])
    run.cancel()  # the run ends without a decision about updates
    wait_for(lambda: run.describe().status == "CANCELLED")
    caller.join(timeout=20)
    assert len(outcome) == 1 and isinstance(outcome[0], hs.UpdateFailedError), outcome
    assert "the run ended first" in str(outcome[0])
    assert sql(
        db_url, "SELECT status, error->>'type' FROM harvest.updates WHERE update_id = 'dep-late'"
    ) == [("FAILED", "RunEnded")]


@hs.workflow
async def guarded(ctx: hs.WorkflowContext) -> str:
    def sneaky(amount: int) -> None:
        ctx.execute_activity(charge, amount)  # a command from a validator: refused

    async def poke(amount: int) -> int:
        return amount

    ctx.set_update_handler("poke", poke, validator=sneaky)
    return str(await ctx.wait_signal("stop"))


def test_a_validator_that_issues_a_command_rejects_and_writes_nothing(
    client: hs.Client, start_worker: Any, db_url: str
) -> None:
    start_worker(workflows=[guarded], activities=[charge], tuning={"cache_size": 0})
    run = client.start(guarded)
    wait_for(lambda: bool(run.describe().waiting))  # its code waits for "stop"
    before = [e.event_type for e in run.history()]
    with pytest.raises(hs.UpdateRejectedError, match="must not issue commands"):
        run.update("poke", 3)
    assert [e.event_type for e in run.history()] == before
    run.signal("stop", "fine")
    assert run.result(timeout=20) == "fine"  # not blocked: every replay agrees


@hs.workflow
async def wraps_up(ctx: hs.WorkflowContext) -> str:
    finished = asyncio.Event()

    async def finish(note: str) -> str:
        finished.set()  # the workflow returns in this same step...
        await asyncio.sleep(0)  # ...while the handler still has a step to go
        return f"finished: {note}"

    ctx.set_update_handler("finish", finish)
    await finished.wait()
    return "done"


def test_an_update_finishing_with_the_run_completes_first(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[wraps_up], activities=[], tuning={"cache_size": 0})
    run = client.start(wraps_up)
    assert run.update("finish", "ok") == "finished: ok"
    assert run.result(timeout=20) == "done"
    events = [e.event_type for e in run.history()]
    assert events.index("UpdateCompleted") < events.index("WorkflowCompleted")
