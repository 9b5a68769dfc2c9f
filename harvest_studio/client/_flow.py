"""Flow control for :class:`AsyncClient`: pause and resume a queue or an activity type, rate
limits and concurrency caps shared by all workers, and what each queue holds."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import store
from ..model.errors import UsageError
from ..model.limits import check_name
from ._audit import audited, limit_target
from ._resets import ResettingClient
from ._retry import retried

MAX_NAME_LENGTH = 200


class Keep(enum.Enum):
    """The type of :data:`KEEP`."""

    KEEP = "keep"


KEEP = Keep.KEEP
"""Leave this limit as it is (the default of every :meth:`set_limits` field)."""


@dataclass(frozen=True)
class FlowLimit:
    """The limits on one queue (``scope="queue"``), activity type (``"activity"``) or
    workflow type (``"workflow"``).

    ``rate`` is in claims per second with a bucket of ``burst`` (default: one second's
    worth, at least 1); ``tokens`` is what the bucket holds now. ``max_concurrent`` caps the
    attempts running at once across all workers. ``max_workflows`` caps the runs in progress
    at once (of the workflow type, or on the queue): a run started beyond it waits, held at
    its start, until one of the runs admitted under the limit ends. Rates and
    ``max_concurrent`` count activity attempts; decisions are only held back by a paused
    queue.
    """

    scope: str
    name: str
    paused: bool
    rate: float | None
    burst: float | None
    max_concurrent: int | None
    tokens: float | None
    updated_at: datetime
    max_workflows: int | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> FlowLimit:
        return cls(
            scope=row["scope"],
            name=row["name"],
            paused=bool(row["paused"]),
            rate=row["rate"],
            burst=row["burst"],
            max_concurrent=row["max_concurrent"],
            tokens=row["tokens"],
            updated_at=row["updated_at"],
            max_workflows=row.get("max_workflows"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "name": self.name,
            "paused": self.paused,
            "rate": self.rate,
            "burst": self.burst,
            "max_concurrent": self.max_concurrent,
            "max_workflows": self.max_workflows,
            "tokens": None if self.tokens is None else round(self.tokens, 3),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class QueueInfo:
    """One queue: tasks ready to claim, delayed (retry backoff, start delay), running now,
    and its limits (``None``: none)."""

    name: str
    ready: int
    delayed: int
    running: int
    limit: FlowLimit | None
    oldest_ready_seconds: float | None = None
    """how long the oldest task ready to claim has waited (None: none is ready)"""
    workers: int = 0
    """live workers serving the queue (not draining)"""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ready": self.ready,
            "delayed": self.delayed,
            "running": self.running,
            "oldest_ready_seconds": self.oldest_ready_seconds,
            "workers": self.workers,
            "limit": None if self.limit is None else self.limit.to_json(),
        }


def _check_rate(value: float | Keep | None, what: str, minimum: float) -> None:
    if value is KEEP or value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < minimum
        or (minimum == 0 and value == 0)
    ):
        bound = "a positive number" if minimum == 0 else f"a number >= {minimum:g}"
        raise UsageError(f"{what} must be {bound}, got {value!r}")


def _check_count(value: int | Keep | None, what: str) -> None:
    if value is KEEP or value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageError(f"{what} must be an int >= 0, got {value!r}")


class FlowClient(ResettingClient):
    """Flow control: limits that every worker's claims obey, enforced in the database."""

    @audited("limits.set", "limit", limit_target)
    @retried(True)
    async def set_limits(
        self,
        *,
        queue: str | None = None,
        activity: str | None = None,
        workflow: str | None = None,
        rate: float | Keep | None = KEEP,
        burst: float | Keep | None = KEEP,
        max_concurrent: int | Keep | None = KEEP,
        max_workflows: int | Keep | None = KEEP,
    ) -> FlowLimit | None:
        """Limit a ``queue``, an ``activity`` type or a ``workflow`` type (give exactly
        one): ``rate`` attempts started per second (a token bucket of ``burst``),
        ``max_concurrent`` attempts running at once, ``max_workflows`` runs in progress at
        once (for a queue or a workflow type; later runs wait at their start), across all
        workers. ``None`` removes a limit; fields not given are kept. Returns the limits now
        in force (``None`` when nothing is left).

        Example::

            client.set_limits(activity="charge_card", rate=5, burst=10)
            client.set_limits(queue="emails", max_concurrent=4)
            client.set_limits(queue="emails", max_concurrent=None)   # lift the cap
            client.set_limits(workflow="nightly_import", max_workflows=2)
        """
        _check_rate(rate, "rate", 0)
        _check_rate(burst, "burst", 1)
        _check_count(max_concurrent, "max_concurrent")
        _check_count(max_workflows, "max_workflows")
        if workflow is not None and (rate, burst, max_concurrent) != (KEEP, KEEP, KEEP):
            raise UsageError("a workflow type takes max_workflows only")
        if activity is not None and max_workflows is not KEEP:
            raise UsageError("max_workflows limits a queue or a workflow type, not an activity")
        changes = {
            k: v
            for k, v in (("rate", rate), ("burst", burst), ("max_concurrent", max_concurrent),
                         ("max_workflows", max_workflows))
            if v is not KEEP
        }
        return await self._change_limit(queue, activity, changes, workflow)

    @audited("queue.pause", "queue", "queue")
    async def pause_queue(self, queue: str) -> FlowLimit | None:
        """Stop claims from ``queue`` (running attempts finish; queries are still answered)."""
        return await self._pause(queue, None, True)

    @audited("queue.resume", "queue", "queue")
    async def resume_queue(self, queue: str) -> FlowLimit | None:
        """Let workers claim from ``queue`` again."""
        return await self._pause(queue, None, False)

    @audited("activity.pause", "activity", "activity")
    async def pause_activity(self, activity: str) -> FlowLimit | None:
        """Stop starting attempts of an activity type (in every queue)."""
        return await self._pause(None, activity, True)

    @audited("activity.resume", "activity", "activity")
    async def resume_activity(self, activity: str) -> FlowLimit | None:
        """Let attempts of the activity type start again."""
        return await self._pause(None, activity, False)

    @retried(True)
    async def _pause(
        self, queue: str | None, activity: str | None, paused: bool
    ) -> FlowLimit | None:
        return await self._change_limit(queue, activity, {"paused": paused})

    async def _change_limit(
        self, queue: str | None, activity: str | None, changes: dict[str, Any],
        workflow: str | None = None,
    ) -> FlowLimit | None:
        named = [(s, n) for s, n in (("queue", queue), ("activity", activity),
                                     ("workflow", workflow)) if n is not None]
        if len(named) != 1:
            raise UsageError("give exactly one of queue=, activity= or workflow=")
        scope, name = named[0]
        if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_LENGTH:
            raise UsageError(f"a {scope} name is 1..{MAX_NAME_LENGTH} characters")
        check_name(f"a {scope} name", name)  # no NUL, no unpaired surrogates
        async with self.pool.connection() as conn:
            row = await store.change_flow_limit(conn, self.namespace, scope, name, changes)
        return None if row is None else FlowLimit.from_row(row)

    @retried(True)
    async def limits(self) -> list[FlowLimit]:
        """Every limit in the namespace: queues first, then activity types."""
        async with self.pool.connection() as conn:
            rows = await store.flow_limits(conn, self.namespace)
        return [FlowLimit.from_row(r) for r in rows]

    @retried(True)
    async def queues(self) -> list[QueueInfo]:
        """Each queue with tasks or limits: ready, delayed and running tasks, the age of the
        oldest ready task, the live workers serving it, and its limits."""
        async with self.pool.connection() as conn:
            rows = await store.queue_overview(conn, self.namespace)
            limits = await store.flow_limits(conn, self.namespace)
        by_queue = {r["name"]: FlowLimit.from_row(r) for r in limits if r["scope"] == "queue"}
        return [
            QueueInfo(
                name=r["queue"],
                ready=int(r["ready"]),
                delayed=int(r["delayed"]),
                running=int(r["running"]),
                limit=by_queue.get(r["queue"]),
                oldest_ready_seconds=r["oldest_ready_seconds"],
                workers=int(r["workers"]),
            )
            for r in rows
        ]
