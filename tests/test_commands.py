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
from harvest_studio import _commands as commands
from harvest_studio import _store

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
                   cli_app.inbox, cli_app.approval],
        activities=[cli_app.shout, cli_app.explode, cli_app.book, cli_app.unbook],
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
        commands.check_signal("go", {1, 2})


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
        "approval", "doomed", "drifting", "greet", "inbox", "napper", "trip",
    ]
    assert sorted(a.name for a in app.activities) == ["book", "explode", "shout", "unbook"]
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
    known = [{"version": m.version, "name": m.name} for m in _store.available_migrations()]
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
            await commands.signal(client, "nobody", "item", {1})

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
