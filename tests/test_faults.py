"""The engine through database faults: Postgres restarted under load, leases renewed only for
work in hand. Each test runs its own Postgres cluster, restarted from the test."""

from __future__ import annotations

import collections
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

import harvest_studio as hs
from harvest_studio import store
from harvest_studio.store.connection import ensure_migrated, run_sync

from .conftest import FAST, sql

pytestmark = pytest.mark.slow
STEPS = 4


class RestartablePostgres:
    """A private cluster the test may restart (``pg_ctl restart -m fast``: every connection
    is cut, the server is away for a moment, then back on the same socket)."""

    def __init__(self) -> None:
        import pgserver

        self.root = Path(tempfile.mkdtemp(prefix="harvest-faults-", dir="/tmp"))
        self.server = pgserver.get_server(self.root / "pg", cleanup_mode="delete")
        self.url = str(self.server.get_uri())
        self.restarts = 0

    def restart(self) -> None:
        import pgserver

        pgserver.pg_ctl(
            ["-w", "-m", "fast", "restart"], pgdata=self.server.pgdata,
            user=self.server.system_user, timeout=60,
        )
        self.restarts += 1


@pytest.fixture
def pg() -> Iterator[RestartablePostgres]:
    server = RestartablePostgres()
    run_sync(ensure_migrated(server.url))
    try:
        yield server
    finally:
        server.server.cleanup()


@hs.activity(start_to_close="60s", retry=hs.RetryPolicy(max_attempts=50, initial_interval=0.05))
def step(ctx: hs.ActivityContext, run: int, n: int) -> int:
    time.sleep(0.05)
    return run * 10 + n


@hs.workflow
async def three_steps_and_a_timer(ctx: hs.WorkflowContext, run: int) -> int:
    total = 0
    for n in range(STEPS):
        total += await ctx.execute_activity(step, run, n)
        await ctx.sleep(0.02)
    return total


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except psycopg.OperationalError:
            pass  # the test's own probe met the restart
        time.sleep(0.2)
    raise AssertionError(f"not reached in {timeout:.0f} s: {what}")


def _open_runs(url: str) -> int:
    return int(sql(url, "SELECT count(*) FROM harvest.runs WHERE status = 'RUNNING'")[0][0])


def test_postgres_restarts_under_load_leave_no_run_stuck(pg: RestartablePostgres) -> None:
    """Eight restarts while 300 runs are in flight, workers never restarted: every run ends,
    once, with each activity completed once and each timer fired once."""
    runs = 300
    client = hs.connect(pg.url)
    worker = hs.Worker(
        client, workflows=[three_steps_and_a_timer], activities=[step],
        **{**FAST, "lease_seconds": 3.0},
    )
    worker.start()
    try:
        for i in range(runs):
            client.start(three_steps_and_a_timer, i, id=f"r{i}")
        stop = threading.Event()
        open_at_restart: list[int] = []

        def chaos() -> None:
            while pg.restarts < 8 and not stop.is_set():
                time.sleep(0.5)
                open_at_restart.append(_open_runs(pg.url))
                pg.restart()

        restarter = threading.Thread(target=chaos, daemon=True)
        restarter.start()
        restarter.join(timeout=120)
        stop.set()
        assert pg.restarts == 8
        assert sum(n > 0 for n in open_at_restart) >= 4, open_at_restart  # faults hit work
        _wait(lambda: _open_runs(pg.url) == 0, 60, "every run closed without a worker restart")
    finally:
        worker.stop()
        client.close()

    statuses = dict(sql(pg.url, "SELECT status, count(*) FROM harvest.runs GROUP BY status"))
    assert statuses == {"COMPLETED": runs}
    terminal = sql(
        pg.url,
        "SELECT run_id, count(*) FROM harvest.history WHERE event_type IN ('WorkflowCompleted',"
        " 'WorkflowFailed', 'WorkflowTimedOut', 'WorkflowTerminated', 'WorkflowCancelled')"
        " GROUP BY run_id HAVING count(*) <> 1",
    )
    assert terminal == []
    completions = collections.Counter(
        n for (n,) in sql(
            pg.url,
            "SELECT count(*) FROM harvest.history WHERE event_type = 'ActivityCompleted'"
            " GROUP BY run_id, payload->>'scheduled_seq'",
        )
    )
    assert completions == {1: runs * STEPS}
    fired = sql(
        pg.url,
        "SELECT count(*) FROM harvest.history WHERE event_type = 'TimerFired' GROUP BY run_id",
    )
    assert [n for (n,) in fired] == [STEPS] * runs
    results = dict(sql(pg.url, "SELECT workflow_id, result FROM harvest.runs"))
    assert results == {f"r{i}": i * 10 * STEPS + sum(range(STEPS)) for i in range(runs)}


