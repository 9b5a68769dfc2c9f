"""What every async client operation stands on: one database and namespace, the connection
pool, the notification listener, run lookups, and waiting for runs to end."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from typing import Any, Self

import psycopg
from psycopg_pool import AsyncConnectionPool

from .. import store
from ..model.errors import (
    DatabaseUnavailableError,
    NamespaceNotFoundError,
    RunNotFoundError,
    RunTimeoutError,
    UsageError,
)
from ..model.events import HistoryEvent, decode
from ..model.limits import MAX_ID_LENGTH, check_text
from ..store.connection import database_url, describe_url, ensure_migrated
from ._audit import Caller, check_caller, current_caller, os_user
from ._retry import retried
from .info import TERMINAL_STATUSES, AttemptLog, RunInfo, _outcome

POOL_WAIT = 3.0  # seconds to wait for a pooled connection; the operation's retries go on
_NAMESPACE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}")


class ClientBase:
    """The async client's foundation; :class:`AsyncClient` adds the operations in layers
    (talking to runs, starting them, resetting them) on top of it."""

    def __init__(
        self,
        url: str | None = None,
        *,
        namespace: str = "default",
        actor: str | None = None,
        front_end: str = "python",
        max_connections: int = 4,
    ) -> None:
        self.url = database_url(url)
        self._max_connections = max_connections
        self.namespace = namespace
        # the audit trail records this client's mutations for this caller
        self.caller = check_caller(Caller(actor or os_user(), front_end))
        self._pool: AsyncConnectionPool | None = None
        self._waiters: dict[str, list[asyncio.Event]] = {}
        # Registrations are never withdrawn, so a type seen registered stays startable.
        self._registered: dict[str, dict[str, Any]] = {}
        self._namespace_ok = namespace == "default"
        self._listener: asyncio.Task[None] | None = None

    async def open(self) -> Self:
        """Connect (migrating the database if it needs it). A database that cannot be
        reached is a :class:`DatabaseUnavailableError` with libpq's reason in one line."""
        if self._pool is None:
            try:
                await ensure_migrated(self.url)
                pool = AsyncConnectionPool(
                    self.url, min_size=1, max_size=self._max_connections,
                    kwargs={"autocommit": True},
                    open=False, timeout=POOL_WAIT, **store.clock_pool_options(),
                )
                await pool.open(wait=True)
            except psycopg.OperationalError as exc:
                reason = " ".join(str(exc).split()) or type(exc).__name__
                raise DatabaseUnavailableError(
                    f"cannot connect to {describe_url(self.url)}: {reason}"
                ) from None
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

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def caller_actor(self) -> str:
        """Who the current call acts for (the client's actor, or a server's request's)."""
        return current_caller(self.caller).actor

    @property
    def pool(self) -> AsyncConnectionPool:
        if self._pool is None:
            raise UsageError("client is not open (use `async with` or `await client.open()`)")
        return self._pool

    async def _check_namespace(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if self._namespace_ok:
            return
        if not await store.namespace_exists(conn, self.namespace):
            raise NamespaceNotFoundError(
                f"no namespace {self.namespace!r}; create it with create_namespace()"
            )
        self._namespace_ok = True

    async def _run_id(self, ref: str) -> str:
        check_ref(ref)
        async with self.pool.connection() as conn:
            row = await store.get_run(conn, self.namespace, ref)
        if row is None:
            raise RunNotFoundError(f"no run {ref!r} in namespace {self.namespace!r}")
        return str(row["run_id"])

    @retried(True)
    async def chain_head(self, run_id: str) -> str:
        """The newest run of the continue-as-new chain that run ``run_id`` belongs to (the
        run a handle made for ``run_id`` talks to)."""
        async with self.pool.connection() as conn:
            head = await store.chain_head(conn, run_id)
        if head is None:
            raise RunNotFoundError(f"no run {run_id!r} in namespace {self.namespace!r}")
        return head

    @retried(True)
    async def current_run_id(self, ref: str) -> str:
        """The run a handle of ``ref`` talks to: a workflow id stands for its open run (or
        the newest of its continue-as-new chain), a run id for that run — except the first
        run of a run started without an id, whose run id is also its workflow id."""
        check_ref(ref)
        async with self.pool.connection() as conn:
            row = await store.get_run(conn, self.namespace, ref)
            if row is None:
                raise RunNotFoundError(f"no run {ref!r} in namespace {self.namespace!r}")
            if row["workflow_id"] != ref or row["status"] != "CONTINUED_AS_NEW":
                return str(row["run_id"])
            return await store.chain_head(conn, str(row["run_id"])) or str(row["run_id"])

    @retried(True)
    async def describe(self, ref: str) -> RunInfo:
        check_ref(ref)
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

    @retried(True)
    async def history(
        self, ref: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[HistoryEvent]:
        info = await self.describe(ref)
        async with self.pool.connection() as conn:
            rows = await store.get_history(conn, info.run_id, after_seq=after_seq, limit=limit)
        return [
            HistoryEvent(r["seq"], r["at"], decode(r["event_type"], r["payload"])) for r in rows
        ]

    @retried(True)
    async def tree(self, ref: str) -> list[RunInfo]:
        """The run and its descendants (``depth`` 0 is the run itself)."""
        run_id = await self._run_id(ref)
        async with self.pool.connection() as conn:
            rows = await store.run_tree(conn, run_id)
        return [RunInfo.from_row(r) for r in rows]

    @retried(True)
    async def chain(self, ref: str) -> list[RunInfo]:
        """Every run of a continue-as-new chain that ``ref`` belongs to, oldest first."""
        run_id = await self._run_id(ref)
        async with self.pool.connection() as conn:
            rows = await store.run_chain(conn, run_id)
        return [RunInfo.from_row(r) for r in rows]

    @retried(True)
    async def attempt_logs(
        self, ref: str, *, activity_seq: int | None = None, latest: bool = False
    ) -> list[AttemptLog]:
        """What the run's activity attempts printed or logged (all of them, or those of the
        activity scheduled at event ``activity_seq``), in order; with ``latest``, only the
        one written last."""
        run_id = await self._run_id(ref)
        async with self.pool.connection() as conn:
            rows = await store.attempt_logs(conn, run_id, activity_seq, latest=latest)
        return [AttemptLog(**row) for row in rows]

    @retried(True)
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


def check_ref(ref: Any) -> None:
    """A run reference (a workflow id or run id) that can be looked up: :class:`UsageError`
    for one that is not text, :class:`RunNotFoundError` for one longer than any id."""
    if isinstance(ref, str) and len(ref) > MAX_ID_LENGTH:
        raise RunNotFoundError(f"no run {ref[:40]!r}... (longer than any id)")
    check_text("a run reference (workflow id or run id)", ref, MAX_ID_LENGTH)
