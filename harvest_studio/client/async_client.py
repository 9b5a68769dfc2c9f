"""The async client: one database and namespace, its connection pool and notification
listener; reads and waits here, and starts, talks to and resets runs through helper modules."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from .. import store
from ..model.definitions import WorkflowDefinition
from ..model.durations import Duration
from ..model.errors import (
    NamespaceNotEmptyError,
    NamespaceNotFoundError,
    RunNotFoundError,
    RunTimeoutError,
    UsageError,
)
from ..model.events import HistoryEvent, decode
from ..model.filters import parse_filter
from ..store.connection import database_url, ensure_migrated
from . import _resets, _starting, _talking
from .handles import AsyncRunHandle
from .info import TERMINAL_STATUSES, ResetResult, RunInfo, RunPage, _decode_page_token, _outcome

_NAMESPACE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}")


class AsyncClient:
    """Async access to one database and namespace. Use :func:`connect` for the sync face."""

    def __init__(self, url: str | None = None, *, namespace: str = "default") -> None:
        self.url = database_url(url)
        self.namespace = namespace
        self._pool: AsyncConnectionPool | None = None
        self._waiters: dict[str, list[asyncio.Event]] = {}
        # Registrations are never withdrawn, so a type seen registered stays startable.
        self._registered: dict[str, dict[str, Any]] = {}
        self._namespace_ok = namespace == "default"
        self._listener: asyncio.Task[None] | None = None

    async def open(self) -> AsyncClient:
        if self._pool is None:
            await ensure_migrated(self.url)
            pool = AsyncConnectionPool(
                self.url, min_size=1, max_size=4, kwargs={"autocommit": True}, open=False
            )
            await pool.open(wait=True)
            self._pool = pool
        return self

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def __aenter__(self) -> AsyncClient:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def pool(self) -> AsyncConnectionPool:
        if self._pool is None:
            raise UsageError("client is not open (use `async with` or `await client.open()`)")
        return self._pool

    # -- starting ---------------------------------------------------------------------------
    async def start(
        self,
        workflow: WorkflowDefinition | str,
        *args: Any,
        id: str | None = None,
        id_reuse_policy: str = "allow_duplicate",
        idempotency_key: str | None = None,
        execution_timeout: Duration | None = None,
        queue: str | None = None,
        force: bool = False,
        start_signals: Sequence[tuple[str, Any]] = (),
        id_conflict_policy: str = "fail",
        search_attributes: dict[str, Any] | None = None,
        memo: Any = None,
        start_delay: Duration | None = None,
    ) -> AsyncRunHandle:
        """Start a run of ``workflow`` with ``args``; returns its handle.

        ``id`` is the business id (one open run per id; ``id_reuse_policy`` decides about
        closed ones: ``allow_duplicate``, ``allow_duplicate_failed_only``,
        ``reject_duplicate``). A repeated ``idempotency_key`` returns the first run instead of
        starting another. Starting a type no worker ever registered raises
        :class:`UnknownWorkflowError` unless ``force=True``.

        While a run with ``id`` is open, ``id_conflict_policy`` decides: ``fail`` raises
        :class:`WorkflowAlreadyStartedError`, ``use_existing`` returns the open run;
        ``id_reuse_policy="terminate_if_running"`` terminates it and starts anew.
        ``search_attributes`` are indexed for ``list(query=...)``; ``memo`` is stored as is;
        ``start_delay`` holds the first workflow task back.
        """
        return await _starting.start(
            self,
            workflow,
            *args,
            id=id,
            id_reuse_policy=id_reuse_policy,
            idempotency_key=idempotency_key,
            execution_timeout=execution_timeout,
            queue=queue,
            force=force,
            start_signals=start_signals,
            id_conflict_policy=id_conflict_policy,
            search_attributes=search_attributes,
            memo=memo,
            start_delay=start_delay,
        )

    async def signal_with_start(
        self,
        workflow: WorkflowDefinition | str,
        *args: Any,
        id: str,
        signal: str,
        signal_payload: Any = None,
        **start_options: Any,
    ) -> AsyncRunHandle:
        """Signal the running run of ``id``, or start one with the signal delivered before
        its code first runs."""
        return await _starting.signal_with_start(
            self, workflow, *args, id=id, signal=signal, signal_payload=signal_payload,
            **start_options,
        )

    async def update_with_start(
        self,
        workflow: WorkflowDefinition | str,
        *args: Any,
        id: str,
        update: str,
        update_args: Sequence[Any] = (),
        update_id: str | None = None,
        timeout: float = 30.0,
        **start_options: Any,
    ) -> tuple[AsyncRunHandle, Any]:
        """Start the run of ``id`` unless one is open, then send it an update."""
        return await _starting.update_with_start(
            self, workflow, *args, id=id, update=update, update_args=update_args,
            update_id=update_id, timeout=timeout, **start_options,
        )

    # -- reset, rerun, retry -----------------------------------------------------------------
    async def reset(
        self,
        ref: str,
        *,
        to_event: int | None = None,
        to: str | None = None,
        reapply_signals: str = "buffer",
        dry_run: bool = False,
        reason: str | None = None,
    ) -> ResetResult:
        """Make a new run from this run's history up to a boundary, and let the code running
        now take it from there.

        The boundary is ``to_event`` (an inbound event number) or ``to`` =
        ``"last_workflow_task"`` / ``"first_activity"``. It must be a completed point (no
        activity, timer or child in flight); otherwise, and always with ``dry_run``, nothing
        is written and the result names the nearest valid points. Signals recorded after the
        boundary are re-delivered in their original order (``reapply_signals="buffer"``) or
        dropped (``"drop"``). A running source ends TERMINATED with a ``WorkflowReset`` event.
        """
        return await _resets.reset(
            self, ref, to_event=to_event, to=to, reapply_signals=reapply_signals,
            dry_run=dry_run, reason=reason,
        )

    async def retry_failed_activity(self, ref: str, *, reason: str | None = None) -> ResetResult:
        """Reset to just before the decision that scheduled the last activity that failed
        for good, so the code running now schedules it again."""
        return await _resets.retry_failed_activity(self, ref, reason=reason)

    async def rerun(self, ref: str) -> AsyncRunHandle:
        """Start a fresh run of an ended run's workflow with its original input and id."""
        return await _resets.rerun(self, ref)

    async def registered_workflows(self) -> list[str]:
        """Names of the workflow types some worker has served in this namespace."""
        async with self.pool.connection() as conn:
            return await store.registered_workflow_names(conn, self.namespace)

    # -- namespaces --------------------------------------------------------------------------
    async def create_namespace(self, name: str, description: str | None = None) -> bool:
        """Create a namespace (False if it exists). Names: letters, digits, ``-_.``."""
        if not _NAMESPACE_NAME.fullmatch(name or ""):
            raise UsageError(
                f"bad namespace name {name!r}: 1-63 letters, digits, '-', '_' or '.'"
            )
        async with self.pool.connection() as conn:
            return await store.create_namespace(conn, name, description)

    async def list_namespaces(self) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            return await store.list_namespaces(conn)

    async def delete_namespace(self, name: str) -> None:
        """Delete a namespace that has no runs (``default`` cannot be deleted)."""
        if name == "default":
            raise UsageError("the default namespace cannot be deleted")
        async with self.pool.connection() as conn:
            outcome = await store.delete_namespace(conn, name)
        if outcome == "not_found":
            raise NamespaceNotFoundError(f"no namespace {name!r}")
        if outcome == "not_empty":
            raise NamespaceNotEmptyError(f"namespace {name!r} still has runs")

    async def _check_namespace(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if self._namespace_ok:
            return
        if not await store.namespace_exists(conn, self.namespace):
            raise NamespaceNotFoundError(
                f"no namespace {self.namespace!r}; create it with create_namespace()"
            )
        self._namespace_ok = True

    # -- talking to runs ---------------------------------------------------------------------
    async def _run_id(self, ref: str) -> str:
        async with self.pool.connection() as conn:
            row = await store.get_run(conn, self.namespace, ref)
        if row is None:
            raise RunNotFoundError(f"no run {ref!r} in namespace {self.namespace!r}")
        return str(row["run_id"])

    async def signal(
        self, ref: str, name: str, payload: Any = None, *, idempotency_key: str | None = None
    ) -> bool:
        """Send signal ``name`` with a JSON ``payload`` to a running run.

        Signals are recorded once each, in the order they were sent. With an
        ``idempotency_key``, repeats of the key are no-ops: returns False for them.
        """
        return await _talking.signal(self, ref, name, payload, idempotency_key=idempotency_key)

    async def query(self, ref: str, name: str, *args: Any, timeout: float = 5.0) -> Any:
        """Ask a run (running or ended) a question its code answers with a query handler.

        A worker serving the workflow type replays the run's history and calls the handler;
        nothing is written to history. Raises :class:`UnknownQueryError`,
        :class:`QueryError` or :class:`QueryTimeoutError`.
        """
        return await _talking.query(self, ref, name, *args, timeout=timeout)

    async def update(
        self,
        ref: str,
        name: str,
        *args: Any,
        update_id: str | None = None,
        timeout: float = 30.0,
    ) -> Any:
        """Send an update and wait for its result.

        The workflow's validator may reject it (:class:`UpdateRejectedError`, nothing is
        written); once admitted, its handler runs as part of the workflow and its result
        (or :class:`UpdateFailedError`) comes back. Repeating an ``update_id`` returns the
        first outcome instead of updating again; :meth:`update_result` fetches it later.
        """
        return await _talking.update(self, ref, name, *args, update_id=update_id, timeout=timeout)

    async def update_result(self, ref: str, update_id: str, timeout: float = 0.0) -> Any:
        """The outcome of an earlier update (waiting up to ``timeout`` if not done yet)."""
        return await _talking.update_result(self, ref, update_id, timeout)

    async def cancel(self, ref: str, reason: str | None = None) -> bool:
        """Ask a run to cancel. Its code sees ``asyncio.CancelledError`` at its current
        ``await``, may run compensations, and ends CANCELLED; running activities learn of
        it at their next heartbeat. Returns False if cancellation was already requested."""
        return await _talking.cancel(self, ref, reason)

    async def terminate(self, ref: str, reason: str | None = None) -> None:
        """End a run at once (TERMINATED): no workflow code runs, open tasks are dropped."""
        await _talking.terminate(self, ref, reason)

    async def pause(self, ref: str, reason: str | None = None) -> bool:
        """Stop dispatching the run's workflow tasks until :meth:`resume` (activities that
        are running finish). Returns False if it was already paused."""
        return await _talking.set_paused(self, ref, True, reason)

    async def resume(self, ref: str, reason: str | None = None) -> bool:
        """Undo :meth:`pause`. Returns False if it was not paused."""
        return await _talking.set_paused(self, ref, False, reason)

    # -- looking -----------------------------------------------------------------------------
    def handle(self, ref: str) -> AsyncRunHandle:
        """A handle for a workflow id or run id (resolved lazily)."""
        return AsyncRunHandle(self, ref, None)

    async def describe(self, ref: str) -> RunInfo:
        async with self.pool.connection() as conn:
            row = await store.get_run(conn, self.namespace, ref)
            if row is None:
                raise RunNotFoundError(f"no run {ref!r} in namespace {self.namespace!r}")
            pending = await store.run_activity_summary(conn, row["run_id"])
            unserved = (
                await store.unserved_queues(conn, row["run_id"])
                if row["status"] == "RUNNING"
                else []
            )
        return RunInfo.from_row(row, pending, unserved)

    async def tree(self, ref: str) -> list[RunInfo]:
        """The run and its descendants (``depth`` 0 is the run itself)."""
        run_id = await self._run_id(ref)
        async with self.pool.connection() as conn:
            rows = await store.run_tree(conn, run_id)
        return [RunInfo.from_row(r) for r in rows]

    async def chain(self, ref: str) -> list[RunInfo]:
        """Every run of a continue-as-new chain that ``ref`` belongs to, oldest first."""
        run_id = await self._run_id(ref)
        async with self.pool.connection() as conn:
            rows = await store.run_chain(conn, run_id)
        return [RunInfo.from_row(r) for r in rows]

    async def history(
        self, ref: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[HistoryEvent]:
        info = await self.describe(ref)
        async with self.pool.connection() as conn:
            rows = await store.get_history(conn, info.run_id, after_seq=after_seq, limit=limit)
        return [
            HistoryEvent(r["seq"], r["at"], decode(r["event_type"], r["payload"])) for r in rows
        ]

    async def list(
        self,
        *,
        workflow_type: str | None = None,
        status: str | Sequence[str] | None = None,
        started_after: datetime | None = None,
        started_before: datetime | None = None,
        workflow_id: str | None = None,
        blocked: bool | None = None,
        query: str | None = None,
        limit: int = 50,
        page_token: str | None = None,
    ) -> RunPage:
        """Runs, newest first. Pass the returned ``next_page_token`` for the next page.

        ``query`` is a filter over search attributes and built-in fields, for example
        ``'customer = "acme" AND amount > 100 AND status = "RUNNING"'`` (see
        :mod:`harvest_studio._filters`); a malformed one raises ``FilterError``.
        """
        parsed = parse_filter(query) if query is not None else None
        statuses = [status] if isinstance(status, str) else list(status or [])
        for s in statuses:
            if s not in ("RUNNING", *TERMINAL_STATUSES):
                raise UsageError(f"unknown status {s!r}")
        if not 1 <= limit <= 1000:
            raise UsageError("limit must be between 1 and 1000")
        after = _decode_page_token(page_token) if page_token else None
        flt = store.RunFilter(
            namespace=self.namespace,
            workflow_type=workflow_type,
            statuses=statuses,
            started_after=started_after,
            started_before=started_before,
            workflow_id=workflow_id,
            blocked=blocked,
            query=parsed,
        )
        async with self.pool.connection() as conn:
            rows = await store.list_runs(conn, flt, limit=limit + 1, after=after)
        runs = [RunInfo.from_row(r) for r in rows[:limit]]
        token = None
        if len(rows) > limit:
            last = runs[-1]
            token = f"{last.created_at.isoformat()}|{last.run_id}"
        return RunPage(runs, token)

    async def result(
        self, ref: str, timeout: float | None = None, *, run_id: str | None = None
    ) -> Any:
        """Wait for a run to end: its result, or :class:`WorkflowFailedError`."""
        current = run_id or (await self.describe(ref)).run_id

        async def ended() -> tuple[bool, Any, str | None]:
            nonlocal current
            async with self.pool.connection() as conn:
                row = await store.run_status(conn, current)
            assert row is not None
            if row["status"] == "CONTINUED_AS_NEW":
                # follow the chain: the result is the last run's
                current = str((row["result"] or {}).get("continued_as"))
                return False, None, current
            return row["status"] in TERMINAL_STATUSES, (current, row), None

        ended_run, row = await self._wait_for(
            current,
            ended,
            timeout=timeout,
            interval=1.0,
            expired=lambda: RunTimeoutError(f"run {ref} did not finish within {timeout}s"),
        )
        return _outcome(ended_run, row)

    async def _wait_for(
        self,
        key: str,
        poll: Callable[[], Awaitable[tuple[bool, Any, str | None]]],
        *,
        timeout: float | None,
        interval: float,
        expired: Callable[[], Exception],
    ) -> Any:
        """Call ``poll()`` until it returns ``(True, value, _)`` and return ``value``.

        Between calls, wait for a notification on ``key`` — or ``interval`` seconds, since
        notifications are lost when a connection drops. ``poll`` returns ``(False, _, k)``
        to follow another key ``k`` (a continue-as-new chain) and poll again at once.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        event = asyncio.Event()
        keys = [key]
        self._waiters.setdefault(key, []).append(event)
        try:
            await self._ensure_listener()
            while True:
                done, value, follow = await poll()
                if done:
                    return value
                if follow is not None:
                    keys.append(follow)
                    self._waiters.setdefault(follow, []).append(event)
                    continue
                wait = interval
                if deadline is not None:
                    wait = min(wait, deadline - loop.time())
                    if wait <= 0:
                        raise expired()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), wait)
                event.clear()
        finally:
            for k in keys:
                waiting = self._waiters.get(k, [])
                if event in waiting:
                    waiting.remove(event)
                if not waiting:
                    self._waiters.pop(k, None)

    async def _ensure_listener(self) -> None:
        if self._listener is None or self._listener.done():
            ready = asyncio.Event()
            self._listener = asyncio.create_task(self._listen(ready))
            await asyncio.wait_for(ready.wait(), 10)

    async def _listen(self, ready: asyncio.Event) -> None:
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {store.RUNS_CHANNEL}")
                    await conn.execute(f"LISTEN {store.QUERIES_CHANNEL}")
                    ready.set()
                    for events in self._waiters.values():
                        for e in events:
                            e.set()
                    async for note in conn.notifies():
                        for e in self._waiters.get(note.payload, []):
                            e.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                ready.set()
                await asyncio.sleep(1.0)
