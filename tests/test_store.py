"""The store: migrations, append-only history, claiming and fencing, straight on SQL."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

import harvest_studio as hs
from harvest_studio import store
from harvest_studio.store.connection import ensure_migrated, migration_status, run_sync

from .conftest import sql


@hs.activity
def noop(ctx: hs.ActivityContext) -> None:
    return None


@hs.workflow
async def one_step(ctx: hs.WorkflowContext) -> None:
    await ctx.execute_activity(noop)


async def _conn(url: str) -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(url, autocommit=True)


def test_concurrent_migrations_are_safe(pg_server_url: str) -> None:
    name = "t_concurrent_migrate"
    sql(pg_server_url, f"DROP DATABASE IF EXISTS {name}")
    sql(pg_server_url, f"CREATE DATABASE {name}")
    url = make_conninfo(pg_server_url, dbname=name)
    errors: list[BaseException] = []

    async def migrate() -> None:
        conn = await _conn(url)
        try:
            await store.migrate(conn)
        finally:
            await conn.close()

    def go() -> None:
        try:
            asyncio.run(migrate())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    status = run_sync(migration_status(url))
    versions = [m.version for m in store.available_migrations()]
    assert [m["version"] for m in status["applied"]] == versions and status["pending"] == []
    run_sync(ensure_migrated(url))
    sql(pg_server_url, f"DROP DATABASE {name} WITH (FORCE)")


def test_history_is_append_only(client: hs.Client, db_url: str) -> None:
    run = client.start(one_step, force=True)
    with pytest.raises(psycopg.errors.RestrictViolation):
        sql(db_url, "UPDATE harvest.history SET payload = '{}'")
    with pytest.raises(psycopg.errors.RestrictViolation):
        sql(db_url, "DELETE FROM harvest.history")
    with pytest.raises(psycopg.errors.RestrictViolation):
        sql(db_url, "TRUNCATE harvest.history")
    with pytest.raises(psycopg.errors.UniqueViolation):
        sql(
            db_url,
            "INSERT INTO harvest.history (run_id, seq, event_type, at, payload)"
            " VALUES (%s, 1, 'MarkerRecorded', now(), '{}')",
            (run.run_id,),
        )


def claim(url: str, worker: str, limit: int = 10, kinds: str = "workflow") -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        conn = await _conn(url)
        try:
            return await store.claim_tasks(
                conn,
                worker_id=worker,
                namespace="default",
                queues=["default"],
                workflows=["one_step"] if kinds == "workflow" else [],
                activities=["noop"] if kinds == "activity" else [],
                limit=limit,
                lease_seconds=30,
            )
        finally:
            await conn.close()

    return run_sync(go())


def test_concurrent_claims_are_disjoint(client: hs.Client, db_url: str) -> None:
    for _ in range(40):
        client.start(one_step, force=True)
    results: dict[str, list[int]] = {}

    def go(name: str) -> None:
        got: list[int] = []
        while rows := claim(db_url, name, limit=3):
            got += [r["task_id"] for r in rows]
        results[name] = got

    threads = [threading.Thread(target=go, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [t for got in results.values() for t in got]
    assert len(claimed) == 40 and len(set(claimed)) == 40


def test_stale_owner_cannot_write_after_reclaim(client: hs.Client, db_url: str) -> None:
    run = client.start(one_step, force=True)
    sql(
        db_url,
        "INSERT INTO harvest.tasks (namespace, kind, run_id, type_name, queue, state,"
        " activity_seq, input, retry_policy) VALUES ('default', 'activity', %s, 'noop',"
        " 'default', 'PENDING', 2, '[]', '{}')",
        (run.run_id,),
    )
    [stale] = claim(db_url, "worker-a", kinds="activity")
    # worker-a goes silent: its lease expires and the task is reclaimed for worker-b
    sql(db_url, "UPDATE harvest.tasks SET lease_expires_at = now() - interval '1s'"
        " WHERE task_id = %s", (stale["task_id"],))

    async def reclaim() -> tuple[int, int]:
        conn = await _conn(db_url)
        try:
            return await store.reclaim_expired_leases(conn)
        finally:
            await conn.close()

    assert run_sync(reclaim()) == (1, 0)
    [fresh] = claim(db_url, "worker-b", kinds="activity")
    assert fresh["task_id"] == stale["task_id"] and fresh["attempt"] == stale["attempt"] + 1

    def complete(worker: str, attempt: int) -> set[int]:
        outcome = store.ActivityOutcome(
            task_id=stale["task_id"], worker_id=worker, attempt=attempt, final=True,
            events=[("ActivityCompleted", '{"scheduled_seq": 2, "attempt": 1, "result": 1}')],
        )

        async def go() -> set[int]:
            conn = await _conn(db_url)
            try:
                return (await store.apply_activity_outcomes(conn, [outcome])).ended
            finally:
                await conn.close()

        return run_sync(go())

    assert complete("worker-a", stale["attempt"]) == set()
    assert sql(db_url, "SELECT count(*) FROM harvest.inbox") == [(0,)]
    assert complete("worker-b", fresh["attempt"]) == {stale["task_id"]}
    assert sql(db_url, "SELECT count(*) FROM harvest.inbox") == [(1,)]
    assert complete("worker-b", fresh["attempt"]) == set()  # and only once


def test_claim_of_a_dirty_task_reports_an_inbox(client: hs.Client, db_url: str) -> None:
    """A signal that commits between a claim's snapshot and its lock on the task is seen
    only through the task's ``dirty`` flag (the snapshot misses the inbox row). The claim
    clears the flag, so it must report the inbox; else the fresh run's first decision
    closes its task and the signal waits for ever. The race is recreated here by marking
    the task dirty with no inbox row the claim could see."""
    run = client.start(one_step, force=True)
    [quiet] = claim(db_url, "worker-a")
    assert quiet["first_event"] is not None and quiet["has_inbox"] is False
    sql(db_url, "UPDATE harvest.tasks SET state = 'PENDING', worker_id = NULL, dirty = true"
        " WHERE run_id = %s", (run.run_id,))
    [woken] = claim(db_url, "worker-b")
    assert woken["has_inbox"] is True
    assert sql(db_url, "SELECT dirty FROM harvest.tasks WHERE run_id = %s", (run.run_id,)) == [
        (False,)
    ]
