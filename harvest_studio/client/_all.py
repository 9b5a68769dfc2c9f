"""Starting runs and looking at them: the async client, its sync face, and run handles."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from .. import store
from ..model import serde
from ..model.definitions import DEFAULT_QUEUE, WorkflowDefinition
from ..model.durations import Duration, optional_seconds
from ..model.errors import (
    NamespaceNotEmptyError,
    NamespaceNotFoundError,
    QueryError,
    QueryTimeoutError,
    RunNotFoundError,
    RunNotRunningError,
    RunTimeoutError,
    UnknownQueryError,
    UnknownWorkflowError,
    UpdateFailedError,
    UpdateRejectedError,
    UpdateTimeoutError,
    UsageError,
    WorkflowAlreadyStartedError,
    WorkflowFailedError,
)
from ..model.events import (
    CancelRequested,
    HistoryEvent,
    SignalReceived,
    WorkflowResetFork,
    WorkflowStarted,
    decode,
)
from ..model.filters import parse_filter
from ..model.reset_points import (
    REAPPLY_MODES,
    ResetPlan,
    last_failed_activity_point,
    plan,
    resolve_target,
)
from ..store.connection import database_url, ensure_migrated
from ._loop_thread import LoopThread

ID_REUSE_POLICIES = (
    "allow_duplicate",
    "allow_duplicate_failed_only",
    "reject_duplicate",
    "terminate_if_running",
)
ID_CONFLICT_POLICIES = ("fail", "use_existing")
TERMINAL_STATUSES = (
    "COMPLETED",
    "FAILED",
    "TIMED_OUT",
    "CANCELLED",
    "TERMINATED",
    "CONTINUED_AS_NEW",
)
MAX_ID_LENGTH = 400
_NAMESPACE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}")


@dataclass(frozen=True)
class RunInfo:
    """A run as ``describe()`` and ``list()`` show it."""

    run_id: str
    workflow_id: str
    workflow_type: str
    namespace: str
    queue: str
    status: str
    input: list[Any]
    result: Any
    error: dict[str, Any] | None
    events: int
    created_at: datetime
    closed_at: datetime | None
    fingerprint: str | None
    blocked: dict[str, Any] | None
    pending: tuple[dict[str, Any], ...] = ()
    paused: bool = False
    cancel_requested: bool = False
    continued_from: str | None = None
    search_attributes: dict[str, Any] | None = None
    memo: Any = None
    parent_run_id: str | None = None
    parent_close_policy: str | None = None
    depth: int = 0
    reset_from: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any], pending: Sequence[dict[str, Any]] = ()) -> RunInfo:
        return cls(
            run_id=row["run_id"],
            workflow_id=row["workflow_id"],
            workflow_type=row["workflow_type"],
            namespace=row["namespace"],
            queue=row["queue"],
            status=row["status"],
            input=row["input"],
            result=row["result"],
            error=row["error"],
            events=row["last_seq"],
            created_at=row["created_at"],
            closed_at=row["closed_at"],
            fingerprint=row["fingerprint"],
            blocked=row["blocked"],
            pending=tuple(pending),
            paused=bool(row.get("paused")),
            cancel_requested=row.get("cancel_requested_at") is not None,
            continued_from=row.get("continued_from"),
            search_attributes=row.get("search_attributes"),
            memo=row.get("memo"),
            parent_run_id=row.get("parent_run_id"),
            parent_close_policy=row.get("parent_close_policy"),
            depth=int(row.get("depth") or 0),
            reset_from=row.get("reset_from"),
        )

    @property
    def is_blocked(self) -> bool:
        return self.blocked is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "workflow_id": self.workflow_id,
            "workflow_type": self.workflow_type,
            "namespace": self.namespace,
            "queue": self.queue,
            "status": self.status,
            "blocked": self.blocked,
            "paused": self.paused,
            "cancel_requested": self.cancel_requested,
            "continued_from": self.continued_from,
            "search_attributes": self.search_attributes,
            "memo": self.memo,
            "parent_run_id": self.parent_run_id,
            "parent_close_policy": self.parent_close_policy,
            "reset_from": self.reset_from,
            "input": self.input,
            "result": self.result,
            "error": self.error,
            "events": self.events,
            "created_at": self.created_at.isoformat(),
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "fingerprint": self.fingerprint,
            "pending": [_jsonable(p) for p in self.pending],
        }


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


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
        if isinstance(workflow, WorkflowDefinition):
            name, fingerprint = workflow.name, workflow.fingerprint
            default_queue, default_timeout = workflow.queue, workflow.execution_timeout
        elif isinstance(workflow, str) and workflow:
            name, fingerprint, default_queue, default_timeout = workflow, None, None, None
        else:
            raise UsageError(f"start needs a @workflow or a workflow name, got {workflow!r}")
        if id_reuse_policy not in ID_REUSE_POLICIES:
            raise UsageError(
                f"unknown id_reuse_policy {id_reuse_policy!r}; use one of {ID_REUSE_POLICIES}"
            )
        if id is not None and (not id or len(id) > MAX_ID_LENGTH):
            raise UsageError(f"workflow id must be 1..{MAX_ID_LENGTH} characters")
        if id_conflict_policy not in ID_CONFLICT_POLICIES:
            raise UsageError(
                f"unknown id_conflict_policy {id_conflict_policy!r}; use one of "
                f"{ID_CONFLICT_POLICIES}"
            )
        if search_attributes is not None and (
            not isinstance(search_attributes, dict)
            or not all(isinstance(k, str) and k for k in search_attributes)
        ):
            raise UsageError("search_attributes must be a dict with non-empty str keys")
        sattrs_json = (
            None
            if search_attributes is None
            else serde.dumps(search_attributes, what="search attributes")
        )
        memo_json = None if memo is None else serde.dumps(memo, what="memo")
        delay = optional_seconds(start_delay)
        timeout = optional_seconds(execution_timeout)
        if timeout is None:
            timeout = default_timeout
        input_json = serde.dumps(list(args), what="workflow arguments")
        run_id = str(uuid.uuid4())
        workflow_id = id or run_id
        async with self.pool.connection() as conn:
            if idempotency_key is not None:
                found = await store.find_run_by_idempotency_key(
                    conn, self.namespace, idempotency_key
                )
                if found:
                    return AsyncRunHandle(self, found["workflow_id"], found["run_id"])
            await self._check_namespace(conn)
            registered = self._registered.get(name)
            if registered is None:
                registered = await store.registered_workflow(conn, self.namespace, name)
                if registered is not None:
                    self._registered[name] = registered
            if registered is None and not force:
                raise UnknownWorkflowError(
                    f"no worker has registered workflow {name!r} in namespace "
                    f"{self.namespace!r}; start a worker that serves it, or force the start"
                )
            if registered is not None and default_queue is None:
                default_queue = registered["queue"]
                fingerprint = registered["fingerprint"]
                if timeout is None:
                    timeout = registered["execution_timeout"]
            worker_queue = default_queue or DEFAULT_QUEUE
            started = WorkflowStarted(
                workflow_type=name,
                workflow_id=workflow_id,
                namespace=self.namespace,
                queue=queue or worker_queue,
                args=list(args),
                fingerprint=fingerprint,
                execution_timeout=timeout,
            )
            try:
                insert = functools.partial(
                    store.insert_run,
                    conn,
                    run_id=run_id,
                    namespace=self.namespace,
                    workflow_id=workflow_id,
                    workflow_type=name,
                    queue=started.queue,
                    input_json=input_json,
                    started_json=serde.dumps(started.fields()),
                    fingerprint=fingerprint,
                    execution_timeout=timeout,
                    idempotency_key=idempotency_key,
                    start_signals=[
                        serde.dumps(
                            SignalReceived(name=n, payload=p, with_start=True).fields(),
                            what=f"payload of signal {n}",
                        )
                        for n, p in start_signals
                    ],
                    search_attributes_json=sattrs_json,
                    memo_json=memo_json,
                    start_delay=delay,
                )
                if id is None:  # a fresh random id cannot collide: one statement suffices
                    await insert()
                else:
                    async with conn.transaction():
                        existing = await self._check_reuse(
                            conn, workflow_id, id_reuse_policy, id_conflict_policy
                        )
                        if existing is not None:
                            return AsyncRunHandle(self, workflow_id, existing)
                        await insert()
            except psycopg.errors.UniqueViolation as exc:
                if idempotency_key is not None and store.is_unique_violation(
                    exc, "runs_idempotency_key"
                ):
                    found = await store.find_run_by_idempotency_key(
                        conn, self.namespace, idempotency_key
                    )
                    if found:
                        return AsyncRunHandle(self, found["workflow_id"], found["run_id"])
                raise WorkflowAlreadyStartedError(
                    f"a run with id {workflow_id!r} is already running",
                    workflow_id=workflow_id,
                ) from None
        return AsyncRunHandle(self, workflow_id, run_id)

    async def _check_reuse(
        self,
        conn: psycopg.AsyncConnection[Any],
        workflow_id: str,
        policy: str,
        conflict_policy: str = "fail",
    ) -> str | None:
        """Apply the id policies; returns the open run to use instead, if any."""
        latest = await store.latest_run_for_id(conn, self.namespace, workflow_id)
        if latest is None:
            return None
        if latest["status"] == "RUNNING" and conflict_policy == "use_existing":
            return str(latest["run_id"])
        if latest["status"] == "RUNNING" and policy == "terminate_if_running":
            await store.close_runs(
                conn,
                [latest["run_id"]],
                status="TERMINATED",
                event_type="WorkflowTerminated",
                payload_json=serde.dumps({"reason": "terminated by a new start of its id"}),
                error_json=serde.dumps(
                    {"type": "Terminated", "message": "terminated by a new start of its id"}
                ),
            )
            return None
        if latest["status"] == "RUNNING":
            raise WorkflowAlreadyStartedError(
                f"a run with id {workflow_id!r} is already running",
                workflow_id=workflow_id,
                run_id=latest["run_id"],
            )
        if policy == "reject_duplicate" or (
            policy == "allow_duplicate_failed_only" and latest["status"] == "COMPLETED"
        ):
            raise WorkflowAlreadyStartedError(
                f"id {workflow_id!r} was already used (last run {latest['status']}) and the "
                f"id reuse policy is {policy}",
                workflow_id=workflow_id,
                run_id=latest["run_id"],
            )
        return None

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
        if reapply_signals not in REAPPLY_MODES:
            raise UsageError(f"reapply_signals must be one of {REAPPLY_MODES}")
        info = await self.describe(ref)
        history = await self.history(info.run_id)
        boundary = resolve_target(history, to_event, to)
        reset_plan = plan(history, boundary)
        if dry_run or not reset_plan.valid:
            return ResetResult(reset_plan, None, applied=False)
        new_run_id = str(uuid.uuid4())
        fork = WorkflowResetFork(
            source_run_id=info.run_id, boundary=boundary, reason=reason,
            reapply_signals=reapply_signals,
        )
        signal_seqs = (
            [s["seq"] for s in reset_plan.later_signals] if reapply_signals == "buffer" else []
        )
        async with self.pool.connection() as conn:
            await store.reset_run(
                conn,
                source_run_id=info.run_id,
                new_run_id=new_run_id,
                boundary=boundary,
                fork_json=serde.dumps(fork.fields()),
                reason=reason,
                signal_seqs=signal_seqs,
            )
        return ResetResult(reset_plan, AsyncRunHandle(self, info.workflow_id, new_run_id), True)

    async def retry_failed_activity(self, ref: str, *, reason: str | None = None) -> ResetResult:
        """Reset to just before the decision that scheduled the last activity that failed
        for good, so the code running now schedules it again."""
        info = await self.describe(ref)
        boundary = last_failed_activity_point(await self.history(info.run_id))
        return await self.reset(info.run_id, to_event=boundary, reason=reason or "retry")

    async def rerun(self, ref: str) -> AsyncRunHandle:
        """Start a fresh run of an ended run's workflow with its original input and id."""
        info = await self.describe(ref)
        if info.status == "RUNNING":
            raise WorkflowAlreadyStartedError(
                f"run {ref} is still running; terminate or reset it instead",
                workflow_id=info.workflow_id,
                run_id=info.run_id,
            )
        return await self.start(
            info.workflow_type, *info.input, id=info.workflow_id, force=True,
            search_attributes=info.search_attributes, memo=info.memo,
        )

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

    async def _queue(
        self, ref: str, event: Any, *, dedupe_key: str | None, what: str
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

    async def signal(
        self, ref: str, name: str, payload: Any = None, *, idempotency_key: str | None = None
    ) -> bool:
        """Send signal ``name`` with a JSON ``payload`` to a running run.

        Signals are recorded once each, in the order they were sent. With an
        ``idempotency_key``, repeats of the key are no-ops: returns False for them.
        """
        if not name or not isinstance(name, str):
            raise UsageError("a signal needs a name")
        event = SignalReceived(name=name, payload=payload, idempotency_key=idempotency_key)
        key = None if idempotency_key is None else f"signal:{idempotency_key}"
        return await self._queue(ref, event, dedupe_key=key, what="signal")

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
        if not signal:
            raise UsageError("signal_with_start needs a signal name")
        for _ in range(5):
            try:
                await self.signal(id, signal, signal_payload)
                return AsyncRunHandle(self, id, await self._run_id(id))
            except (RunNotFoundError, RunNotRunningError):
                pass
            try:
                return await self.start(
                    workflow, *args, id=id, start_signals=[(signal, signal_payload)],
                    **start_options,
                )
            except WorkflowAlreadyStartedError as exc:
                if exc.run_id is None:  # lost a race with another start: signal it
                    continue
                raise
        raise WorkflowAlreadyStartedError(f"could not signal or start {id!r}", workflow_id=id)

    async def query(self, ref: str, name: str, *args: Any, timeout: float = 5.0) -> Any:
        """Ask a run (running or ended) a question its code answers with a query handler.

        A worker serving the workflow type replays the run's history and calls the handler;
        nothing is written to history. Raises :class:`UnknownQueryError`,
        :class:`QueryError` or :class:`QueryTimeoutError`.
        """
        if not name:
            raise UsageError("a query needs a name")
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
        if not name:
            raise UsageError("an update needs a name")
        args_json = serde.dumps(list(args), what="update arguments")
        update_id = update_id or str(uuid.uuid4())
        run_id = await self._run_id(ref)
        async with self.pool.connection() as conn:
            await store.request_update(conn, run_id, update_id, name, args_json)
        return await self._wait_update(run_id, update_id, timeout)

    async def update_result(self, ref: str, update_id: str, timeout: float = 0.0) -> Any:
        """The outcome of an earlier update (waiting up to ``timeout`` if not done yet)."""
        return await self._wait_update(await self._run_id(ref), update_id, timeout)

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
        handle = await self.start(
            workflow, *args, id=id, id_conflict_policy="use_existing", **start_options
        )
        result = await self.update(
            handle.run_id or id, update, *update_args, update_id=update_id, timeout=timeout
        )
        return handle, result

    async def _wait_update(self, run_id: str, update_id: str, timeout: float) -> Any:
        last: dict[str, Any] = {}

        async def settled() -> tuple[bool, Any, str | None]:
            async with self.pool.connection() as conn:
                row = await store.get_update(conn, run_id, update_id)
            if row is None:
                raise UsageError(f"no update {update_id!r} on run {run_id}")
            last.update(row)
            return row["status"] in ("COMPLETED", "FAILED", "REJECTED"), row, None

        row = await self._wait_for(
            f"u:{run_id}",
            settled,
            timeout=timeout,
            interval=0.5,
            expired=lambda: UpdateTimeoutError(
                f"update {update_id} is {last.get('status')} after {timeout}s"
            ),
        )
        error = row["error"] or {}
        if row["status"] == "REJECTED":
            raise UpdateRejectedError(f"update {row['name']!r} rejected: {error.get('message')}")
        if row["status"] == "FAILED":
            raise UpdateFailedError(
                f"update {row['name']!r} failed: {error.get('type')}: {error.get('message')}"
            )
        return row["result"]

    async def cancel(self, ref: str, reason: str | None = None) -> bool:
        """Ask a run to cancel. Its code sees ``asyncio.CancelledError`` at its current
        ``await``, may run compensations, and ends CANCELLED; running activities learn of
        it at their next heartbeat. Returns False if cancellation was already requested."""
        event = CancelRequested(reason=reason)
        return await self._queue(ref, event, dedupe_key="cancel", what="cancel request")

    async def terminate(self, ref: str, reason: str | None = None) -> None:
        """End a run at once (TERMINATED): no workflow code runs, open tasks are dropped."""
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

    async def pause(self, ref: str, reason: str | None = None) -> bool:
        """Stop dispatching the run's workflow tasks until :meth:`resume` (activities that
        are running finish). Returns False if it was already paused."""
        return await self._set_paused(ref, True, reason)

    async def resume(self, ref: str, reason: str | None = None) -> bool:
        """Undo :meth:`pause`. Returns False if it was not paused."""
        return await self._set_paused(ref, False, reason)

    async def _set_paused(self, ref: str, paused: bool, reason: str | None) -> bool:
        run_id = await self._run_id(ref)
        async with self.pool.connection() as conn:
            status = await store.set_paused(conn, run_id, paused=paused, reason=reason)
        if status == "not_running":
            raise RunNotRunningError(f"run {ref} has ended")
        return status == "done"

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
        return RunInfo.from_row(row, pending)

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


def _outcome(run_id: str, row: dict[str, Any]) -> Any:
    if row["status"] == "COMPLETED":
        return row["result"]
    error = row["error"] or {}
    raise WorkflowFailedError(
        f"run {run_id} ended {row['status']}: {error.get('type', '')}: {error.get('message', '')}",
        status=row["status"],
        error=error,
    )


def _decode_page_token(token: str) -> tuple[datetime, str]:
    try:
        at, run_id = token.split("|", 1)
        uuid.UUID(run_id)
        return datetime.fromisoformat(at), run_id
    except ValueError:
        raise UsageError(f"bad page token {token!r}") from None


@dataclass(frozen=True)
class ResetResult:
    """What a reset (or its dry run) found, and the new run if one was made."""

    plan: ResetPlan
    run: AsyncRunHandle | RunHandle | None
    applied: bool

    @property
    def valid(self) -> bool:
        return self.plan.valid

    @property
    def new_run_id(self) -> str | None:
        return None if self.run is None else self.run.run_id

    def to_json(self) -> dict[str, Any]:
        return {**self.plan.to_json(), "applied": self.applied, "new_run_id": self.new_run_id}


@dataclass(frozen=True)
class RunPage:
    runs: list[RunInfo]
    next_page_token: str | None

    def __iter__(self) -> Any:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)


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


