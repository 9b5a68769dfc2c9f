"""Queries: answered by replaying to the current state; nothing written."""

from __future__ import annotations

from typing import Any

import pytest

import harvest_studio as hs

from .conftest import sql


@hs.activity
def double(ctx: hs.ActivityContext, x: int) -> int:
    return 2 * x


@hs.workflow
async def cart(ctx: hs.WorkflowContext) -> list[str]:
    items: list[str] = []
    ctx.set_query_handler("items", lambda: list(items))
    ctx.set_query_handler("has", lambda name: name in items)
    ctx.set_query_handler("broken", lambda: 1 / 0)
    while True:
        item = await ctx.wait_signal("add")
        if item == "checkout":
            return items
        items.append(str(item))


@hs.workflow
async def computes(ctx: hs.WorkflowContext, x: int) -> int:
    state = {"value": None}
    ctx.set_query_handler("value", lambda: state["value"])
    state["value"] = await ctx.execute_activity(double, x)
    return int(state["value"] or 0)


def history_count(db_url: str) -> int:
    return int(sql(db_url, "SELECT count(*) FROM harvest.history")[0][0])


def test_query_sees_current_state_and_writes_nothing(
    client: hs.Client, start_worker: Any, db_url: str
) -> None:
    start_worker(workflows=[cart])
    run = client.start(cart)
    assert run.query("items") == []
    run.signal("add", "apple")
    run.signal("add", "pear")
    deadline_items: list[str] = []
    for _ in range(50):
        deadline_items = run.query("items")
        if len(deadline_items) == 2:
            break
    assert deadline_items == ["apple", "pear"]
    assert run.query("has", "pear") is True
    before = history_count(db_url)
    run.query("items")
    assert history_count(db_url) == before
    assert sql(db_url, "SELECT count(*) FROM harvest.queries") == [(0,)]
    run.signal("add", "checkout")
    assert run.result(timeout=20) == ["apple", "pear"]


def test_query_on_completed_run(client: hs.Client, start_worker: Any, db_url: str) -> None:
    start_worker(workflows=[computes], activities=[double])
    run = client.start(computes, 21)
    assert run.result(timeout=20) == 42
    before = history_count(db_url)
    assert run.query("value") == 42
    assert history_count(db_url) == before


def test_query_errors_are_typed(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[cart])
    run = client.start(cart)
    with pytest.raises(hs.UnknownQueryError, match="known: broken, has, items"):
        run.query("nope")
    with pytest.raises(hs.QueryError, match="ZeroDivisionError"):
        run.query("broken")
    with pytest.raises(hs.PayloadError):
        run.query("has", object())
    with pytest.raises(hs.RunNotFoundError):
        client.query("missing-run", "items")


def test_query_without_worker_times_out(client: hs.Client, db_url: str) -> None:
    run = client.start(cart, force=True)
    with pytest.raises(hs.QueryTimeoutError):
        run.query("items", timeout=0.5)
    assert sql(db_url, "SELECT count(*) FROM harvest.tasks WHERE kind = 'query'") == [(0,)]