def test_leases_are_renewed_only_for_tasks_in_hand(pg: RestartablePostgres) -> None:
    """A task this worker lost track of (a batch that failed) is not kept alive by renewal:
    its lease runs out and another worker can reclaim it."""
    client = hs.connect(pg.url)
    try:
        client.start(three_steps_and_a_timer, 1, id="held", force=True)
        client.start(three_steps_and_a_timer, 2, id="forgotten", force=True)
    finally:
        client.close()

    async def scenario(conn: psycopg.AsyncConnection[Any]) -> dict[str, float]:
        rows = await store.claim_tasks(
            conn, worker_id="w1", namespace="default", queues=["default"],
            workflows=["three_steps_and_a_timer"], activities=[], limit=10, lease_seconds=1.0,
        )
        assert len(rows) == 2
        ids = dict(sql(pg.url, "SELECT run_id::text, workflow_id FROM harvest.runs"))
        held = [(int(r["task_id"]), int(r["attempt"])) for r in rows
                if ids[str(r["run_id"])] == "held"]
        renewed = await store.renew_leases(conn, "w1", held, 60.0)
        assert renewed == 1
        left = dict(sql(
            pg.url,
            "SELECT r.workflow_id, extract(epoch FROM t.lease_expires_at - now())"
            " FROM harvest.tasks t JOIN harvest.runs r USING (run_id)",
        ))
        return {k: float(v) for k, v in left.items()}

    async def go() -> dict[str, float]:
        async with await psycopg.AsyncConnection.connect(pg.url, autocommit=True) as conn:
            return await scenario(conn)

    left = run_sync(go())
    assert left["held"] > 50 and left["forgotten"] <= 1.0


# ---------------------------------------------------------------------------------------
# contention: one lock order, retries at transaction boundaries, typed errors
# ---------------------------------------------------------------------------------------
@hs.activity(start_to_close="30s")
def note(ctx: hs.ActivityContext, item: int) -> int:
    return item


@hs.workflow
async def ledger(ctx: hs.WorkflowContext, expected: int) -> int:
    """Takes signals and updates at once; each signal and update runs an activity."""
    state = {"total": 0, "seen": 0}

    async def add(amount: int) -> int:
        value = await ctx.execute_activity(note, amount)  # read the total after the await
        state["total"] += value
        return int(state["total"])

    ctx.set_update_handler("add", add)
    while state["seen"] < expected:
        item = await ctx.wait_signal("item")
        state["seen"] += 1
        value = await ctx.execute_activity(note, item)
        state["total"] += value
    await ctx.wait_signal("done")  # sent once every update has returned
    return int(state["total"])


def _deadlocks(url: str) -> int:
    return int(sql(url, "SELECT deadlocks FROM pg_stat_database"
                        " WHERE datname = current_database()")[0][0])


def _burst(count: int, fn: Callable[[int], Any]) -> list[Any]:
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            results[i] = fn(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:3]
    return results


def test_signal_and_update_bursts_against_decisions(
    client: hs.Client, start_worker: Any, db_url: str
) -> None:
    """Signals and updates sent from many threads while the run decides and runs activities:
    every one lands once, no caller sees a database error, and Postgres records no deadlock."""
    start_worker(workflows=[ledger], activities=[note])
    senders, per_sender, updates = 6, 25, 12
    run = client.start(ledger, senders * per_sender, id="ledger")
    before = _deadlocks(db_url)

    def send(i: int) -> None:
        for n in range(per_sender):
            client.signal("ledger", "item", 1, idempotency_key=f"{i}-{n}")

    def update(i: int) -> int:
        return int(client.update("ledger", "add", 1000, update_id=f"u{i}", timeout=60))

    done = threading.Thread(target=_burst, args=(senders, send))
    done.start()
    totals = _burst(updates, update)
    done.join(timeout=120)
    client.signal("ledger", "done")
    assert run.result(timeout=60) == senders * per_sender + updates * 1000
    assert len(set(totals)) == updates  # each update saw the total after its own addition
    received = sql(
        db_url,
        "SELECT count(*) FROM harvest.history"
        " WHERE event_type = 'SignalReceived' AND payload->>'name' = 'item'",
    )[0][0]
    assert received == senders * per_sender
    assert _deadlocks(db_url) == before


