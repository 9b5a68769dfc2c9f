"""Transactional steps (DBOS's ``@transaction``): SQL on the engine's PostgreSQL committed in
the same transaction that records the step's result -- exactly once for database effects."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import harvest_studio as hs

from .conftest import sql, wait_for

attempts: list[str] = []
lock = threading.Lock()


@pytest.fixture(autouse=True)
def accounts(db_url: str) -> None:
    attempts.clear()
    sql(db_url, "CREATE SCHEMA app")
    sql(db_url, "CREATE TABLE app.accounts (name text PRIMARY KEY, cents int NOT NULL"
                " CHECK (cents >= 0))")
    sql(db_url, "INSERT INTO app.accounts VALUES ('ann', 1000), ('bob', 0)")


def balances(db_url: str) -> dict[str, int]:
    return {name: cents for name, cents in sql(db_url, "SELECT name, cents FROM app.accounts")}


@hs.transaction(retry=hs.RetryPolicy(max_attempts=3, initial_interval=0.01))
async def transfer(tx: hs.TransactionContext, source: str, target: str, cents: int) -> int:
    with lock:
        attempts.append(f"{source}->{target}:{tx.attempt}")
    await tx.conn.execute("UPDATE app.accounts SET cents = cents - %s WHERE name = %s",
                          (cents, source))
    await tx.conn.execute("UPDATE app.accounts SET cents = cents + %s WHERE name = %s",
                          (cents, target))
    if tx.attempt == 1 and cents == 7:
        raise ConnectionResetError("the first attempt fails after writing")  # rolled back
    cur = await tx.conn.execute("SELECT cents FROM app.accounts WHERE name = %s", (target,))
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


@hs.workflow
async def pay(ctx: hs.WorkflowContext, cents: int) -> dict[str, Any]:
    received = await ctx.execute_transaction(transfer, "ann", "bob", cents)
    try:
        await ctx.execute_transaction(transfer, "bob", "ann", 10_000)  # would overdraw
    except hs.ActivityError as exc:
        refused = exc.error_type
    return {"bob": received, "refused": refused}


def test_a_step_commits_with_the_decision_that_records_it(
    client: hs.Client, start_worker: Any, db_url: str
) -> None:
    start_worker(workflows=[pay])
    run = client.start(pay, 7)
    assert run.result(timeout=20) == {"bob": 7, "refused": "CheckViolation"}
    # the failed first attempt's writes were rolled back to its savepoint; the CHECK
    # violation's attempts too (three of them): exactly one transfer happened
    assert balances(db_url) == {"ann": 993, "bob": 7}
    assert attempts[:2] == ["ann->bob:1", "ann->bob:2"] and len(attempts) == 5
    scheduled = [e.event for e in run.history() if e.event_type == "ActivityScheduled"]
    assert all(s.options["transaction"] for s in scheduled)  # type: ignore[attr-defined]
    assert sql(db_url, "SELECT count(*) FROM harvest.tasks") == [(0,)]


@hs.workflow(name="pay_then_bug")
async def pay_then_bug_v1(ctx: hs.WorkflowContext) -> str:
    await ctx.execute_transaction(transfer, "ann", "bob", 100)
    raise KeyError("a bug right after the step, in the same workflow task")


@hs.workflow(name="pay_then_bug")
async def pay_then_bug_v2(ctx: hs.WorkflowContext) -> str:
    received = await ctx.execute_transaction(transfer, "ann", "bob", 100)
    return f"bob has {received}"


def test_a_decision_that_does_not_commit_takes_the_steps_sql_with_it(
    client: hs.Client, start_worker: Any, db_url: str
) -> None:
    old = start_worker(workflows=[pay_then_bug_v1])
    run = client.start(pay_then_bug_v1)
    wait_for(lambda: run.describe().is_blocked)
    assert balances(db_url) == {"ann": 1000, "bob": 0}  # ran, then rolled back with it
    assert len(attempts) >= 1
    old.stop()
    start_worker(workflows=[pay_then_bug_v2])
    assert run.result(timeout=20) == "bob has 100"
    assert balances(db_url) == {"ann": 900, "bob": 100}


def test_only_transaction_steps_are_taken() -> None:
    with pytest.raises(hs.UsageError, match="async def"):
        hs.transaction(lambda tx: None)

    @hs.activity
    def plain(ctx: hs.ActivityContext) -> None: ...

    ctx = hs.WorkflowContext(None)  # type: ignore[arg-type]
    with pytest.raises(hs.UsageError, match="needs a @transaction step"):
        ctx.execute_transaction(plain)


@hs.workflow
async def many_small_payments(ctx: hs.WorkflowContext, cents: int) -> int:
    return int(await ctx.execute_transaction(transfer, "ann", "bob", cents))


def test_runs_paying_from_one_account_at_once_all_commit(
    client: hs.Client, start_worker: Any, db_url: str
) -> None:
    start_worker(workflows=[many_small_payments], max_concurrent_tasks=16)
    runs = [client.start(many_small_payments, 10) for _ in range(12)]
    for run in runs:
        run.result(timeout=30)
    assert balances(db_url) == {"ann": 880, "bob": 120}
