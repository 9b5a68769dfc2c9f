"""Continue-as-new chains, start policies, search attributes and the filter language."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

import harvest_studio as hs
from harvest_studio.model.filters import FilterError, parse_filter

from .conftest import sql, wait_for


@hs.workflow
async def counter(ctx: hs.WorkflowContext, n: int, total: int) -> int:
    await ctx.sleep(0.01)
    if n < 3:
        ctx.continue_as_new(n + 1, total + n)
    return total + n


@hs.workflow
async def waits(ctx: hs.WorkflowContext) -> str:
    return str(await ctx.wait_signal("go"))


@hs.workflow
async def tagged(ctx: hs.WorkflowContext, customer: str, amount: float) -> None:
    ctx.upsert_search_attributes({"customer": customer, "amount": amount, "stage": "new"})
    await ctx.sleep(0.01)
    ctx.upsert_search_attributes({"stage": "done", "amount": None if amount < 0 else amount})


def test_continue_as_new_chain(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[counter])
    run = client.start(counter, 0, 0, id="counting", search_attributes={"team": "core"})
    assert run.result(timeout=30) == 6  # 0 + 1 + 2 + 3, followed across the chain
    chain = run.chain()
    assert [r.status for r in chain] == ["CONTINUED_AS_NEW"] * 3 + ["COMPLETED"]
    assert {r.workflow_id for r in chain} == {"counting"}
    assert [r.input for r in chain] == [[0, 0], [1, 0], [2, 1], [3, 3]]
    for earlier, later in itertools.pairwise(chain):
        assert later.continued_from == earlier.run_id
        assert later.events < 10  # fresh history each time
    assert chain[-1].search_attributes == {"team": "core"}
    last_event = client.history(chain[0].run_id)[-1]
    assert last_event.event_type == "WorkflowContinuedAsNew"


def test_start_policies(client: hs.Client, start_worker: Any, db_url: str) -> None:
    start_worker(workflows=[waits])
    first = client.start(waits, id="job")
    same = client.start(waits, id="job", id_conflict_policy="use_existing")
    assert same.run_id == first.run_id
    with pytest.raises(hs.WorkflowAlreadyStartedError):
        client.start(waits, id="job")
    replaced = client.start(waits, id="job", id_reuse_policy="terminate_if_running")
    assert replaced.run_id != first.run_id
    assert first.describe().status == "TERMINATED"
    replaced.signal("go", "ok")
    assert replaced.result(timeout=20) == "ok"
    with pytest.raises(hs.UsageError):
        client.start(waits, id="x", id_conflict_policy="sometimes")


def test_start_delay_holds_the_first_task(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[waits])
    run = client.start(waits, start_delay=1.0)
    run.signal("go", "later")
    time.sleep(0.5)
    assert [e.event_type for e in run.history()] == ["WorkflowStarted"]
    assert run.result(timeout=20) == "later"


def test_search_attributes_and_filters(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[tagged])
    runs = [
        client.start(tagged, "acme", 150.0, id="a1"),
        client.start(tagged, "acme", 50.0, id="a2"),
        client.start(tagged, "globex", 500.0, id="g1"),
        client.start(tagged, "o'brien\"; DROP TABLE harvest.runs; --", 5.0, id="evil"),
    ]
    for r in runs:
        r.result(timeout=20)

    def ids(query: str) -> set[str]:
        return {r.workflow_id for r in client.list(query=query)}

    assert ids('customer = "acme" AND amount > 100 AND status = "COMPLETED"') == {"a1"}
    assert ids("customer IN ('acme', 'globex') AND amount >= 150") == {"a1", "g1"}
    assert ids('NOT customer = "acme" AND stage = "done"') == {"g1", "evil"}
    assert ids('(customer = "globex" OR amount < 60) AND type = "tagged"') == {
        "a2", "g1", "evil"
    }
    assert ids("customer = 'o\\'brien\"; DROP TABLE harvest.runs; --'") == {"evil"}
    assert ids('amount > "100"') == set()  # strings never compare with numbers
    assert client.describe("a1").search_attributes == {
        "customer": "acme", "amount": 150.0, "stage": "done"
    }
    assert len(client.list()) == 4  # the table is still there


@pytest.mark.parametrize(
    ("text", "position"),
    [("amount >", 8), ("x = 1 AND", 9), ("(x = 1", 6), ('x = "a', 4), ("x = 1 y", 6),
     ("= 3", 0), ("x IN ()", 6), ("", 0)],
)
def test_malformed_filters_report_the_position(text: str, position: int) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(text)
    assert caught.value.position == position
    assert f"position {position}" in str(caught.value)


@pytest.mark.parametrize(
    "text",
    ['created_at > 5', 'created_at IN ("soon")', "closed_at > null", "status IN (null)",
     "status = 3"],
)
def test_builtin_fields_check_their_values(text: str) -> None:
    with pytest.raises(FilterError):
        parse_filter(text)


def test_builtin_time_filters(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[waits])
    run = client.start(waits)
    assert {r.run_id for r in client.list(query='created_at > "2020-01-01T00:00:00Z"')} == {
        run.run_id
    }
    assert len(client.list(query='created_at < "2020-01-01T00:00:00+00:00"')) == 0
    assert len(client.list(query="closed_at = null AND status = 'RUNNING'")) == 1
    run.signal("go", 1)
    run.result(timeout=20)


def test_memo_and_search_attributes_follow_continue_as_new(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[counter])
    run = client.start(counter, 2, 0, memo={"owner": "ada"})
    run.result(timeout=20)
    assert [r.memo for r in run.chain()] == [{"owner": "ada"}] * 2


def test_bad_filter_through_the_client_writes_nothing(client: hs.Client, db_url: str) -> None:
    with pytest.raises(hs.UsageError, match="position"):
        client.list(query="status = ")
    assert sql(db_url, "SELECT count(*) FROM harvest.runs") == [(0,)]


@hs.workflow
async def entity(ctx: hs.WorkflowContext, count: int) -> int:
    """A long-lived entity: takes "bump" signals until its history is long enough."""
    state = {"count": count}
    ctx.set_query_handler("count", lambda: state["count"])
    while not ctx.should_continue_as_new(threshold=12):
        await ctx.wait_signal("bump")
        state["count"] += 1
    return state["count"]


def test_should_continue_as_new_replays_like_it_ran(
    client: hs.Client, start_worker: Any, db_url: str
) -> None:
    """The threshold is checked against where the code is in history, so a replay (a query
    on an ended run, a worker with a cold cache) takes the same branch as the live run."""
    first = start_worker(workflows=[entity])
    run = client.start(entity, 0, id="entity-1")
    for _ in range(3):
        run.signal("bump")
    wait_for(lambda: run.query("count") == 3)
    first.stop()  # the next worker starts cold: it replays the whole history
    start_worker(workflows=[entity])
    for _ in range(10):
        run.signal("bump")
    result = run.result(timeout=30)
    assert result == run.query("count")  # answered by replaying the ended run
    info = run.describe()
    assert info.status == "COMPLETED" and not info.is_blocked
    assert 3 < result < 13
