"""Starting runs and reading them back through the client."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import harvest_studio as hs

from .conftest import sql


@hs.activity
def echo(ctx: hs.ActivityContext, value: Any) -> Any:
    return value


@hs.workflow
async def echo_flow(ctx: hs.WorkflowContext, value: Any) -> Any:
    return await ctx.execute_activity(echo, value)


@hs.workflow(failure_exceptions=[ValueError])
async def fails_flow(ctx: hs.WorkflowContext) -> None:
    raise ValueError("boom")


def count_runs(url: str) -> int:
    return int(sql(url, "SELECT count(*) FROM harvest.runs")[0][0])


def test_unknown_workflow_is_refused_and_nothing_written(client: hs.Client, db_url: str) -> None:
    with pytest.raises(hs.UnknownWorkflowError):
        client.start("echo_flow", 1)
    with pytest.raises(hs.UnknownWorkflowError):
        client.start("no_such_workflow")
    assert count_runs(db_url) == 0
    assert client.start("no_such_workflow", force=True).run_id


def test_bad_payload_is_refused_and_nothing_written(client: hs.Client, db_url: str) -> None:
    with pytest.raises(hs.PayloadError):
        client.start(echo_flow, object(), force=True)
    with pytest.raises(hs.UsageError):
        client.start(echo_flow, 1, id_reuse_policy="sometimes", force=True)
    assert count_runs(db_url) == 0


def test_same_idempotency_key_gives_one_run(client: hs.Client, db_url: str) -> None:
    handles: list[hs.RunHandle] = []

    def go() -> None:
        handles.append(client.start(echo_flow, 1, idempotency_key="order-7", force=True))

    threads = [threading.Thread(target=go) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({h.run_id for h in handles}) == 1
    assert count_runs(db_url) == 1


def test_id_reuse_policies(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[echo_flow, fails_flow], activities=[echo])
    first = client.start(echo_flow, 1, id="order-1")
    with pytest.raises(hs.WorkflowAlreadyStartedError):
        client.start(echo_flow, 1, id="order-1")  # still running (or just finished: below)
    first.result(timeout=20)
    again = client.start(echo_flow, 2, id="order-1")
    assert again.run_id != first.run_id and again.result(timeout=20) == 2
    with pytest.raises(hs.WorkflowAlreadyStartedError):
        client.start(echo_flow, 3, id="order-1", id_reuse_policy="reject_duplicate")
    with pytest.raises(hs.WorkflowAlreadyStartedError):
        client.start(echo_flow, 3, id="order-1", id_reuse_policy="allow_duplicate_failed_only")
    failed = client.start(fails_flow, id="order-2")
    with pytest.raises(hs.WorkflowFailedError):
        failed.result(timeout=20)
    retry = client.start(fails_flow, id="order-2", id_reuse_policy="allow_duplicate_failed_only")
    assert retry.run_id != failed.run_id


def test_describe_history_and_list(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[echo_flow, fails_flow], activities=[echo])
    runs = [client.start(echo_flow, i, id=f"e-{i}") for i in range(5)]
    bad = client.start(fails_flow, id="bad")
    for r in runs:
        r.result(timeout=20)
    with pytest.raises(hs.WorkflowFailedError):
        bad.result(timeout=20)
    info = client.describe("e-3")
    assert info.status == "COMPLETED" and info.result == 3 and info.input == [3]
    assert client.describe(info.run_id).workflow_id == "e-3"
    assert [e.event_type for e in client.history("e-3")][-1] == "WorkflowCompleted"
    assert {r.workflow_id for r in client.list(status="FAILED")} == {"bad"}
    assert len(client.list(workflow_type="echo_flow")) == 5
    page1 = client.list(limit=4)
    assert len(page1) == 4 and page1.next_page_token
    page2 = client.list(limit=4, page_token=page1.next_page_token)
    assert len(page2) == 2 and page2.next_page_token is None
    seen = [r.run_id for r in page1] + [r.run_id for r in page2]
    assert len(set(seen)) == 6
    future = datetime.now(UTC) + timedelta(hours=1)
    assert len(client.list(started_after=future)) == 0
    with pytest.raises(hs.RunNotFoundError):
        client.describe("nope")
    with pytest.raises(hs.UsageError):
        client.list(status="SLEEPY")
    with pytest.raises(hs.UsageError):
        client.list(page_token="garbage")


def test_result_timeout_is_typed(client: hs.Client) -> None:
    run = client.start(echo_flow, 1, force=True)
    with pytest.raises(hs.RunTimeoutError):
        run.result(timeout=0.3)


def test_connecting_to_a_database_that_is_not_there_is_a_typed_error(db_url: str) -> None:
    from psycopg.conninfo import make_conninfo

    with pytest.raises(hs.DatabaseUnavailableError) as raised:
        hs.connect(make_conninfo(db_url, dbname="no_such_database"))
    message = str(raised.value)
    assert message.startswith("cannot connect to ") and "no_such_database" in message
    assert "\n" not in message


def test_a_closed_clients_handle_says_so_at_once(db_url: str) -> None:
    import time

    client = hs.connect(db_url)
    handle = client.handle("anything")
    client.close()
    began = time.monotonic()
    with pytest.raises(hs.UsageError, match="this client is closed") as caught:
        handle.describe()
    assert time.monotonic() - began < 1.0 and "\n" not in str(caught.value)
