"""Wake-ups and claiming: a LISTEN connection (plus a poll fallback) wakes the claimer,
which claims as many tasks as there are free slots: one statement per queue for work no
flow limit covers, then one throttled claim per limited queue or activity type."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import psycopg

from ... import store
from .. import telemetry
from .core import Row, WorkerCore

log = logging.getLogger("harvest_studio.worker")


class Claimer:
    def __init__(self, core: WorkerCore, url: str, accept: Callable[[Row], None]) -> None:
        self.core = core
        self.url = url
        self.accept = accept
        self.queue_turn = 0
        self.capped = {
            a.name: a.options.max_concurrent
            for a in core.activities.values()
            if a.options.max_concurrent is not None
        }
        self.limits_read_at = -1e9
        self.limits_stale = True

    def free_activities(self) -> list[str]:
        """Activity types the fast claim takes (no cap of their own, no limit row)."""
        core = self.core
        return [a for a in core.activities if a not in self.capped and a not in core.limited_types]

    def throttled_claims(self, queues: list[str]) -> list[tuple[str, list[str], int | None]]:
        """``(queue, activity types, definition cap)`` for each throttled claim to make."""
        core = self.core
        plan: list[tuple[str, list[str], int | None]] = []
        for queue in queues:
            if queue in core.limited_queues and (free := self.free_activities()):
                plan.append((queue, free, None))
            for name in core.activities:
                if name in self.capped or name in core.limited_types:
                    plan.append((queue, [name], self.capped.get(name)))
        return plan

    async def refresh_limits(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Re-read which queues and activity types have limits: when told they changed,
        else once per poll interval."""
        now = self.core.loop.time()
        if not self.limits_stale and now - self.limits_read_at < self.core.options.poll_interval:
            return
        self.limits_stale = False
        limits = await store.flow_limits(conn, self.core.namespace)
        self.core.limited_queues = frozenset(r["name"] for r in limits if r["scope"] == "queue")
        self.core.limited_types = frozenset(r["name"] for r in limits if r["scope"] == "activity")
        self.core.workflow_limits = any(r["max_workflows"] is not None for r in limits)
        self.limits_read_at = now

    async def listen(self) -> None:
        core = self.core
        while not core.closing:
            try:
                conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {store.TASKS_CHANNEL}")
                    core.wake.set()  # anything queued while we were not listening
                    async for note in conn.notifies():
                        if note.payload == store.FLOW_CHANGED:
                            self.limits_stale = True
                        elif note.payload == store.CLOCK_MOVED:  # time skipped (tests)
                            core.timer_wake.set()
                        elif note.payload == store.DRAIN_PREFIX + core.worker_id:
                            core.drain.set()
                        core.wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("listener lost (%s); reconnecting", exc)
                await asyncio.sleep(core.options.poll_interval)

    async def claim_loop(self) -> None:
        core = self.core
        while True:
            try:
                await asyncio.wait_for(core.wake.wait(), timeout=core.options.poll_interval)
            except TimeoutError:
                pass
            core.wake.clear()
            while core.claiming:
                if core.slots <= 0:
                    core.starved = True
                    break
                limit = core.slots
                if await self.claim_once(limit) < limit:
                    break

    async def claim_once(self, limit: int) -> int:
        core = self.core
        rows: list[Row] = []
        try:
            async with core.pool.connection() as conn:
                await self.refresh_limits(conn)
                self.queue_turn = (self.queue_turn + 1) % len(core.queues)
                queues = core.queues[self.queue_turn :] + core.queues[: self.queue_turn]
                rows = await store.claim_tasks(
                    conn,
                    worker_id=core.worker_id,
                    namespace=core.namespace,
                    queues=queues,
                    workflows=list(core.workflows),
                    activities=self.free_activities(),
                    limit=limit,
                    lease_seconds=core.options.lease_seconds,
                )
                if core.workflow_limits and core.workflows:
                    for queue in queues:
                        if len(rows) >= limit:
                            break
                        rows += await store.admit_runs(
                            conn,
                            worker_id=core.worker_id,
                            namespace=core.namespace,
                            queue=queue,
                            workflows=list(core.workflows),
                            limit=limit - len(rows),
                            lease_seconds=core.options.lease_seconds,
                        )
                for queue, types, cap in self.throttled_claims(queues):
                    if len(rows) >= limit:
                        break
                    got = await store.claim_throttled(
                        conn,
                        worker_id=core.worker_id,
                        namespace=core.namespace,
                        queue=queue,
                        type_names=types,
                        definition_cap=cap,
                        limit=limit - len(rows),
                        lease_seconds=core.options.lease_seconds,
                    )
                    rows += got.rows
                    if got.retry_after is not None:  # a bucket ran dry: look again when it refills
                        core.wake_later(got.retry_after)
        except psycopg.Error as exc:
            log.warning("claim failed: %s", exc)
            await asyncio.sleep(core.options.poll_interval)
            return 0
        core.stats["claimed"] += len(rows)
        if rows:
            telemetry.count_claims(core.namespace, rows)
        for row in rows:
            self.accept(row)
        return len(rows)
