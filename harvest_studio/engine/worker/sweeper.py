"""Maintenance: lease renewal, timers, reclaiming dead workers' tasks, activity and run
timeouts, and parent-close policies left over by a failed commit."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import psycopg

from ... import store
from ...model import serde
from ...model.durations import to_seconds
from ...model.events import ActivityStarted, ActivityTimedOut, Event
from ...model.retry import is_retryable, retry_delay
from .. import run_hooks, telemetry
from .core import WorkerCore

log = logging.getLogger("harvest_studio.worker")


class Sweeper:
    def __init__(self, core: WorkerCore) -> None:
        self.core = core

    async def lease_loop(self) -> None:
        core = self.core
        while True:
            await asyncio.sleep(core.options.lease_seconds / 3)
            try:
                async with core.pool.connection() as conn:
                    await store.renew_leases(
                        conn, core.worker_id, sorted(core.held.items()), core.options.lease_seconds
                    )
                    # a drain asked while the listener was reconnecting is seen here
                    if await store.drain_requested(conn, core.worker_id):
                        core.drain.set()
            except psycopg.Error as exc:
                log.warning("lease renewal failed: %s", exc)

    async def timer_loop(self) -> None:
        while True:
            wait = self.core.options.poll_interval
            try:
                async with self.core.pool.connection() as conn:
                    fired = await store.fire_due_timers(conn)
                    if fired:
                        self.core.stats["timers_fired"] += fired
                        continue
                    soonest = await store.seconds_to_next_timer(conn)
                if soonest is not None:
                    wait = max(0.0, min(wait, soonest))
            except psycopg.Error as exc:
                log.warning("timer poll failed: %s", exc)
            try:
                await asyncio.wait_for(self.core.timer_wake.wait(), timeout=wait + 0.001)
            except TimeoutError:
                pass
            self.core.timer_wake.clear()

    async def sla_loop(self) -> None:
        """Look for runs past their type's SLA every few seconds (only with ``slas``)."""
        core = self.core
        slas = [(t, float(to_seconds(s))) for t, s in core.options.slas.items()]
        while slas:
            await asyncio.sleep(max(core.options.maintenance_interval, 0.1) * 5)
            try:
                async with core.pool.connection() as conn:
                    missed = await store.claim_sla_misses(conn, core.namespace, slas)
                if missed:
                    run_hooks.sla_missed(core.options.on_sla_missed, missed)
            except Exception as exc:  # the next look tries again
                log.warning("SLA check failed: %s", exc)

    async def maintenance_loop(self) -> None:
        counted = 0.0
        while True:
            await asyncio.sleep(self.core.options.maintenance_interval)
            now = time.monotonic()
            if telemetry.metrics_enabled() and (
                    now - counted >= self.core.options.queue_depth_interval):
                counted = now
                try:
                    async with self.core.pool.connection() as conn:
                        rows = await store.queue_overview(conn, self.core.namespace)
                    telemetry.set_queue_depths(self.core.namespace, rows, self.core.queues)
                except psycopg.Error as exc:
                    log.warning("counting queues failed: %s", exc)
            try:
                async with self.core.pool.connection() as conn:
                    requeued, quarantined = await store.reclaim_expired_leases(
                        conn, max_strikes=self.core.options.max_crash_strikes
                    )
                    if requeued or quarantined:
                        log.info("reclaimed %d tasks, quarantined %d", requeued, quarantined)
                        self.core.stats["reclaimed"] += requeued
                        self.core.stats["quarantined"] += quarantined
                    await self.sweep_activity_timeouts(conn)
                    await store.apply_parent_close_policies(conn)
                    ended = await store.time_out_runs(conn)
                    for run_id in ended:
                        self.core.evict(run_id)
            except psycopg.Error as exc:
                log.warning("maintenance failed: %s", exc)

    async def sweep_activity_timeouts(self, conn: psycopg.AsyncConnection[Any]) -> None:
        async with conn.transaction():
            rows = await store.lock_timed_out_activities(conn)
            if not rows:
                return
            outcomes = []
            for row in rows:
                policy = row["retry_policy"] or {}
                kind = row["timeout_type"]
                retries = kind in ("start_to_close", "heartbeat") and is_retryable(
                    policy, "TimeoutError", False
                )
                delay = retry_delay(policy, int(row["retry_attempt"])) if retries else None
                event = ActivityTimedOut(
                    scheduled_seq=int(row["activity_seq"]),
                    attempt=int(row["retry_attempt"]),
                    timeout_type=kind,
                    retrying=delay is not None,
                    next_attempt_in=delay,
                )
                events: list[Event] = []
                if row["state"] == "RUNNING" and row["started_at"] is not None:
                    # the attempt started (its worker records that with the outcome, which
                    # will not come now): its start belongs in the history too
                    events.append(ActivityStarted(
                        scheduled_seq=int(row["activity_seq"]),
                        attempt=int(row["retry_attempt"]),
                        worker_id=row["worker_id"] or "",
                        started_at=row["started_at"].isoformat(),
                    ))
                events.append(event)
                outcomes.append(
                    store.ActivityOutcome(
                        task_id=int(row["task_id"]),
                        worker_id=row["worker_id"],
                        attempt=int(row["attempt"]),
                        final=delay is None,
                        delay=delay or 0.0,
                        events=[(e.type_name, serde.dumps(e.fields())) for e in events],
                        last_error_json=serde.dumps(
                            {"type": "TimeoutError", "message": f"{kind} timeout"}
                        ),
                    )
                )
            await store.apply_activity_outcomes(conn, outcomes)
        self.core.stats["activity_timeouts"] += len(rows)