def test_client_calls_ride_out_a_restart(pg: RestartablePostgres) -> None:
    """Reads and idempotent writes during a Postgres restart are retried as a whole; none
    reaches the caller as a driver error."""
    client = hs.connect(pg.url)
    try:
        client.start(three_steps_and_a_timer, 1, id="steady", force=True)
        failures: list[BaseException] = []
        stop = threading.Event()

        def poll() -> None:
            n = 0
            while not stop.is_set():
                try:
                    assert client.describe("steady").status == "RUNNING"
                    client.signal("steady", "ping", n, idempotency_key=f"p{n}")
                    n += 1
                except BaseException as exc:
                    failures.append(exc)
                    return

        poller = threading.Thread(target=poll)
        poller.start()
        for _ in range(3):
            time.sleep(0.4)
            pg.restart()
        time.sleep(0.4)
        stop.set()
        poller.join(timeout=60)
        assert not failures, failures
    finally:
        client.close()


def test_a_database_that_stays_away_gives_a_typed_error(pg: RestartablePostgres) -> None:
    import pgserver

    client = hs.connect(pg.url)
    try:
        client.start(three_steps_and_a_timer, 1, id="alone", force=True)
        pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pg.server.pgdata,
                        user=pg.server.system_user, timeout=60)
        with pytest.raises(hs.DatabaseUnavailableError) as caught:
            client.describe("alone")
        assert caught.value.code == "database_unavailable"
        assert "gave up" in str(caught.value)
        with pytest.raises(hs.DatabaseUnavailableError):
            client.signal("alone", "ping", 1)
    finally:
        pgserver.pg_ctl(["-w", "start"], pgdata=pg.server.pgdata,
                        user=pg.server.system_user, timeout=60)
        client.close()


@hs.activity(start_to_close="60s", queue="narrow",
             retry=hs.RetryPolicy(max_attempts=50, initial_interval=0.05))
def narrow_step(ctx: hs.ActivityContext, run: int) -> int:
    began = time.monotonic()
    time.sleep(0.05)
    with _spans_lock:
        _spans.append((began, time.monotonic()))
    return run


_spans: list[tuple[float, float]] = []
_spans_lock = threading.Lock()


@hs.workflow
async def through_the_narrow_queue(ctx: hs.WorkflowContext, run: int) -> int:
    return await ctx.execute_activity(narrow_step, run)


def test_throttled_claims_through_restarts(pg: RestartablePostgres) -> None:
    """A queue capped at 3 running attempts and rate limited, two workers, Postgres
    restarted three times: every run completes and the cap is never exceeded."""
    runs, cap = 120, 3
    _spans.clear()
    client = hs.connect(pg.url)
    workers = [
        hs.Worker(client, workflows=[through_the_narrow_queue], activities=[narrow_step],
                  queues=["default", "narrow"], **{**FAST, "lease_seconds": 10.0})
        for _ in range(2)
    ]
    try:
        client.set_limits(queue="narrow", max_concurrent=cap, rate=100, burst=10)
        for worker in workers:
            worker.start()
        for i in range(runs):
            client.start(through_the_narrow_queue, i)
        for _ in range(3):
            time.sleep(0.7)
            pg.restart()
        _wait(lambda: _open_runs(pg.url) == 0, 90, "every run closed")
    finally:
        for worker in workers:
            worker.stop()
        client.close()
    assert dict(sql(pg.url, "SELECT status, count(*) FROM harvest.runs GROUP BY status")) == {
        "COMPLETED": runs
    }
    edges = sorted([(a, 1) for a, _ in _spans] + [(b, -1) for _, b in _spans])
    running = peak = 0
    for _, step_ in edges:
        running += step_
        peak = max(peak, running)
    assert peak <= cap, peak


