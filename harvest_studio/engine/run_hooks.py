"""Hooks on a run's end in the worker that committed it: :class:`RunEnded` handed to the
worker's ``on_run_end`` callables (each on a thread, so a slow hook never holds up the
decision loop; an exception in one is logged), and the ``harvest.run`` span and metrics."""

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


def _call(hook: Callable[[RunEnded], None], ended: RunEnded) -> None:
    try:
        hook(ended)
    except Exception:
        log.exception("run-end hook %r failed for run %s", hook, ended.run_id)
