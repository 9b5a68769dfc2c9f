"""The command layer shared by the CLI, the magics and the HTTP API, called directly."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from psycopg.conninfo import make_conninfo

import harvest_studio as hs
from harvest_studio import commands, store
from harvest_studio.model.filters import FilterError

from .apps import cli_app
from .conftest import _admin, sql

T = TypeVar("T")


def with_client(url: str, action: Callable[[hs.AsyncClient], Awaitable[T]]) -> T:
    async def go() -> T:
        async with hs.AsyncClient(url) as client:
            return await action(client)

    return asyncio.run(go())


@pytest.fixture
def app_worker(start_worker: Callable[..., hs.Worker]) -> hs.Worker:
    return start_worker(
        workflows=[cli_app.greet, cli_app.doomed, cli_app.napper, cli_app.trip,
                   cli_app.inbox, cli_app.approval, cli_app.tally, cli_app.kid,
                   cli_app.family, cli_app.nest, cli_app.looper, cli_app.tagged,
                   cli_app.pipeline, cli_app.collector],
        activities=[cli_app.shout, cli_app.explode, cli_app.book, cli_app.unbook,
                    cli_app.flaky],
    )


async def wait_for_event(client: hs.AsyncClient, ref: str, event_type: str) -> None:
    for _ in range(300):
        if event_type in [e.event_type for e in await client.history(ref)]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {event_type} in the history of {ref}")


# ------------------------------------------------------------------------- input parsing
def test_parse_json_args() -> None:
    assert commands.parse_json_args(['"ada"', "42", '{"a": [1, null]}', "true"]) == [
        "ada", 42, {"a": [1, None]}, True,
    ]
    with pytest.raises(hs.PayloadError, match="argument 2"):
        commands.parse_json_args(["1", "ada"])


def test_parse_payload() -> None:
    assert commands.parse_payload(None) is None
    assert commands.parse_payload("null") is None
    assert commands.parse_payload('{"by": "ada"}') == {"by": "ada"}
    with pytest.raises(hs.PayloadError, match="signal payload"):
        commands.parse_payload("ada")


def test_check_signal() -> None:
    commands.check_signal("go", {"a": [1]}, "k")
    with pytest.raises(hs.UsageError, match="name"):
        commands.check_signal("", 1)
    with pytest.raises(hs.UsageError, match="idempotency key"):
        commands.check_signal("go", 1, "")
    with pytest.raises(hs.PayloadError):
        commands.check_signal("go", object())


def test_parse_time() -> None:
    now = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
    assert commands.parse_time("2h", now=now) == now - timedelta(hours=2)
    assert commands.parse_time("2026-01-01T00:00:00+00:00") == datetime(
        2026, 1, 1, tzinfo=UTC
    )
    naive = commands.parse_time("2026-01-01T08:30")
    assert naive.tzinfo is not None
    assert naive.replace(tzinfo=None) == datetime(2026, 1, 1, 8, 30)
    assert commands.parse_time(now) is now
    with pytest.raises(commands.BadTimeError):
        commands.parse_time("last tuesday")
    assert issubclass(commands.BadTimeError, hs.UsageError)


def test_load_app() -> None:
    app = commands.load_app("tests.apps.cli_app")
    assert sorted(w.name for w in app.workflows) == [
        "approval", "collector", "doomed", "drifting", "family", "greet", "inbox", "kid",
        "looper", "napper", "nest", "pipeline", "tagged", "tally", "trip",
    ]
    assert sorted(a.name for a in app.activities) == [
        "book", "explode", "flaky", "shout", "unbook",
    ]
    assert app.to_json()["module"] == "tests.apps.cli_app"
    with pytest.raises(commands.AppLoadError, match="cannot import"):
        commands.load_app("tests.apps.no_such_module")
    with pytest.raises(commands.AppLoadError, match="no @workflow"):
        commands.load_app("json")


# ------------------------------------------------------------------------------------ db
@pytest.fixture
def empty_db_url(pg_server_url: str) -> Iterator[str]:
    name = f"e_{uuid.uuid4().hex[:12]}"
    _admin(pg_server_url, f"CREATE DATABASE {name}")
    yield make_conninfo(pg_server_url, dbname=name)
    _admin(pg_server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_db_status_and_migrate(empty_db_url: str) -> None:
    before = asyncio.run(commands.db_status(empty_db_url))
    assert not before.up_to_date and before.applied == []
    known = [{"version": m.version, "name": m.name} for m in store.available_migrations()]
    assert before.pending == known
    assert "@" in before.url and "password" not in before.url

    after = asyncio.run(commands.db_migrate(empty_db_url))
    assert after.up_to_date
    assert after.migrated_now == known
    assert after.to_json()["applied"][0]["version"] == 1
    assert asyncio.run(commands.db_status(empty_db_url)).up_to_date


# ---------------------------------------------------------------------------------- runs
def test_start_result_show_history(db_url: str, app_worker: hs.Worker) -> None:
    async def go(client: hs.AsyncClient) -> None:
        started = await commands.start(client, "greet", ["ada"], id="g-ada")
        assert started.workflow_id == "g-ada" and started.workflow_type == "greet"
        outcome = await commands.result(client, "g-ada", timeout=20)
        assert outcome.ok and outcome.result == "HELLO ADA!"
        assert outcome.run_id == started.run_id

        info = await commands.show(client, started.run_id)
        assert info.status == "COMPLETED" and info.workflow_id == "g-ada"

        full = await commands.history(client, "g-ada")
        assert full.next_after_seq is None
        assert full.events[0].event_type == "WorkflowStarted"
        assert full.events[-1].event_type == "WorkflowCompleted"
        page = await commands.history(client, "g-ada", after_seq=1, limit=2)
        assert [e.seq for e in page.events] == [2, 3] and page.next_after_seq == 3
        assert page.to_json()["events"][0]["seq"] == 2

        with pytest.raises(hs.UsageError):
            await commands.history(client, "g-ada", after_seq=-1)

    with_client(db_url, go)


def test_failed_run_is_a_result(db_url: str, app_worker: hs.Worker) -> None:
    async def go(client: hs.AsyncClient) -> commands.RunResult:
        started = await commands.start(client, "doomed", ["kaput"])
        return await commands.result(client, started.run_id, timeout=20)

    outcome = with_client(db_url, go)
    assert not outcome.ok and outcome.status == "FAILED"
    assert outcome.error is not None and "kaput" in outcome.error["message"]


def test_result_timeout(db_url: str, app_worker: hs.Worker) -> None:
    async def go(client: hs.AsyncClient) -> Any:
        started = await commands.start(client, "napper", [60])
        return await commands.result(client, started.run_id, timeout=0.2)

    with pytest.raises(hs.RunTimeoutError):
        with_client(db_url, go)


def test_start_checks_before_writing(db_url: str) -> None:
    def runs() -> int:
        return int(sql(db_url, "SELECT count(*) FROM harvest.runs")[0][0])

    async def go(client: hs.AsyncClient) -> None:
        with pytest.raises(hs.UnknownWorkflowError):
            await commands.start(client, "nope", [1])
        with pytest.raises(hs.UsageError):
            await commands.start(client, "nope", [1], id_reuse_policy="whenever", force=True)
        with pytest.raises(hs.DurationError):
            await commands.start(client, "nope", [1], execution_timeout="soon", force=True)
        with pytest.raises(hs.PayloadError):
            await commands.start(client, "nope", [float("nan")], force=True)
        assert runs() == 0
        forced = await commands.start(client, "nope", [1], force=True, queue="elsewhere")
        assert forced.to_json()["status"] == "RUNNING"
        assert runs() == 1

    with_client(db_url, go)


def test_list_runs_filters(db_url: str, app_worker: hs.Worker) -> None:
    async def go(client: hs.AsyncClient) -> None:
        for name in ("a", "b"):
            s = await commands.start(client, "greet", [name], id=f"g-{name}")
            await commands.result(client, s.run_id, timeout=20)
        s = await commands.start(client, "doomed", ["x"], id="d")
        await commands.result(client, s.run_id, timeout=20)

        page = await commands.list_runs(client, status="failed")
        assert [r.workflow_id for r in page] == ["d"]
        page = await commands.list_runs(client, status=["running", "COMPLETED"])
        assert sorted(r.workflow_id for r in page) == ["g-a", "g-b"]
        page = await commands.list_runs(client, workflow_type="greet", limit=1)
        assert len(page) == 1 and page.next_page_token
        rest = await commands.list_runs(
            client, workflow_type="greet", limit=1, page_token=page.next_page_token
        )
        assert [r.workflow_id for r in rest] == ["g-a"] and rest.next_page_token is None
        assert len(await commands.list_runs(client, since="1h")) == 3
        assert len(await commands.list_runs(client, until="2000-01-01T00:00Z")) == 0
        assert len(await commands.list_runs(client, blocked=True)) == 0
        assert [r.workflow_id for r in await commands.list_runs(client, workflow_id="d")] == [
            "d"
        ]
        with pytest.raises(hs.UsageError, match="unknown status"):
            await commands.list_runs(client, status="paused")

    with_client(db_url, go)


# ----------------------------------------------------------- talking to running workflows
def test_signal_reports_what_happened(db_url: str, app_worker: hs.Worker) -> None:
    async def go(client: hs.AsyncClient) -> None:
        started = await commands.start(client, "inbox", [2], id="box")
        first = await commands.signal(client, "box", "item", "a", idempotency_key="k")
        assert first.changed and first.run_id == started.run_id
        assert first.to_json() == {
            "action": "signal", "run_id": started.run_id, "workflow_id": "box",
            "workflow_type": "inbox", "changed": True, "signal": "item",
            "idempotency_key": "k", "paused": False,
        }
        again = await commands.signal(client, started.run_id, "item", "a", idempotency_key="k")
        assert not again.changed
        assert (await commands.signal(client, "box", "item", "b")).changed
        assert await client.result("box", 20) == ["a", "b"]
        with pytest.raises(hs.RunNotRunningError):
            await commands.signal(client, "box", "item", "c")
        with pytest.raises(hs.RunNotFoundError):
            await commands.signal(client, "nobody", "item")

    with_client(db_url, go)


def test_signal_checks_before_writing(db_url: str) -> None:
    async def go(client: hs.AsyncClient) -> None:
        await commands.start(client, "inbox", [1], id="box", force=True)
        with pytest.raises(hs.PayloadError):
            await commands.signal(client, "box", "item", float("nan"))
        with pytest.raises(hs.UsageError):
            await commands.signal(client, "box", "")
        with pytest.raises(hs.UsageError):
            await commands.signal(client, "box", "item", 1, idempotency_key="")
        # checked before the run is even looked up
        with pytest.raises(hs.PayloadError):
            await commands.signal(client, "nobody", "item", object())

    with_client(db_url, go)
    assert sql(db_url, "SELECT count(*) FROM harvest.inbox") == [(0,)]


def test_cancel_terminate_pause_resume(db_url: str, app_worker: hs.Worker) -> None:
    async def go(client: hs.AsyncClient) -> None:
        await commands.start(client, "trip", [["flight"]], id="trip")
        await wait_for_event(client, "trip", "ActivityCompleted")
        await commands.pause(client, "trip")  # so it cannot end between the two cancels
        asked = await commands.cancel(client, "trip", "changed plans")
        assert asked.changed and asked.to_json()["reason"] == "changed plans"
        assert asked.paused
        assert not (await commands.cancel(client, "trip")).changed
        assert (await commands.show(client, "trip")).cancel_requested
        await commands.resume(client, "trip")
        outcome = await commands.result(client, "trip", timeout=20)
        assert outcome.status == "CANCELLED" and not outcome.ok

        await commands.start(client, "approval", [], id="ok")
        await wait_for_event(client, "ok", "WorkflowStarted")
        paused = await commands.pause(client, "ok", "look")
        assert paused.changed and paused.paused
        assert not (await commands.pause(client, "ok")).changed
        info = await commands.show(client, "ok")
        assert info.paused and info.status == "RUNNING"
        resumed = await commands.resume(client, "ok")
        assert resumed.changed and not resumed.paused
        assert not (await commands.resume(client, "ok")).changed
        assert not (await commands.show(client, "ok")).paused

        ended = await commands.terminate(client, "ok", "enough")
        assert ended.changed and ended.action == "terminate"
        assert (await commands.show(client, "ok")).status == "TERMINATED"
        for act in (commands.cancel, commands.terminate, commands.pause, commands.resume):
            with pytest.raises(hs.RunNotRunningError):
                await act(client, "ok", None)
            with pytest.raises(hs.RunNotFoundError):
                await act(client, "nobody", None)

        page = await commands.list_runs(client, status="cancelled,terminated")
        assert sorted(r.workflow_id for r in page) == ["ok", "trip"]

    with_client(db_url, go)


def test_signal_with_start(db_url: str, app_worker: hs.Worker) -> None:
    async def go(client: hs.AsyncClient) -> None:
        first = await commands.signal_with_start(
            client, "inbox", [2], id="box", signal="item", signal_payload=1
        )
        assert first.started and first.signal == "item"
        assert first.to_json()["started"] is True
        second = await commands.signal_with_start(
            client, "inbox", [2], id="box", signal="item", signal_payload=2
        )
        assert not second.started and second.run_id == first.run_id
        assert second.workflow_type == "inbox"
        assert await client.result("box", 20) == [1, 2]
        # the run has ended: the next one starts a new run
        third = await commands.signal_with_start(
            client, "inbox", [1], id="box", signal="item", signal_payload=3
        )
        assert third.started and third.run_id != first.run_id
        assert await client.result(third.run_id, 20) == [3]

        with pytest.raises(hs.UsageError):
            await commands.signal_with_start(client, "inbox", [1], id="", signal="item")
        with pytest.raises(hs.UnknownWorkflowError):
            await commands.signal_with_start(client, "nope", [], id="n", signal="item")
        with pytest.raises(hs.UsageError, match="idempotency key"):
            await commands.signal_with_start(
                client, "inbox", [1], id="box", signal="item", idempotency_key="k"
            )
        assert "signal" not in commands.StartedRun("w", "r", "t", "ns").to_json()

    with_client(db_url, go)


# -------------------------------------------------------------- new input checks
def test_parse_search_attributes() -> None:
    assert commands.parse_search_attributes([]) is None
    assert commands.parse_search_attributes(['customer="acme"', "amount=150", "vip=true",
                                             "tags=[1, 2]", "x.y-z=null"]) == {
        "customer": "acme", "amount": 150, "vip": True, "tags": [1, 2], "x.y-z": None,
    }
    assert commands.parse_search_attributes(['expr="a=b"']) == {"expr": "a=b"}
    for bad, error in [
        (["novalue"], hs.UsageError),
        (["=1"], hs.UsageError),
        (["customer=acme"], hs.PayloadError),
        (['status="x"'], hs.UsageError),
        (['type="x"'], hs.UsageError),
        (["and=1"], hs.UsageError),
        (["1st=1"], hs.UsageError),
        (["a b=1"], hs.UsageError),
        (["a=1", "a=2"], hs.UsageError),
    ]:
        with pytest.raises(error):
            commands.parse_search_attributes(bad)


def test_check_filter() -> None:
    commands.check_filter('customer = "acme" AND amount > 100 OR NOT vip = true')
    commands.check_filter('status IN ("RUNNING", "FAILED") AND closed_at = null')
    commands.check_filter('created_at >= "2026-01-01T00:00:00+00:00" AND type != "x"')
    with pytest.raises(FilterError) as caught:
        commands.check_filter("amount >")
    assert caught.value.position == 8
    for bad, match in [
        ("created_at > 5", "ISO-8601"),
        ('created_at > "yesterday"', "ISO-8601"),
        ('created_at IN ("2026-01-01")', "IN"),
        ("closed_at > null", "null"),
        ('status = "running"', "upper case"),
        ('status = "SLEEPING"', "unknown status"),
        ("workflow_id = 7", "quote"),
        ("type IN ('a', null)", "null"),
    ]:
        with pytest.raises(commands.BadFilterValueError, match=match):
            commands.check_filter(bad)
    assert issubclass(commands.BadFilterValueError, hs.UsageError)


def test_check_reset_and_call() -> None:
    commands.check_reset(3, None, "buffer")
    commands.check_reset(None, "first_activity", "drop")
    for to_event, to, mode in [(None, None, "buffer"), (1, "first_activity", "buffer"),
                               (0, None, "buffer"), (None, "nowhere", "buffer"),
                               (1, None, "keep")]:
        with pytest.raises(hs.UsageError):
            commands.check_reset(to_event, to, mode)
    commands.check_call("query", "total", [1, "a"], 5.0)
    with pytest.raises(hs.UsageError, match="an update needs a name"):
        commands.check_call("update", "", [], 5.0)
    with pytest.raises(hs.UsageError, match="timeout"):
        commands.check_call("query", "total", [], 0)
    with pytest.raises(hs.PayloadError):
        commands.check_call("query", "total", [object()], 5.0)


# ------------------------------------------------------------- queries and updates
def test_query_and_update(db_url: str, app_worker: hs.Worker) -> None:
    async def go(client: hs.AsyncClient) -> None:
        started = await commands.start(client, "tally", [2], id="t")
        answer = await commands.query(client, "t", "total")
        assert answer.result == 2 and answer.run_id == started.run_id
        assert answer.to_json()["query"] == "total" and answer.status == "RUNNING"
        reached = await commands.query(client, started.run_id, "has_reached", [2])
        assert reached.result is True and reached.args == [2]

        outcome = await commands.update(client, "t", "add", [3], update_id="u")
        assert outcome.result == 5 and outcome.update_id == "u"
        again = await commands.update(client, "t", "add", [3], update_id="u")
        assert again.result == 5  # not applied twice
        fresh = await commands.update(client, "t", "add", [1])
        assert fresh.result == 6 and uuid.UUID(fresh.update_id)
        assert fresh.to_json()["args"] == [1]

        with pytest.raises(hs.UnknownQueryError):
            await commands.query(client, "t", "nope")
        with pytest.raises(hs.UpdateRejectedError):
            await commands.update(client, "t", "add", [0])
        with pytest.raises(hs.UpdateFailedError):
            await commands.update(client, "t", "broken")
        with pytest.raises(hs.UsageError):
            await commands.update(client, "t", "add", [1], update_id="")
        with pytest.raises(hs.RunNotFoundError):
            await commands.query(client, "nobody", "total")
        assert (await commands.update(client, "t", "close")).result == 6
        assert await client.result("t", 20) == 6

    with_client(db_url, go)


# ------------------------------------------------------------- start options
def test_start_policies_and_options(db_url: str, app_worker: hs.Worker) -> None:
    async def go(client: hs.AsyncClient) -> None:
        first = await commands.start(
            client, "tally", [], id="t", search_attributes={"team": "core"}, memo=[1, 2],
        )
        assert first.started and first.replaced_run_id is None
        same = await commands.start(client, "tally", [], id="t", id_conflict_policy="use_existing")
        assert not same.started and same.run_id == first.run_id
        assert same.to_json()["started"] is False and "signal" not in same.to_json()
        with pytest.raises(hs.WorkflowAlreadyStartedError):
            await commands.start(client, "tally", [], id="t")
        replaced = await commands.start(
            client, "tally", [], id="t", id_reuse_policy="terminate_if_running"
        )
        assert replaced.started and replaced.replaced_run_id == first.run_id
        assert replaced.to_json()["replaced_run_id"] == first.run_id
        old = await commands.show(client, first.run_id)
        assert old.status == "TERMINATED"
        assert old.search_attributes == {"team": "core"} and old.memo == [1, 2]

        with pytest.raises(hs.UsageError, match="reserved"):
            await commands.start(client, "tally", [], search_attributes={"status": "x"})
        with pytest.raises(hs.DurationError):
            await commands.start(client, "tally", [], start_delay="soon")
        with pytest.raises(hs.UsageError, match="terminate_if_running"):
            await commands.signal_with_start(
                client, "inbox", [1], id="box", signal="item",
                id_reuse_policy="terminate_if_running",
            )

    with_client(db_url, go)
    assert sql(db_url, "SELECT count(*) FROM harvest.runs") == [(2,)]


def test_list_runs_with_query(db_url: str, app_worker: hs.Worker) -> None:
    async def go(client: hs.AsyncClient) -> None:
        for wid, customer, amount in (("a", "acme", 150), ("b", "acme", 5), ("c", "x", 500)):
            s = await commands.start(client, "tagged", [customer, amount], id=wid)
            await commands.result(client, s.run_id, timeout=20)
        page = await commands.list_runs(client, query='customer = "acme" AND amount > 100')
        assert [r.workflow_id for r in page] == ["a"]
        page = await commands.list_runs(client, query="amount > 100", status="completed")
        assert sorted(r.workflow_id for r in page) == ["a", "c"]
        with pytest.raises(FilterError):
            await commands.list_runs(client, query="amount >")
        with pytest.raises(commands.BadFilterValueError):
            await commands.list_runs(client, query="created_at > 5")

    with_client(db_url, go)


# ------------------------------------------------------------- reset, retry, rerun
def test_reset_reports(db_url: str, app_worker: hs.Worker) -> None:
    async def go(client: hs.AsyncClient) -> None:
        started = await commands.start(client, "collector", [1], id="col")
        await wait_for_event(client, "col", "ActivityCompleted")
        history = await client.history("col")
        scheduled = next(e.seq for e in history if e.event_type == "ActivityScheduled")
        completed = next(e.seq for e in history if e.event_type == "ActivityCompleted")

        dry = await commands.reset(client, "col", to_event=scheduled, dry_run=True)
        assert not dry.valid and not dry.applied and dry.dry_run
        assert dry.boundary_event == "ActivityScheduled"
        assert (dry.nearest_valid_before, dry.nearest_valid_after) == (1, completed)
        assert dry.to_json()["valid_points"] == [1, completed]
        refused = await commands.reset(client, "col", to_event=scheduled)
        assert not refused.applied and not refused.dry_run and refused.new_run_id is None

        named = await commands.reset(client, "col", to="last_workflow_task", dry_run=True)
        assert named.valid and named.boundary == completed

        done = await commands.reset(client, "col", to_event=completed, reason="again")
        assert done.applied and done.new_run_id and done.source_terminated
        assert (await commands.show(client, "col")).reset_from == started.run_id
        await commands.signal(client, "col", "item", "x")
        assert await client.result("col", 20) == ["GO!", "x"]

        nap = await commands.start(client, "napper", [0])
        await commands.result(client, nap.run_id, timeout=20)
        with pytest.raises(commands.NoResetPointError, match="never scheduled"):
            await commands.reset(client, nap.run_id, to="first_activity")
        with pytest.raises(commands.NoResetPointError, match="no failed activity"):
            await commands.retry(client, nap.run_id)
        assert not issubclass(commands.NoResetPointError, hs.UsageError)

    with_client(db_url, go)


def test_retry_and_rerun(db_url: str, app_worker: hs.Worker) -> None:
    async def go(client: hs.AsyncClient) -> None:
        cli_app.switch["fail"] = True
        try:
            started = await commands.start(client, "pipeline", [2], id="p")
            assert not (await commands.result(client, "p", timeout=20)).ok
            cli_app.switch["fail"] = False
            report = await commands.retry(client, "p")
            assert report.new_run_id is not None
            assert await client.result(report.new_run_id, 20) == 20
        finally:
            cli_app.switch["fail"] = True
        assert report.applied and report.action == "retry" and not report.source_terminated
        assert report.run_id == started.run_id and report.status == "FAILED"

        again = await commands.rerun(client, "p")
        assert again.rerun_of == report.new_run_id and again.workflow_id == "p"
        assert again.to_json()["rerun_of"] == report.new_run_id
        rerun_outcome = await commands.result(client, again.run_id, timeout=20)
        assert rerun_outcome.status == "FAILED"  # the switch is back on
        with pytest.raises(hs.RunNotFoundError):
            await commands.rerun(client, "nobody")

    with_client(db_url, go)


# ------------------------------------------------------------- trees and chains
def test_children_are_depth_first_in_start_order(db_url: str, app_worker: hs.Worker) -> None:
    async def go(client: hs.AsyncClient) -> None:
        await commands.start(client, "family", [[2, 1, 0]], id="fam")
        assert await client.result("fam", 30) == [20, 21, 0]
        tree = await commands.children(client, "fam")
        assert [r.workflow_id for r in tree.runs][:3] == ["fam", "fam-kid-0", "fam-kid-1"]
        assert tree.runs[3].workflow_type == "kid" and tree.runs[3].parent_run_id == (
            tree.runs[2].run_id
        )
        assert tree.runs[4].workflow_id == "fam-kid-2"
        assert tree.depths == [0, 1, 1, 2, 1]
        data = tree.to_json()
        assert data["workflow_id"] == "fam" and [r["depth"] for r in data["runs"]] == [
            0, 1, 1, 2, 1,
        ]
        alone = await commands.children(client, "fam-kid-2")
        assert len(alone.runs) == 1 and alone.depths == [0]

        await commands.start(client, "looper", [2, 0], id="loop")
        assert await client.result("loop", 30) == 3
        chain = await commands.chain(client, "loop")
        assert [r.status for r in chain.runs] == ["CONTINUED_AS_NEW"] * 2 + ["COMPLETED"]
        assert chain.ref_run_id == chain.last.run_id and chain.workflow_id == "loop"
        first = await commands.chain(client, chain.runs[0].run_id)
        assert first.ref_run_id == chain.runs[0].run_id and len(first.runs) == 3
        single = await commands.chain(client, "fam")
        assert [r.workflow_id for r in single.runs] == ["fam"]

    with_client(db_url, go)


# ------------------------------------------------------------- namespaces
def test_namespaces(db_url: str) -> None:
    async def go(client: hs.AsyncClient) -> None:
        made = await commands.namespace_create(client, "ops", "operations")
        assert made.changed and made.to_json() == {
            "action": "create", "name": "ops", "changed": True, "description": "operations",
        }
        assert not (await commands.namespace_create(client, "ops")).changed
        listing = await commands.namespace_list(client)
        assert [n.name for n in listing.namespaces] == ["default", "ops"]
        assert listing.namespaces[1].description == "operations"
        assert listing.to_json()["namespaces"][1]["runs"] == 0
        with pytest.raises(hs.UsageError):
            await commands.namespace_create(client, "no spaces")
        deleted = await commands.namespace_delete(client, "ops")
        assert deleted.changed and deleted.action == "delete"
        with pytest.raises(commands.NamespaceMissingError):
            await commands.namespace_delete(client, "ops")
        assert not issubclass(commands.NamespaceMissingError, hs.UsageError)
        with pytest.raises(hs.UsageError):
            await commands.namespace_delete(client, "default")

    with_client(db_url, go)
