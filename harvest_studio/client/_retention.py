"""Retention from the client: a namespace's default retention, and purging ended runs in
batches, each batch handed to an archive before it is deleted."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import store
from ..model.durations import Duration, to_seconds
from ..model.errors import UsageError
from ._audit import audited
from ._dead_letters import DeadLettersClient
from ._retry import retried

PURGE_BATCH = 500
Archive = Callable[[list[dict[str, Any]]], Awaitable[None]]
"""gets each batch (``{"run": {...}, "events": [...]}`` per run) before it is deleted; if it
raises, that batch is not deleted and the purge stops"""


@dataclass(frozen=True)
class PurgeReport:
    """What ``purge`` removed (or, with ``dry_run``, would remove)."""

    namespace: str | None
    ended_before: datetime | None
    runs: int
    events: int
    batches: int
    dry_run: bool

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        if self.ended_before is not None:
            data["ended_before"] = self.ended_before.isoformat()
        return data


def _purge_target(values: dict[str, Any], result: Any) -> str | None:
    return "all namespaces" if values.get("all_namespaces") else None


class RetentionClient(DeadLettersClient):
    """Retention and purging (mixed into :class:`AsyncClient`)."""

    @audited("namespace.retention", "namespace", "namespace")
    @retried(True)
    async def set_retention(self, namespace: str, keep: Duration | None) -> None:
        """Keep ended runs of ``namespace`` for ``keep`` (``"30d"``; None: forever).
        ``purge()`` without ``ended_before`` removes what is older."""
        seconds = None if keep is None else to_seconds(keep)
        if seconds is not None and (not math.isfinite(seconds) or seconds <= 0):
            raise UsageError("a retention must be a positive duration")
        async with self.pool.connection() as conn:
            if not await store.set_retention(conn, namespace, seconds):
                raise UsageError(f"no namespace {namespace!r}")

    @audited("runs.purge", "namespace", _purge_target, unless="dry_run")
    async def purge(
        self,
        ended_before: datetime | None = None,
        *,
        all_namespaces: bool = False,
        archive: Archive | None = None,
        dry_run: bool = False,
        batch: int = PURGE_BATCH,
    ) -> PurgeReport:
        """Remove ended runs with their histories and everything else they own, in batches
        of ``batch`` runs, one transaction each: those that ended before ``ended_before``
        or, without it, those older than their namespace's retention. Each batch goes to
        ``archive`` first, and is deleted only once the archive took it. Running runs are
        never touched. The only path that may delete history."""
        if not 1 <= batch <= 10_000:
            raise UsageError("batch must be 1..10000")
        if ended_before is not None and ended_before.tzinfo is None:
            raise UsageError("ended_before must be an aware datetime")
        namespace = None if all_namespaces else self.namespace
        runs = events = batches = 0
        if dry_run:
            async with self.pool.connection() as conn:
                count = await store.count_due_runs(
                    conn, namespace=namespace, ended_before=ended_before)
            return PurgeReport(namespace, ended_before, count, 0, 0, True)
        while True:
            async with self.pool.connection() as conn, conn.transaction():
                due = await store.due_runs(
                    conn, namespace=namespace, ended_before=ended_before, limit=batch
                )
                if not due:
                    break
                if archive is not None:
                    whole = await store.runs_with_histories(conn, due)
                    await archive(whole)
                    events += sum(len(r["events"]) for r in whole)
                runs += await store.delete_runs(conn, due)
                batches += 1
        return PurgeReport(namespace, ended_before, runs, events, batches, False)
