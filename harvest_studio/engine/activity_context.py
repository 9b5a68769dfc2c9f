"""What activity code sees: attempt facts, heartbeats, deadline and cancellation."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection

from ..model.errors import HarvestError
from ..store.clock import engine_time


class ActivityCancelledError(HarvestError):
    """The attempt should stop: its claim was lost or the worker is shutting down."""

    code = "activity_cancelled"


@dataclass(frozen=True)
class ActivityInfo:
    """Facts about the attempt running now (``ctx.info``).

    ``run_id``, ``workflow_id`` and ``workflow_type`` name the run that scheduled the
    activity; ``activity_id`` is the history sequence of its ``ActivityScheduled`` event
    (the same for every attempt); ``attempt`` counts from 1; ``deadline`` is the attempt's
    start-to-close deadline (None without one); ``is_local``: a local activity, run by the
    workflow's own worker inside its workflow task (``task_id`` is then 0).
    """

    run_id: str
    activity_type: str
    activity_id: int
    attempt: int
    task_id: int
    namespace: str
    queue: str
    deadline: datetime | None
    workflow_id: str = ""
    workflow_type: str = ""
    is_local: bool = False


class ActivityContext:
    """Passed as the first argument of every activity.

    ``idempotency_key`` is the same for every attempt of this activity in this run, across
    retries, worker restarts and replays: use it as the key of external side effects.
    """

    def __init__(
        self, info: ActivityInfo, heartbeat_details: Any = None, *, fence_attempt: int = 0
    ) -> None:
        self.info = info
        self.fence_attempt = fence_attempt
        self._previous_details = heartbeat_details
        self._pending: list[Any] = []
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self.cancel_reason: str | None = None
        self._on_cancel: list[Callable[[], Any]] = []
        self.cancelled_for_good = False

    @property
    def attempt(self) -> int:
        """1 for the first attempt, 2 for the first retry, ..."""
        return self.info.attempt

    @property
    def idempotency_key(self) -> str:
        return f"{self.info.run_id}:{self.info.activity_id}"

    @property
    def heartbeat_details(self) -> Any:
        """Details of the last heartbeat recorded by an earlier attempt (or None)."""
        return self._previous_details

    @property
    def deadline(self) -> datetime | None:
        """When this attempt's start-to-close timeout expires."""
        return self.info.deadline

    def time_remaining(self) -> float | None:
        if self.info.deadline is None:
            return None
        return (self.info.deadline - engine_time(datetime.now(UTC))).total_seconds()

    def heartbeat(self, details: Any = None) -> None:
        """Report liveness (and progress). Cheap: the worker writes heartbeats in batches."""
        with self._lock:
            self._pending.append(details)

    def take_heartbeat(self) -> tuple[bool, Any]:
        with self._lock:
            if not self._pending:
                return False, None
            details = self._pending[-1]
            self._pending.clear()
            return True, details

    @property
    def is_cancelled(self) -> bool:
        return self._cancelled.is_set()

    def check_cancelled(self) -> None:
        """Raise :class:`ActivityCancelledError` if this attempt should stop."""
        if self._cancelled.is_set():
            raise ActivityCancelledError(self.cancel_reason or "activity cancelled")

    def cancel(self, reason: str, *, for_good: bool = False) -> None:
        """Tell the attempt to stop (called by the worker, on its event loop). ``for_good``:
        the activity or its run was cancelled, or the attempt lost its claim, so an async
        activity's task is cancelled and the attempt is not retried; otherwise (the worker
        shuts down) the code may finish or stop, and the task is handed back."""
        self.cancel_reason = reason
        self.cancelled_for_good = self.cancelled_for_good or for_good
        self._cancelled.set()
        if for_good:
            for callback in self._on_cancel:
                callback()

    def on_cancel(self, callback: Callable[[], Any]) -> None:
        """Call ``callback`` when the attempt is cancelled (the worker cancels an async
        activity's task this way)."""
        self._on_cancel.append(callback)


class TransactionContext:
    """Passed as the first argument of a ``@transaction`` step: ``conn`` is a psycopg
    ``AsyncConnection`` inside the transaction that will record the step's result (each
    attempt in a savepoint); ``info`` as for activities (``is_local`` is True)."""

    def __init__(self, info: ActivityInfo, conn: AsyncConnection[Any]) -> None:
        self.info = info
        self.conn = conn

    @property
    def attempt(self) -> int:
        return self.info.attempt

    @property
    def idempotency_key(self) -> str:
        return f"{self.info.run_id}:{self.info.activity_id}"
