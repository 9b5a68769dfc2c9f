"""The scheduler every worker runs: it locks due schedules (``SKIP LOCKED``: any number of
workers share the work) and decides their slots, up to 50 schedules per transaction —
catch-up, overlap, buffering, failure counting — starting each fired slot's run in the
statement that records the slot. So a slot starts at most one run (the slot key), never
before its time (the database clock decides what is due), and a fired slot always has its
run. The batch's schedule changes and log entries are written at its end, one statement
each."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

import psycopg

from ... import store
from ...model.schedules import LATE_AFTER, MAX_SLOTS, ScheduleSpec, kept_by_catchup
from .. import telemetry
from .core import WorkerCore

log = logging.getLogger("harvest_studio.worker")
BATCH = 50
HELPERS = 4  # batches decided side by side when many schedules are due at once
FAILED_STATUSES = {"FAILED", "TIMED_OUT", "TERMINATED", "CANCELLED"}
TAKEN = "a run with this slot's workflow id is still open"


class Journal:
    """What one batch writes at its end, one statement each: the decision log entries and
    the schedules' changed fields."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.entries: list[tuple[str, str, datetime | None, str | None, str | None]] = []
        self.changes: dict[str, dict[str, Any]] = {}

    def add(
        self,
        schedule: str,
        action: str,
        *,
        slot: datetime | None = None,
        run_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.entries.append((schedule, action, slot, run_id, detail))

    def change(self, schedule: str, fields: dict[str, Any]) -> None:
        self.changes[schedule] = {**self.changes.get(schedule, {}), **fields}

    def drop(self, schedule: str) -> None:
        """Forget a schedule's entries and changes (its decisions were rolled back)."""
        self.entries = [e for e in self.entries if e[0] != schedule]
        self.changes.pop(schedule, None)

    async def write(self, conn: psycopg.AsyncConnection[Any]) -> None:
        await store.update_schedules(conn, self.namespace, list(self.changes.items()))
        if self.entries:
            await store.log_schedule_entries(conn, self.namespace, self.entries)
            telemetry.schedule_started(self.namespace, [
                (name, slot) for name, action, slot, _, _ in self.entries
                if action == "started" and slot is not None])


class Scheduler:
    def __init__(self, core: WorkerCore) -> None:
        self.core = core

    async def loop(self) -> None:
        core = self.core
        while True:
            wait = core.options.poll_interval
            try:
                # a full batch means more are due: the next batches are decided side by
                # side on their own connections (SKIP LOCKED keeps them apart)
                handled = await self._pass(1)
                while handled >= BATCH:
                    handled = await self._pass(HELPERS)
                async with core.pool.connection() as conn:
                    soonest = await store.next_fire_at(conn, core.namespace)
                    now = await _now(conn)
                if soonest is not None:
                    wait = max(0.0, min(wait, (soonest - now).total_seconds()))
            except psycopg.Error as exc:
                log.warning("scheduler pass failed (%s); trying again", exc)
            await asyncio.sleep(wait + 0.002)

    async def _pass(self, parallel: int) -> int:
        """``parallel`` batches at once; returns the most schedules one of them decided."""

        async def one() -> int:
            async with self.core.pool.connection() as conn:
                return await self.tick(conn)

        counts = await asyncio.gather(*(one() for _ in range(parallel)))
        return max(counts)

    async def tick(self, conn: psycopg.AsyncConnection[Any]) -> int:
        """Decide every due schedule once; returns how many were looked at. A batch is one
        transaction; if a schedule in it fails, the batch is decided again with a savepoint
        around each schedule, so the others go on while that one waits to be looked at."""
        try:
            return await self._batch(conn, isolate=False)
        except psycopg.Error as exc:
            if store.is_transient(exc):
                raise
            return await self._batch(conn, isolate=True)

    async def _batch(self, conn: psycopg.AsyncConnection[Any], *, isolate: bool) -> int:
        registry: dict[str, Any] = {}
        async with conn.transaction():
            rows = await store.lock_due_schedules(conn, self.core.namespace, BATCH)
            journal = Journal(self.core.namespace)
            for row in rows:
                if not isolate:
                    await decide_schedule(conn, self.core.namespace, row, journal, registry)
                    continue
                try:
                    async with conn.transaction():
                        await decide_schedule(conn, self.core.namespace, row, journal, registry)
                except psycopg.Error as exc:
                    if store.is_transient(exc):
                        raise
                    journal.drop(row["name"])
                    log.exception(
                        "schedule %s could not be decided; it is tried again", row["name"]
                    )
            await journal.write(conn)
        return len(rows)


async def _now(conn: psycopg.AsyncConnection[Any]) -> datetime:
    cur = await conn.execute("SELECT harvest.now()")
    row = await cur.fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


async def decide_schedule(
    conn: psycopg.AsyncConnection[Any],
    namespace: str,
    row: Any,
    journal: Journal,
    registry: dict[str, Any] | None = None,
) -> None:
    """One locked schedule: count its last run's outcome, start a buffered slot whose turn
    came, then decide every slot now due. Call inside a transaction."""
    name = row["name"]
    now: datetime = row["now"]
    spec = ScheduleSpec.from_json(row["spec"])
    changes: dict[str, Any] = {}
    last_status = row["last_status"]
    if (
        row["last_run_id"]
        and row["last_run_id"] != row["counted_run_id"]
        and last_status
        not in (
            None,
            "RUNNING",
        )
    ):
        failures = row["consecutive_failures"] + 1 if last_status in FAILED_STATUSES else 0
        changes.update(consecutive_failures=failures, counted_run_id=row["last_run_id"])
        limit = row["failure_limit"]
        if limit and failures >= limit:
            note = f"paused after {failures} consecutive failed runs"
            changes.update(paused=True, note=note)
            journal.add(name, "auto_paused", detail=note)
            journal.change(name, changes)
            return
    running = last_status == "RUNNING"
    buffered = row["buffered"]
    if buffered and not running:
        slot = await store.oldest_buffered_slot(conn, namespace, name)
        run_id = str(uuid.uuid4())
        if slot is not None and await _start_buffered(
            conn, namespace, row, slot, run_id, journal, registry
        ):
            journal.add(
                name,
                "started",
                slot=slot,
                run_id=run_id,
                detail="buffered slot: the previous run ended",
            )
            changes.update(last_run_id=run_id, runs_started=row["runs_started"] + 1)
            running, buffered = True, buffered - 1
            row = {**row, "runs_started": row["runs_started"] + 1, "last_run_id": run_id}
        else:
            buffered = 0
        changes["buffered"] = buffered
    due: list[datetime] = []
    upcoming: datetime | None = None
    if row["next_slot"] is not None and row["fire_at"] is not None and row["fire_at"] <= now:
        for slot in spec.slots_after(row["next_slot"] - timedelta(microseconds=1)):
            if slot + timedelta(seconds=spec.jitter_for(name, slot)) > now or len(due) >= MAX_SLOTS:
                upcoming = slot
                break
            due.append(slot)
        kept = set(kept_by_catchup(row["catchup"], due, now))
        started = row["runs_started"]
        for slot in due:
            if slot not in kept:
                if await store.claim_slot(conn, namespace, name, slot, "skipped"):
                    journal.add(
                        name,
                        "skipped_catchup",
                        slot=slot,
                        detail=f"missed (catchup {row['catchup']})",
                    )
                continue
            if row["max_runs"] is not None and started >= row["max_runs"]:
                upcoming = None
                journal.add(name, "finished", detail=f"max_runs {row['max_runs']} reached")
                break
            late = (now - slot).total_seconds()
            detail = f"caught up {late:.0f} s late" if late > LATE_AFTER else None
            outcome = await _fire(
                conn, namespace, row, slot, running, buffered, detail, journal, registry
            )
            if outcome is None:
                continue
            action, new_run = outcome
            if action == "buffered":
                buffered += 1
                changes["buffered"] = buffered
            elif new_run is not None:
                started += 1
                running = True
                changes.update(last_run_id=new_run, runs_started=started)
                row = {**row, "last_run_id": new_run}
        changes["last_slot"] = due[-1] if due else row["last_slot"]
        changes["next_slot"] = upcoming
        changes["fire_at"] = spec.fire_at(name, upcoming)
    if changes:
        journal.change(name, changes)


async def _fire(
    conn: psycopg.AsyncConnection[Any],
    namespace: str,
    row: Any,
    slot: datetime,
    running: bool,
    buffered: int,
    detail: str | None,
    journal: Journal,
    registry: dict[str, Any] | None,
) -> tuple[str, str | None] | None:
    """Decide one due slot by the overlap policy; ``(action, run id)``, or ``None`` if the
    slot was decided before (a backfill or another scheduler got there first)."""
    name, policy = row["name"], row["overlap"]
    if (running and policy == "skip") or (running and policy == "buffer_one" and buffered >= 1):
        if await store.claim_slot(conn, namespace, name, slot, "skipped"):
            journal.add(
                name,
                "skipped_overlap",
                slot=slot,
                run_id=row["last_run_id"],
                detail=f"overlap {policy}: still running",
            )
            return "skipped", None
        return None
    if running and policy in ("buffer_one", "buffer_all"):
        if await store.claim_slot(conn, namespace, name, slot, "buffered"):
            journal.add(
                name,
                "buffered",
                slot=slot,
                run_id=row["last_run_id"],
                detail=f"overlap {policy}",
            )
            return "buffered", None
        return None
    run_id = str(uuid.uuid4())
    outcome = await store.claim_and_start_slot(
        conn, namespace, row, slot, run_id, await _registered(conn, namespace, row, registry)
    )
    if outcome == "decided":
        return None
    if running and policy in ("cancel_other", "terminate_other"):
        await store.stop_run(conn, row["last_run_id"], policy, name)
        journal.add(name, policy, slot=slot, run_id=row["last_run_id"])
    if outcome == "taken":
        journal.add(name, "not_started", slot=slot, detail=TAKEN)
        return "skipped", None
    journal.add(name, "started", slot=slot, run_id=run_id, detail=detail)
    return "started", run_id


async def _registered(
    conn: psycopg.AsyncConnection[Any], namespace: str, row: Any, registry: dict[str, Any] | None
) -> Any:
    """The registry row of the schedule's workflow type, read once per batch."""
    workflow_type = row["workflow_type"]
    registered = None if registry is None else registry.get(workflow_type)
    if registered is None:
        registered = await store.registered_workflow(conn, namespace, workflow_type)
        if registry is not None and registered is not None:
            registry[workflow_type] = registered
    return registered


async def _start_buffered(
    conn: psycopg.AsyncConnection[Any],
    namespace: str,
    row: Any,
    slot: datetime,
    run_id: str,
    journal: Journal,
    registry: dict[str, Any] | None,
) -> bool:
    """Start a buffered slot whose turn came. A slot whose workflow id has an open run is
    skipped instead, and logged."""
    name = row["name"]
    await store.mark_slot_started(conn, namespace, name, slot, run_id)
    registered = await _registered(conn, namespace, row, registry)
    if await store.start_slot_run(conn, namespace, row, slot, run_id, registered):
        return True
    await store.unclaim_start(conn, namespace, name, slot)
    journal.add(name, "not_started", slot=slot, detail=TAKEN)
    return False
