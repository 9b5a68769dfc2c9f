"""The async client's handles: :class:`AsyncRunHandle` (a run, following its continue-as-new
chain) and :class:`AsyncUpdateHandle` (an admitted update whose result comes later)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from ..model.errors import RunNotRunningError, UpdateRejectedError
from ..model.events import HistoryEvent
from ..model.payloads import decode
from .info import AttemptLog, RunInfo


class HandleClient(Protocol):
    """What a handle needs of its client (:class:`AsyncClient` is one)."""

    @property
    def url(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    def chain_head(self, run_id: str) -> Awaitable[str]: ...
    def current_run_id(self, ref: str) -> Awaitable[str]: ...
    def result(
        self, ref: str, timeout: float | None = None, *, run_id: str | None = None
    ) -> Awaitable[Any]: ...
    def describe(self, ref: str) -> Awaitable[RunInfo]: ...
    def history(
        self, ref: str, *, after_seq: int = 0, limit: int | None = None
    ) -> Awaitable[list[HistoryEvent]]: ...
    def attempt_logs(
        self, ref: str, *, activity_seq: int | None = None, latest: bool = False
    ) -> Awaitable[list[AttemptLog]]: ...
    def signal(
        self, ref: str, name: str, payload: Any = None, *, idempotency_key: str | None = None
    ) -> Awaitable[bool]: ...
    def query(self, ref: str, name: str, *args: Any, timeout: float = 5.0) -> Awaitable[Any]: ...
    def update(
        self,
        ref: str,
        name: str,
        *args: Any,
        update_id: str | None = None,
        timeout: float = 30.0,
        wait_for: str = "completed",
    ) -> Awaitable[Any]: ...
    def update_result(self, ref: str, update_id: str, timeout: float = 0.0) -> Awaitable[Any]: ...
    def cancel(self, ref: str, reason: str | None = None) -> Awaitable[bool]: ...
    def terminate(self, ref: str, reason: str | None = None) -> Awaitable[None]: ...
    def pause(self, ref: str, reason: str | None = None) -> Awaitable[bool]: ...
    def resume(self, ref: str, reason: str | None = None) -> Awaitable[bool]: ...
    def tree(self, ref: str) -> Awaitable[list[RunInfo]]: ...
    def chain(self, ref: str) -> Awaitable[list[RunInfo]]: ...


T = TypeVar("T")

# Set by the sync face, which sits above this module: turns an async handle into the sync
# handle that owns the notebook views (the explorer, the card, a DAG run's graph).
sync_twin: Callable[[AsyncRunHandle], Any] | None = None


def _may_be_run_id(ref: str) -> bool:
    return len(ref) == 36 and ref.count("-") == 4


class AsyncRunHandle:
    """A run, by workflow id (and the id of the run it was made for, once known).

    A handle follows its continue-as-new chain: signals, queries, updates, cancel,
    ``describe`` and ``history`` go to the chain's current run, and :meth:`result` waits for
    the chain's end — so the handle ``start`` returned keeps working after the run continues
    as new, and so does ``client.handle(workflow_id)``. A handle made from the run id of a
    later run of a chain (``client.handle(run_id)``) stays on that run.
    """

    def __init__(
        self, client: HandleClient, workflow_id: str, run_id: str | None, *,
        result_type: Any = None,
    ) -> None:
        self.client = client
        self.workflow_id = workflow_id
        self.run_id = run_id
        self.result_type = result_type
        """what :meth:`result` decodes the result to (the workflow's return annotation,
        for a handle that ``start`` returned for a definition)"""

    @property
    def ref(self) -> str:
        """The run this handle was made for (its run id when known, else its workflow id)."""
        return self.run_id or self.workflow_id

    @property
    def id(self) -> str:
        return self.workflow_id

    async def current_run_id(self) -> str:
        """The run this handle talks to now: the newest run of its continue-as-new chain."""
        if self.run_id is None:
            return await self.client.current_run_id(self.workflow_id)
        return await self.client.chain_head(self.run_id)

    async def _at_current(self, send: Callable[[str], Awaitable[T]]) -> T:
        """``send`` to the current run; if that run ended (continued as new) meanwhile,
        once more to the one after it."""
        target = await self._target()
        try:
            return await send(target)
        except (RunNotRunningError, UpdateRejectedError):
            again = await self._target()
            if again == target:
                raise
            return await send(again)

    async def _target(self) -> str:
        # A handle by a (non-uuid) workflow id resolves to the id's open run on each call.
        if self.run_id is None and not _may_be_run_id(self.workflow_id):
            return self.workflow_id
        return await self.current_run_id()

    async def result(self, timeout: float | None = None, *, result_type: Any = None) -> Any:
        """Wait for the chain to end; its last run's result, or :class:`WorkflowFailedError`.
        The result is decoded to ``result_type`` (default: the handle's ``result_type``) by
        the payload converter; without one it is the JSON value."""
        value = await self.client.result(self.ref, timeout, run_id=self.run_id)
        return decode(value, result_type or self.result_type, what="the run's result")

    async def describe(self) -> RunInfo:
        return await self.client.describe(await self._target())

    async def history(self) -> list[HistoryEvent]:
        return await self.client.history(await self._target())

    async def attempt_logs(self, activity_seq: int | None = None) -> list[AttemptLog]:
        """What the current run's activity attempts printed or logged."""
        return await self.client.attempt_logs(await self._target(), activity_seq=activity_seq)

    async def signal(
        self, name: str, payload: Any = None, *, idempotency_key: str | None = None
    ) -> bool:
        """Send a signal to the current run (see :meth:`AsyncClient.signal`)."""
        return await self._at_current(lambda target: self.client.signal(
            target, name, payload, idempotency_key=idempotency_key))

    async def query(self, name: str, *args: Any, timeout: float = 5.0) -> Any:
        """Ask the current run's query handler ``name`` (see :meth:`AsyncClient.query`)."""
        return await self.client.query(await self._target(), name, *args, timeout=timeout)

    async def update(
        self,
        name: str,
        *args: Any,
        update_id: str | None = None,
        timeout: float = 30.0,
        wait_for: str = "completed",
    ) -> Any:
        """Send the current run an update (see :meth:`AsyncClient.update`)."""
        return await self._at_current(lambda target: self.client.update(
            target, name, *args, update_id=update_id, timeout=timeout, wait_for=wait_for))

    async def update_result(self, update_id: str, timeout: float = 0.0) -> Any:
        """The outcome of an earlier update of the current run."""
        return await self.client.update_result(await self._target(), update_id, timeout)

    async def cancel(self, reason: str | None = None) -> bool:
        return await self._at_current(lambda target: self.client.cancel(target, reason))

    async def terminate(self, reason: str | None = None) -> None:
        await self._at_current(lambda target: self.client.terminate(target, reason))

    async def pause(self, reason: str | None = None) -> bool:
        return await self._at_current(lambda target: self.client.pause(target, reason))

    async def resume(self, reason: str | None = None) -> bool:
        return await self._at_current(lambda target: self.client.resume(target, reason))

    async def tree(self) -> list[RunInfo]:
        """The current run and its child runs, depth first."""
        return await self.client.tree(await self._target())

    async def chain(self) -> list[RunInfo]:
        """The continue-as-new chain this run belongs to, oldest first."""
        return await self.client.chain(self.ref)

    def explore(self, **options: Any) -> Any:
        """The history explorer widget (see :meth:`RunHandle.explore`)."""
        return self._sync().explore(**options)

    def card(self, **options: Any) -> Any:
        """The live run card (see :meth:`RunHandle.card`)."""
        return self._sync().card(**options)

    def graph(self, **options: Any) -> Any:
        """A DAG run's graph (see :meth:`RunHandle.graph`)."""
        return self._sync().graph(**options)

    def _sync(self) -> Any:
        assert sync_twin is not None, "harvest_studio.client.sync_client registers sync_twin"
        return sync_twin(self)

    def __repr__(self) -> str:
        return f"<run {self.workflow_id} ({self.run_id})>"


class AsyncUpdateHandle:
    """An update the run admitted (its validator accepted it); :meth:`result` waits for the
    handler's outcome. ``client.update(..., wait_for="admitted")`` returns one."""

    def __init__(self, client: HandleClient, run_id: str, update_id: str, name: str) -> None:
        self.client = client
        self.run_id = run_id
        self.id = update_id
        self.name = name

    async def result(self, timeout: float = 30.0) -> Any:
        """The handler's result; :class:`UpdateFailedError` if it raised,
        :class:`UpdateTimeoutError` if it is not done within ``timeout`` seconds."""
        return await self.client.update_result(self.run_id, self.id, timeout)

    def __repr__(self) -> str:
        return f"<update {self.name} {self.id} of run {self.run_id}>"
