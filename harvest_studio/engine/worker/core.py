"""The state the parts of one running worker share: identity, the connection pool, task
slots, the hand-off points between the parts, and the cache of replayed instances."""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Coroutine, Iterable
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
RELEASE_TRIES = 6


def backoff(failures: int, cap: float = 5.0) -> float:
    """Seconds to wait after ``failures`` consecutive transient failures (0.1 s doubling)."""
    return float(min(0.1 * 2**failures, cap))


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
    drain: asyncio.Event = field(default_factory=asyncio.Event)
    """set when an operator asked this worker to drain (``harvest workers drain``)"""
    wf_queue: collections.deque[Row] = field(default_factory=collections.deque)
    """claimed (or handed over) workflow tasks waiting for the decision loop"""
    wf_ready: asyncio.Event = field(default_factory=asyncio.Event)
    blocked_said: dict[str, str] = field(default_factory=dict)
    """runs this worker found blocked, with the reason it logged (said once per reason, not
    at every retry)"""
    inflight: set[asyncio.Task[Any]] = field(default_factory=set)
    held: dict[int, int] = field(default_factory=dict)
    """tasks this worker works on now (task id -> fenced attempt): the only leases it renews"""
    retrying: int = 0
    """workflow tasks waiting to be decided again after a failed batch"""
    cache: collections.OrderedDict[str, WorkflowInstance] = field(
        default_factory=collections.OrderedDict
    )
    limited_queues: frozenset[str] = frozenset()
    """queues with a flow limit row (as last read; the database has the final word)"""
    limited_types: frozenset[str] = frozenset()
    workflow_limits: bool = False
    """some queue or workflow type has a ``max_workflows`` limit: runs may be held"""
    """activity types with a flow limit row (as last read)"""

    def throttled(self, queue: str, activity_type: str) -> bool:
        """Whether an activity attempt goes through the throttled claim (no eager hand-over)."""
        return queue in self.limited_queues or activity_type in self.limited_types

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)

    def hold(self, row: Row) -> None:
        self.held[int(row["task_id"])] = int(row["attempt"])

    def let_go(self, rows: Iterable[Row]) -> None:
        """Stop renewing these tasks' leases: they were finished, handed back or lost."""
        for row in rows:
            self.held.pop(int(row["task_id"]), None)

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
        """Hand tasks back (visible again after ``delay``), retrying through a database blip;
        then stop holding them. If the database stays away, their leases expire instead."""
        pending = list(rows)
        for attempt in range(RELEASE_TRIES):
            try:
                async with self.pool.connection() as conn:
                    while pending:
                        row = pending[0]
                        await store.release_task(
                            conn,
                            task_id=row["task_id"],
                            attempt=row["attempt"],
                            worker_id=self.worker_id,
                            delay=delay,
                        )
                        pending.pop(0)
                break
            except psycopg.Error as exc:
                if not store.is_transient(exc) or attempt == RELEASE_TRIES - 1:
                    log.error(
                        "could not hand back %d tasks (%s); their leases will expire",
                        len(pending),
                        exc,
                    )
                    break
                await asyncio.sleep(backoff(attempt))
        self.let_go(rows)


def history_event(row: Row) -> HistoryEvent:
    return HistoryEvent(int(row["seq"]), row["at"], decode(row["event_type"], row["payload"]))
