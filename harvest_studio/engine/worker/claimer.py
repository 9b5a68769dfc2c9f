"""Wake-ups and claiming: a LISTEN connection (plus a poll fallback) wakes the claimer,
which claims as many tasks as there are free slots in one statement."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg

from ... import store
from .core import Row, WorkerCore

log = logging.getLogger("harvest_studio.worker")


class Claimer:
    def __init__(self, core: WorkerCore, url: str, accept: Callable[[Row], None]) -> None:
        self.core = core
        self.url = url
        self.accept = accept
        self.queue_turn = 0
        self.uncapped_activities = [
            a.name for a in core.activities.values() if a.options.max_concurrent is None
        ]
        self.capped = {
            a.name: a.options.max_concurrent
            for a in core.activities.values()
            if a.options.max_concurrent is not None
        }

    async def listen(self) -> None:
        core = self.core
        while not core.closing:
            try:
                conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {store.TASKS_CHANNEL}")
                    core.wake.set()  # anything queued while we were not listening
                    async for _ in conn.notifies():
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
                self.queue_turn = (self.queue_turn + 1) % len(core.queues)
                queues = core.queues[self.queue_turn :] + core.queues[: self.queue_turn]
                rows = await store.claim_tasks(
                    conn,
                    worker_id=core.worker_id,
                    namespace=core.namespace,
                    queues=queues,
                    workflows=list(core.workflows),
                    activities=self.uncapped_activities,
                    limit=limit,
                    lease_seconds=core.options.lease_seconds,
                )
                for type_name, cap in self.capped.items():
                    room = limit - len(rows)
                    if room <= 0:
                        break
                    rows += await store.claim_capped_tasks(
                        conn,
                        worker_id=core.worker_id,
                        namespace=core.namespace,
                        queues=core.queues,
                        type_name=type_name,
                        cap=int(cap or 0),
                        limit=room,
                        lease_seconds=core.options.lease_seconds,
                    )
        except psycopg.Error as exc:
            log.warning("claim failed: %s", exc)
            await asyncio.sleep(core.options.poll_interval)
            return 0
        core.stats["claimed"] += len(rows)
        for row in rows:
            self.accept(row)
        return len(rows)
