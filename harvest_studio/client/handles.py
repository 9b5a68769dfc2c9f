"""Run handles: a run by workflow id (and run id once known), for the async client
(:class:`AsyncRunHandle`) and the sync one (:class:`RunHandle`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..model.errors import UsageError
from ..model.events import HistoryEvent
from .info import RunInfo
from .views import run_views

if TYPE_CHECKING:
    from .async_client import AsyncClient
    from .sync_client import Client


class AsyncRunHandle:
    """A run, by workflow id (and run id once known)."""

    def __init__(self, client: AsyncClient, workflow_id: str, run_id: str | None) -> None:
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

    def __repr__(self) -> str:
        return f"<run {self.workflow_id} ({self.run_id})>"


class RunHandle:
    """Sync handle of a run: ``result``, ``describe``, ``history``."""

    def __init__(self, client: Client, workflow_id: str, run_id: str | None) -> None:
        self.client = client
        self.workflow_id = workflow_id
        self.run_id = run_id

    @property
    def id(self) -> str:
        return self.workflow_id

    @property
    def ref(self) -> str:
        return self.run_id or self.workflow_id

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the run to end; return its result or raise :class:`WorkflowFailedError`."""
        return self.client.result(self.ref, timeout, run_id=self.run_id)

    def describe(self) -> RunInfo:
        return self.client.describe(self.ref)

    def history(self) -> list[HistoryEvent]:
        return self.client.history(self.ref)

    def signal(self, name: str, payload: Any = None, **kw: Any) -> bool:
        """Send a signal to this run (see :meth:`AsyncClient.signal`)."""
        return self.client.signal(self.ref, name, payload, **kw)

    def tree(self) -> list[RunInfo]:
        """This run and its child runs, depth first."""
        return self.client.tree(self.ref)

    def chain(self) -> list[RunInfo]:
        """The continue-as-new chain this run belongs to, oldest first."""
        return self.client.chain(self.ref)

    def explore(self, **options: Any) -> Any:
        """The history explorer widget for this run (needs the ``notebook`` extra)."""
        return run_views().explore(self.client, self.ref, **options)

    def card(self, **options: Any) -> Any:
        """A compact live card: status, current activity, pending timers, last error."""
        return run_views().card(self.client, self.ref, **options)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """In a notebook a run handle shows as its live card; elsewhere as text."""
        text = {"text/plain": repr(self)}
        try:
            run_views()
        except UsageError:  # no views registered
            return text
        try:
            bundle = self.card()._repr_mimebundle_(include=include, exclude=exclude)
        except ImportError:  # anywidget is in the notebook extra
            return text
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        return {**data, **text} if isinstance(data, dict) else text

    def query(self, name: str, *args: Any, timeout: float = 5.0) -> Any:
        """Ask this run's query handler ``name`` (see :meth:`AsyncClient.query`)."""
        return self.client.query(self.ref, name, *args, timeout=timeout)

    def update(self, name: str, *args: Any, **kw: Any) -> Any:
        """Send this run an update and wait for its result (see :meth:`AsyncClient.update`)."""
        return self.client.update(self.ref, name, *args, **kw)

    def cancel(self, reason: str | None = None) -> bool:
        return self.client.cancel(self.ref, reason)

    def terminate(self, reason: str | None = None) -> None:
        self.client.terminate(self.ref, reason)

    def pause(self, reason: str | None = None) -> bool:
        return self.client.pause(self.ref, reason)

    def resume(self, reason: str | None = None) -> bool:
        return self.client.resume(self.ref, reason)

    def __repr__(self) -> str:
        return f"<run {self.workflow_id} ({self.run_id})>"
