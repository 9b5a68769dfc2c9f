"""The async client's run handle: a run by workflow id (and run id once known)."""

from __future__ import annotations

from typing import Any

from ..model.events import HistoryEvent
from ._base import ClientBase
from .info import AttemptLog, RunInfo


class AsyncRunHandle:
    """A run, by workflow id (and run id once known)."""

    def __init__(self, client: ClientBase, workflow_id: str, run_id: str | None) -> None:
        self.client = client
        self.workflow_id = workflow_id
        self.run_id = run_id

    @property
    def ref(self) -> str:
        return self.run_id or self.workflow_id

    @property
    def id(self) -> str:
        return self.workflow_id

    async def result(self, timeout: float | None = None) -> Any:
        return await self.client.result(self.ref, timeout, run_id=self.run_id)

    async def describe(self) -> RunInfo:
        return await self.client.describe(self.ref)

    async def history(self) -> list[HistoryEvent]:
        return await self.client.history(self.ref)

    async def attempt_logs(self, activity_seq: int | None = None) -> list[AttemptLog]:
        """What this run's activity attempts printed or logged."""
        return await self.client.attempt_logs(self.ref, activity_seq=activity_seq)

    def __repr__(self) -> str:
        return f"<run {self.workflow_id} ({self.run_id})>"
