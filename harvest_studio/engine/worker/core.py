"""The state the parts of one running worker share: identity, the connection pool, task
slots, the hand-off points between the parts, and the cache of replayed instances."""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from ... import store
from ...model.definitions import ActivityDefinition, WorkflowDefinition
from ...model.events import HistoryEvent, decode
from ..replay import WorkflowInstance
from .options import WorkerOptions

log = logging.getLogger("harvest_studio.worker")

Row = dict[str, Any]


@dataclass(eq=False)
class WorkerCore:
    """Shared by the claimer, the decision loop, the activity executor, the query answerer
    and the sweeper of one worker; lives as long as one ``Worker.run``."""

    worker_id: str
    namespace: str
    queues: list[str]
    workflows: dict[str, WorkflowDefinition]
    activities: dict[str, ActivityDefinition]
    options: WorkerOptions
    pool: AsyncConnectionPool
    stats: collections.Counter[str]
    loop: asyncio.AbstractEventLoop
    slots: int = 0
    claiming: bool = True
    closing: bool = False
    busy: int = 0
    starved: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    """set to make the claimer claim now"""
    timer_wake: asyncio.Event = field(default_factory=asyncio.Event)
    """set when a decision armed timers, so the timer loop looks again"""
    wf_queue: collections.deque[Row] = field(default_factory=collections.deque)
    """claimed (or handed over) workflow tasks waiting for the decision loop"""
    wf_ready: asyncio.Event = field(default_factory=asyncio.Event)
    inflight: set[asyncio.Task[Any]] = field(default_factory=set)
    cache: collections.OrderedDict[str, WorkflowInstance] = field(
        default_factory=collections.OrderedDict
    )

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)

    def submit_workflow_task(self, row: Row) -> None:
        self.wf_queue.append(row)
        self.wf_ready.set()

    def release_slot(self, n: int = 1) -> None:
        self.slots += n
        if self.starved:
            self.starved = False
            self.wake.set()

    def wake_later(self, delay: float) -> None:
        """Claim again when a task this worker re-queued with a delay becomes visible."""
        self.loop.call_later(delay + 0.005, self.wake.set)

    def remember(self, run_id: str, instance: WorkflowInstance) -> None:
        self.cache[run_id] = instance
        while len(self.cache) > self.options.cache_size:
            _, old = self.cache.popitem(last=False)
            old.evict()

    def evict(self, run_id: str) -> None:
        instance = self.cache.pop(run_id, None)
        if instance is not None:
            instance.evict()

    def evict_all(self) -> None:
        for instance in self.cache.values():
            instance.evict()
        self.cache.clear()

    async def full_history(self, run_ids: list[str]) -> dict[str, list[Row]]:
        async with self.pool.connection() as conn:
            return await store.load_history_tails(conn, [(r, 0, 2**31 - 1) for r in run_ids])

    async def release_tasks(self, rows: list[Row], delay: float) -> None:
        try:
            async with self.pool.connection() as conn:
                for row in rows:
                    await store.release_task(
                        conn, task_id=row["task_id"], attempt=row["attempt"],
                        worker_id=self.worker_id, delay=delay,
                    )
        except psycopg.Error:
            log.exception("could not release tasks; their leases will expire")


def history_event(row: Row) -> HistoryEvent:
    return HistoryEvent(int(row["seq"]), row["at"], decode(row["event_type"], row["payload"]))