# ---------------------------------------------------------------------------------------
# chaos: worker processes SIGKILLed and Postgres restarted, over and over
# ---------------------------------------------------------------------------------------
def test_chaos_kills_and_restarts(pg: RestartablePostgres) -> None:
    """Runs of activities, timers and signals across three worker processes while workers are
    SIGKILLed (and replaced) and Postgres is restarted: every run completes, with one
    terminal event, one completion per activity, each timer once and never early, and each
    signal once."""
    import os
    import random
    import signal as signals
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "HARVEST_DATABASE_URL": pg.url}

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.apps.run_worker", "tests.apps.chaos_app"],
            cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    runs = 200
    chance = random.Random(7)
    client = hs.connect(pg.url)
    workers = [spawn() for _ in range(3)]
    kills = 0
    try:
        from .apps.chaos_app import chaos_flow

        for i in range(runs):
            client.start(chaos_flow, i, id=f"c{i}")
        deadline = time.monotonic() + 10
        signalled = 0
        # ten seconds of faults, and at least two of each kind however slow the machine
        # (a slow one fits fewer rounds in ten seconds, and the coin may favour one kind)
        while time.monotonic() < deadline or kills < 2 or pg.restarts < 2:
            # signal a slice of the runs (each exactly once, with a key), then a fault
            for i in range(signalled, min(runs, signalled + 20)):
                client.signal(f"c{i}", "go", 2, idempotency_key=f"go-{i}")
            signalled = min(runs, signalled + 20)
            time.sleep(0.6)
            if chance.random() < 0.5:
                victim = chance.randrange(len(workers))
                workers[victim].send_signal(signals.SIGKILL)
                workers[victim].wait()
                workers[victim] = spawn()
                kills += 1
            else:
                pg.restart()
        for i in range(signalled, runs):
            client.signal(f"c{i}", "go", 2, idempotency_key=f"go-{i}")
        assert kills >= 2 and pg.restarts >= 2, (kills, pg.restarts)
        _wait(lambda: _open_runs(pg.url) == 0, 120, "every run closed")
    finally:
        for proc in workers:
            proc.kill()
            proc.wait()
        client.close()

    assert dict(sql(pg.url, "SELECT status, count(*) FROM harvest.runs GROUP BY status")) == {
        "COMPLETED": runs
    }
    per_run = sql(
        pg.url,
        "SELECT run_id,"
        " count(*) FILTER (WHERE event_type = 'WorkflowCompleted'),"
        " count(*) FILTER (WHERE event_type = 'ActivityCompleted'),"
        " count(DISTINCT payload->>'scheduled_seq')"
        " FILTER (WHERE event_type = 'ActivityCompleted'),"
        " count(*) FILTER (WHERE event_type = 'TimerFired'),"
        " count(*) FILTER (WHERE event_type = 'SignalReceived')"
        " FROM harvest.history GROUP BY run_id",
    )
    assert len(per_run) == runs
    assert {tuple(r[1:]) for r in per_run} == {(1, 3, 3, 1, 1)}
    early = sql(
        pg.url,
        "SELECT f.run_id FROM harvest.history f JOIN harvest.history s"
        " ON s.run_id = f.run_id AND s.seq = (f.payload->>'started_seq')::int"
        " WHERE f.event_type = 'TimerFired' AND f.at < (s.payload->>'fire_at')::timestamptz",
    )
    assert early == []
    results = dict(sql(pg.url, "SELECT workflow_id, result FROM harvest.runs"))
    assert results == {f"c{i}": 3 * i + 6 for i in range(runs)}


# ---------------------------------------------------------------------------------------
# schedulers killed: every slot starts exactly once, none early
# ---------------------------------------------------------------------------------------
def test_scheduler_chaos_every_slot_once(pg: RestartablePostgres) -> None:
    """Three worker processes run the scheduler of a 1-second schedule while they are
    SIGKILLed at random (and replaced): every one of its 200 slots starts exactly one run,
    none before its time."""
    import os
    import random
    import signal as signals
    import subprocess
    import sys
    from datetime import UTC, datetime, timedelta

    slots = 200
    first = (datetime.now(UTC) + timedelta(seconds=4)).replace(microsecond=0)
    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ, "HARVEST_DATABASE_URL": pg.url,
        "HARVEST_TEST_SLOTS_FROM": first.isoformat(), "HARVEST_TEST_SLOTS": str(slots),
    }

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.apps.run_worker", "tests.apps.schedule_app"],
            cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    chance = random.Random(11)
    workers = [spawn() for _ in range(3)]
    kills = 0
    try:
        end = first + timedelta(seconds=slots + 2)
        while datetime.now(UTC) < end:
            time.sleep(chance.uniform(0.5, 2.5))
            victim = chance.randrange(len(workers))
            workers[victim].send_signal(signals.SIGKILL)
            workers[victim].wait()
            workers[victim] = spawn()
            kills += 1
        _wait(
            lambda: int(sql(pg.url, "SELECT count(*) FROM harvest.runs")[0][0]) >= slots,
            60, "every slot started",
        )
        time.sleep(2.0)  # a duplicate, if any, would show up now
    finally:
        for proc in workers:
            proc.kill()
            proc.wait()
    assert kills >= 50
    rows = sql(
        pg.url,
        "SELECT (search_attributes->>'scheduled_at')::timestamptz AS slot, created_at"
        " FROM harvest.runs ORDER BY 1",
    )
    started = [slot for slot, _ in rows]
    assert started == [first + timedelta(seconds=i) for i in range(slots)]  # each once, all
    assert all(created >= slot for slot, created in rows)  # never early
    assert sql(pg.url, "SELECT state, count(*) FROM harvest.schedule_slots GROUP BY 1") == [
        ("started", slots)
    ]
