"""Talking to runs for :class:`AsyncClient`: signals, queries, updates, cancel, terminate,
pause and resume."""

from __future__ import annotations

import uuid
from typing import Any

from .. import store
from ..model import serde
from ..model.errors import (
    QueryError,
    QueryTimeoutError,
    RunNotFoundError,
    RunNotRunningError,
    UnknownQueryError,
    UpdateFailedError,
    UpdateRejectedError,
    UpdateTimeoutError,
    UsageError,
)
from ..model.events import CancelRequested, SignalReceived
from ..model.limits import MAX_ID_LENGTH, MAX_REASON_LENGTH, check_name, check_text
from ._audit import audited
from ._base import ClientBase
from ._retry import has, retried
from .handles import AsyncUpdateHandle

UPDATE_STAGES = ("completed", "admitted")
_ENDED = frozenset({"COMPLETED", "FAILED", "REJECTED"})
_ADMITTED_OR_LATER = frozenset({"ADMITTED", *_ENDED})


class TalkingClient(ClientBase):
    """Signals, queries, updates, cancel, terminate, pause and resume."""

    @audited("run.signal", "run", "ref")
    @retried(has("idempotency_key"))
    async def signal(
        self, ref: str, name: str, payload: Any = None, *, idempotency_key: str | None = None
    ) -> bool:
        """Send signal ``name`` with a JSON ``payload`` to a running run.

        Signals are recorded once each, in the order they were sent. With an
        ``idempotency_key``, repeats of the key are no-ops: returns False for them.
        """
        if not name or not isinstance(name, str):
            raise UsageError("a signal needs a name")
        check_name("a signal name", name)
        check_text("an idempotency key", idempotency_key, MAX_ID_LENGTH, optional=True)
        event = SignalReceived(name=name, payload=payload, idempotency_key=idempotency_key)
        key = None if idempotency_key is None else f"signal:{idempotency_key}"
        return await self._queue(ref, event, dedupe_key=key, what="signal")

    @retried(True)
    async def query(self, ref: str, name: str, *args: Any, timeout: float = 5.0) -> Any:
        """Ask a run (running or ended) a question its code answers with a query handler.

        A worker serving the workflow type replays the run's history and calls the handler;
        nothing is written to history. Raises :class:`UnknownQueryError`,
        :class:`QueryError` or :class:`QueryTimeoutError`.
        """
        if not name:
            raise UsageError("a query needs a name")
        check_name("a query name", name)
        args_json = serde.dumps(list(args), what="query arguments")
        run_id = await self._run_id(ref)
        async with self.pool.connection() as conn:
            query_id = await store.submit_query(conn, run_id, name, args_json)
        if query_id is None:
            raise RunNotFoundError(f"no run {ref!r}")
        async def answered() -> tuple[bool, Any, str | None]:
            async with self.pool.connection() as conn:
                row = await store.get_query(conn, query_id)
            return row is not None and row["status"] != "PENDING", row, None

        try:
            row = await self._wait_for(
                f"q:{query_id}",
                answered,
                timeout=timeout,
                interval=0.5,
                expired=lambda: QueryTimeoutError(
                    f"no worker answered query {name!r} on run {ref} within {timeout}s"
                ),
            )
        finally:
            async with self.pool.connection() as conn:
                await store.forget_query(conn, query_id)
        if row["status"] == "ANSWERED":
            return row["result"]
        error = row["error"] or {}
        if error.get("code") == "unknown_query":
            raise UnknownQueryError(str(error.get("message")))
        raise QueryError(f"{error.get('type', error.get('code'))}: {error.get('message')}")

    @audited("run.update", "run", "ref")
    @retried(has("update_id"))
    async def update(
        self,
        ref: str,
        name: str,
        *args: Any,
        update_id: str | None = None,
        timeout: float = 30.0,
        wait_for: str = "completed",
    ) -> Any:
        """Send an update and wait for its result.

        The workflow's validator may reject it (:class:`UpdateRejectedError`, nothing is
        written); once admitted, its handler runs as part of the workflow and its result
        (or :class:`UpdateFailedError`) comes back. Repeating an ``update_id`` returns the
        first outcome instead of updating again; :meth:`update_result` fetches it later.

        ``wait_for="admitted"`` returns as soon as the run has admitted the update, with an
        :class:`AsyncUpdateHandle` whose ``result()`` waits for the handler:

        >>> pending = await client.update(                    # doctest: +SKIP
        ...     run.id, "approve", "ann", wait_for="admitted")
        >>> await pending.result(timeout=60)                 # doctest: +SKIP
        """
        if not name:
            raise UsageError("an update needs a name")
        check_name("an update name", name)
        check_text("an update id", update_id, MAX_ID_LENGTH, optional=True)
        if wait_for not in UPDATE_STAGES:
            stages = ", ".join(UPDATE_STAGES)
            raise UsageError(f"wait_for must be one of {stages}, not {wait_for!r}")
        args_json = serde.dumps(list(args), what="update arguments")
        update_id = update_id or str(uuid.uuid4())
        run_id = await self._run_id(ref)
        async with self.pool.connection() as conn:
            await store.request_update(conn, run_id, update_id, name, args_json)
        if wait_for == "admitted":
            await self._wait_update(run_id, update_id, timeout, settled=_ADMITTED_OR_LATER)
            return AsyncUpdateHandle(self, run_id, update_id, name)
        return await self._wait_update(run_id, update_id, timeout)

    @retried(True)
    async def update_result(self, ref: str, update_id: str, timeout: float = 0.0) -> Any:
        """The outcome of an earlier update (waiting up to ``timeout`` if not done yet)."""
        return await self._wait_update(await self._run_id(ref), update_id, timeout)

    @audited("run.cancel", "run", "ref")
    @retried(True)
    async def cancel(self, ref: str, reason: str | None = None) -> bool:
        """Ask a run to cancel. Its code sees ``asyncio.CancelledError`` at its current
        ``await``, may run compensations, and ends CANCELLED; running activities learn of
        it at their next heartbeat. Returns False if cancellation was already requested."""
        event = CancelRequested(reason=check_text("a reason", reason, MAX_REASON_LENGTH,
                                                  optional=True))
        return await self._queue(ref, event, dedupe_key="cancel", what="cancel request")

    @audited("run.terminate", "run", "ref")
    @retried(True)
    async def terminate(self, ref: str, reason: str | None = None) -> None:
        """End a run at once (TERMINATED): no workflow code runs, open tasks are dropped."""
        check_text("a reason", reason, MAX_REASON_LENGTH, optional=True)
        run_id = await self._run_id(ref)
        async with self.pool.connection() as conn:
            ended = await store.close_runs(
                conn,
                [run_id],
                status="TERMINATED",
                event_type="WorkflowTerminated",
                payload_json=serde.dumps({"reason": reason}),
                error_json=serde.dumps(
                    {"type": "Terminated", "message": reason or "terminated on request"}
                ),
            )
        if not ended:
            raise RunNotRunningError(f"run {ref} has already ended")

    @audited("run.pause", "run", "ref")
    @retried(True)
    async def pause(self, ref: str, reason: str | None = None) -> bool:
        """Stop dispatching the run's workflow tasks until :meth:`resume` (activities that
        are running finish). Returns False if it was already paused."""
        return await self._set_paused(ref, True, reason)

    @audited("run.resume", "run", "ref")
    @retried(True)
    async def resume(self, ref: str, reason: str | None = None) -> bool:
        """Undo :meth:`pause`. Returns False if it was not paused."""
        return await self._set_paused(ref, False, reason)

    async def _queue(self, ref: str, event: Any, *, dedupe_key: str | None, what: str
    ) -> bool:
        run_id = await self._run_id(ref)
        async with self.pool.connection() as conn:
            status = await store.queue_event(
                conn, run_id, event.type_name, serde.dumps(event.fields(), what=what),
                dedupe_key=dedupe_key,
            )
        if status == "not_running":
            raise RunNotRunningError(f"run {ref} has ended; it cannot take a {what}")
        return status == "queued"

    async def _wait_update(
        self, run_id: str, update_id: str, timeout: float, *, settled: frozenset[str] = _ENDED
    ) -> Any:
        last: dict[str, Any] = {}

        async def reached() -> tuple[bool, Any, str | None]:
            async with self.pool.connection() as conn:
                row = await store.get_update(conn, run_id, update_id)
            if row is None:
                raise UsageError(f"no update {update_id!r} on run {run_id}")
            last.update(row)
            return row["status"] in settled, row, None

        row = await self._wait_for(
            f"u:{run_id}",
            reached,
            timeout=timeout,
            interval=0.5,
            expired=lambda: UpdateTimeoutError(
                f"update {update_id} is {last.get('status')} after {timeout}s"
            ),
        )
        error = row["error"] or {}
        if row["status"] == "REJECTED":
            raise UpdateRejectedError(f"update {row['name']!r} rejected: {error.get('message')}")
        if row["status"] not in _ENDED:
            return None  # admitted, handler still going
        if row["status"] == "FAILED":
            raise UpdateFailedError(
                f"update {row['name']!r} failed: {error.get('type')}: {error.get('message')}"
            )
        return row["result"]

    async def _set_paused(self, ref: str, paused: bool, reason: str | None) -> bool:
        """:meth:`AsyncClient.pause` and :meth:`AsyncClient.resume`."""
        check_text("a reason", reason, MAX_REASON_LENGTH, optional=True)
        run_id = await self._run_id(ref)
        async with self.pool.connection() as conn:
            status = await store.set_paused(conn, run_id, paused=paused, reason=reason)
        if status == "not_running":
            raise RunNotRunningError(f"run {ref} has ended")
        return status == "done"