class Client:
    """The sync client: every method blocks until done. Safe to use from a notebook.

    >>> client = hs.connect()                       # doctest: +SKIP
    >>> run = client.start(onboarding, 42, id="onboarding-42")   # doctest: +SKIP
    >>> run.result(timeout=60)                      # doctest: +SKIP
    """

    def __init__(self, url: str | None = None, *, namespace: str = "default") -> None:
        self._thread = LoopThread()
        self.aio = AsyncClient(url, namespace=namespace)
        self._thread.run(self.aio.open())

    @property
    def url(self) -> str:
        return self.aio.url

    @property
    def namespace(self) -> str:
        return self.aio.namespace

    def _run(self, coro: Any, timeout: float | None = None) -> Any:
        return self._thread.run(coro, timeout)

    def start(self, workflow: WorkflowDefinition | str, *args: Any, **options: Any) -> RunHandle:
        """See :meth:`AsyncClient.start`."""
        handle = self._run(self.aio.start(workflow, *args, **options))
        return RunHandle(self, handle.workflow_id, handle.run_id)

    def handle(self, ref: str) -> RunHandle:
        return RunHandle(self, ref, None)

    def describe(self, ref: str) -> RunInfo:
        return self._run(self.aio.describe(ref))  # type: ignore[no-any-return]

    def history(self, ref: str, **kw: Any) -> list[HistoryEvent]:
        return self._run(self.aio.history(ref, **kw))  # type: ignore[no-any-return]

    def create_namespace(self, name: str, description: str | None = None) -> bool:
        return bool(self._run(self.aio.create_namespace(name, description)))

    def list_namespaces(self) -> list[dict[str, Any]]:
        return self._run(self.aio.list_namespaces())  # type: ignore[no-any-return]

    def delete_namespace(self, name: str) -> None:
        self._run(self.aio.delete_namespace(name))

    def reset(self, ref: str, **kw: Any) -> ResetResult:
        """See :meth:`AsyncClient.reset`."""
        result: ResetResult = self._run(self.aio.reset(ref, **kw))
        return self._sync_reset(result)

    def retry_failed_activity(self, ref: str, **kw: Any) -> ResetResult:
        """See :meth:`AsyncClient.retry_failed_activity`."""
        return self._sync_reset(self._run(self.aio.retry_failed_activity(ref, **kw)))

    def rerun(self, ref: str) -> RunHandle:
        """See :meth:`AsyncClient.rerun`."""
        handle = self._run(self.aio.rerun(ref))
        return RunHandle(self, handle.workflow_id, handle.run_id)

    def _sync_reset(self, result: ResetResult) -> ResetResult:
        run = result.run
        if run is None:
            return result
        return ResetResult(result.plan, RunHandle(self, run.workflow_id, run.run_id), True)

    def tree(self, ref: str) -> list[RunInfo]:
        """See :meth:`AsyncClient.tree`."""
        return self._run(self.aio.tree(ref))  # type: ignore[no-any-return]

    def chain(self, ref: str) -> list[RunInfo]:
        """See :meth:`AsyncClient.chain`."""
        return self._run(self.aio.chain(ref))  # type: ignore[no-any-return]

    def list(self, **filters: Any) -> RunPage:
        """See :meth:`AsyncClient.list`."""
        return self._run(self.aio.list(**filters))  # type: ignore[no-any-return]

    def result(self, ref: str, timeout: float | None = None, *, run_id: str | None = None) -> Any:
        return self._run(self.aio.result(ref, timeout, run_id=run_id))

    def signal(self, ref: str, name: str, payload: Any = None, **kw: Any) -> bool:
        """See :meth:`AsyncClient.signal`."""
        return bool(self._run(self.aio.signal(ref, name, payload, **kw)))

    def signal_with_start(
        self, workflow: WorkflowDefinition | str, *args: Any, **kw: Any
    ) -> RunHandle:
        """See :meth:`AsyncClient.signal_with_start`."""
        handle = self._run(self.aio.signal_with_start(workflow, *args, **kw))
        return RunHandle(self, handle.workflow_id, handle.run_id)

    def query(self, ref: str, name: str, *args: Any, timeout: float = 5.0) -> Any:
        """See :meth:`AsyncClient.query`."""
        return self._run(self.aio.query(ref, name, *args, timeout=timeout))

    def update(self, ref: str, name: str, *args: Any, **kw: Any) -> Any:
        """See :meth:`AsyncClient.update`."""
        return self._run(self.aio.update(ref, name, *args, **kw))

    def update_result(self, ref: str, update_id: str, timeout: float = 0.0) -> Any:
        return self._run(self.aio.update_result(ref, update_id, timeout))

    def update_with_start(
        self, workflow: WorkflowDefinition | str, *args: Any, **kw: Any
    ) -> tuple[RunHandle, Any]:
        """See :meth:`AsyncClient.update_with_start`."""
        handle, result = self._run(self.aio.update_with_start(workflow, *args, **kw))
        return RunHandle(self, handle.workflow_id, handle.run_id), result

    def cancel(self, ref: str, reason: str | None = None) -> bool:
        return bool(self._run(self.aio.cancel(ref, reason)))

    def terminate(self, ref: str, reason: str | None = None) -> None:
        self._run(self.aio.terminate(ref, reason))

    def pause(self, ref: str, reason: str | None = None) -> bool:
        return bool(self._run(self.aio.pause(ref, reason)))

    def resume(self, ref: str, reason: str | None = None) -> bool:
        return bool(self._run(self.aio.resume(ref, reason)))

    def close(self) -> None:
        try:
            self._run(self.aio.close(), timeout=10)
        finally:
            self._thread.stop()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
        from ..studio.widgets.explorer import explore

        return explore(self.client, self.ref, **options)

    def card(self, **options: Any) -> Any:
        """A compact live card: status, current activity, pending timers, last error."""
        from ..studio.widgets.explorer import run_card

        return run_card(self.client, self.ref, **options)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """In a notebook a run handle shows as its live card; elsewhere as text."""
        text = {"text/plain": repr(self)}
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


def connect(url: str | None = None, *, namespace: str = "default") -> Client:
    """Connect to ``url``, ``HARVEST_DATABASE_URL``, or the project's embedded Postgres,
    applying migrations on first use."""
    return Client(url, namespace=namespace)
