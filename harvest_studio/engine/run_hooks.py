"""Hooks in the worker: a run's end (:class:`RunEnded` to the ``on_run_end`` callables of
the worker that committed it, with the ``harvest.run`` span and metrics) and SLA misses
(:class:`SlaMissed` to ``on_sla_missed``, once per run whichever worker notices). Each hook
runs on a thread, so a slow one never holds up the worker; an exception in one is logged."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import telemetry

log = logging.getLogger("harvest_studio.worker")


@dataclass(frozen=True)
class RunEnded:
    """A run's end, as its worker committed it."""

    run_id: str
    workflow_id: str
    workflow_type: str
    namespace: str
    status: str
    """COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT or CONTINUED_AS_NEW"""
    error: dict[str, Any] | None
    started_at: datetime
    ended_at: datetime

    @property
    def duration(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class SlaMissed:
    """A run still running past the SLA of its workflow type."""

    run_id: str
    workflow_id: str
    workflow_type: str
    namespace: str
    started_at: datetime
    sla_seconds: float


def sla_missed(hooks: Sequence[Callable[[SlaMissed], None]], rows: Sequence[dict[str, Any]]
               ) -> None:
    """Count the misses and call the hooks with each (without waiting for them)."""
    loop = asyncio.get_running_loop()
    for row in rows:
        missed = SlaMissed(row["run_id"], row["workflow_id"], row["workflow_type"],
                           row["namespace"], row["created_at"], float(row["sla_seconds"]))
        telemetry.sla_missed(missed.workflow_type, missed.namespace)
        for hook in hooks:
            loop.run_in_executor(None, _call, hook, missed)


def run_ended(
    hooks: Sequence[Callable[[RunEnded], None]], *, run_id: str, workflow_id: str,
    workflow_type: str, namespace: str, status: str, error_json: str | None,
    started_at: datetime,
) -> None:
    """Emit the run's span and metrics, and call the hooks (without waiting for them)."""
    ended_at = datetime.now(UTC)
    error = json.loads(error_json) if error_json else None
    message = None if error is None else f"{error.get('type')}: {error.get('message')}"
    telemetry.run_ended(run_id, workflow_type, namespace, status,
                        int(started_at.timestamp() * 1e9), int(ended_at.timestamp() * 1e9),
                        message)
    if not hooks:
        return
    ended = RunEnded(run_id, workflow_id, workflow_type, namespace, status, error,
                     started_at, ended_at)
    loop = asyncio.get_running_loop()
    for hook in hooks:
        loop.run_in_executor(None, _call, hook, ended)


def _call(hook: Callable[[Any], None], event: RunEnded | SlaMissed) -> None:
    try:
        hook(event)
    except Exception:
        log.exception("hook %r failed for run %s", hook, event.run_id)
