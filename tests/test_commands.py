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
        workflows=[cli_app.greet, cli_app.doomed, cli_app.napper],
        activities=[cli_app.shout, cli_app.explode],
    )


# ------------------------------------------------------------------------- input parsing
def test_parse_json_args() -> None:
    assert commands.parse_json_args(['"ada"', "42", '{"a": [1, null]}', "true"]) == [
        "ada", 42, {"a": [1, None]}, True,
    ]
    with pytest.raises(hs.PayloadError, match="argument 2"):
        commands.parse_json_args(["1", "ada"])


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
    assert sorted(w.name for w in app.workflows) == ["doomed", "drifting", "greet", "napper"]
    assert sorted(a.name for a in app.activities) == ["explode", "shout"]
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
