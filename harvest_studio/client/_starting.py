"""Starting runs for :class:`AsyncClient`: ``start`` with its id reuse and conflict policies,
``signal_with_start`` and ``update_with_start``."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from typing import Any

import psycopg

from .. import store
from ..model import serde
from ..model.definitions import DEFAULT_QUEUE, WorkflowDefinition, check_arity, check_priority
from ..model.durations import Duration, optional_seconds
from ..model.errors import (
    RunNotFoundError,
    RunNotRunningError,
    UnknownWorkflowError,
    UsageError,
    WorkflowAlreadyStartedError,
)
from ..model.events import SignalReceived, WorkflowStarted
from ..model.limits import check_name, check_text
from ..model.payloads import return_hint
from ._audit import audited, started_run
from ._retry import has, retried
from ._talking import TalkingClient
from .handles import AsyncRunHandle
from .info import ID_CONFLICT_POLICIES, ID_REUSE_POLICIES, MAX_ID_LENGTH


class StartingClient(TalkingClient):
    """Starting runs: id reuse and conflict policies, signal- and update-with-start."""

    @audited("run.start", "run", started_run)
    @retried(has("idempotency_key"))
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
        priority: int | None = None,
        fairness_key: str | None = None,
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

        ``priority`` (-1000..1000, default 0; higher first) orders this run's tasks within
        their queue; its children and continuations inherit it. Runs with a
        ``fairness_key`` (a tenant, a customer) take turns with the runs of other keys in
        the queue instead of waiting behind them in start order.
        """
        result_type = None
        if isinstance(workflow, WorkflowDefinition):
            name, fingerprint = workflow.name, workflow.fingerprint
            result_type = return_hint(workflow.fn)
            default_queue, default_timeout = workflow.queue, workflow.execution_timeout
            workflow.check_args(args)
        elif isinstance(workflow, str) and workflow:
            name, fingerprint, default_queue, default_timeout = workflow, None, None, None
        else:
            raise UsageError(f"start needs a @workflow or a workflow name, got {workflow!r}")
        def handle(workflow_id: str, run_id: str) -> AsyncRunHandle:
            return AsyncRunHandle(self, workflow_id, run_id, result_type=result_type)

        check_name("a workflow name", name)
        check_name("a queue name", queue, optional=True)
        check_text("an idempotency key", idempotency_key, MAX_ID_LENGTH, optional=True)
        if id is not None:
            check_text("a workflow id", id, MAX_ID_LENGTH)
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
        for key in search_attributes or {}:
            check_name("a search attribute name", key)
        sattrs_json = (
            None
            if search_attributes is None
            else serde.dumps(search_attributes, what="search attributes")
        )
        memo_json = None if memo is None else serde.dumps(memo, what="memo")
        check_priority(priority)
        if fairness_key is not None and (
            not isinstance(fairness_key, str) or not 0 < len(fairness_key) <= MAX_ID_LENGTH
        ):
            raise UsageError(f"fairness_key must be a str of 1..{MAX_ID_LENGTH} characters")
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
                    return handle(found["workflow_id"], found["run_id"])
            await self._check_namespace(conn)
            # (by name, the newest registration is read each time: its arity is checked)
            by_name = not isinstance(workflow, WorkflowDefinition)
            registered = None if by_name else self._registered.get(name)
            if registered is None:
                registered = await store.registered_workflow(conn, self.namespace, name)
                if registered is None and isinstance(workflow, WorkflowDefinition):
                    # The definition is in hand: make the type known so the run waits for a
                    # worker instead of being refused (web processes start before workers).
                    await store.register_types(
                        conn, self.namespace, [store.workflow_registration(workflow)], served=False
                    )
                    registered = await store.registered_workflow(conn, self.namespace, name)
                if registered is not None:
                    self._registered[name] = registered
            if by_name and registered is not None:
                arity = registered.get("arity")
                if isinstance(arity, list) and len(arity) == 2:
                    check_arity(name, (arity[0], arity[1]), len(args))
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
                            what=f"payload of signal {n!r}",
                        )
                        for n, p in start_signals
                    ],
                    search_attributes_json=sattrs_json,
                    memo_json=memo_json,
                    start_delay=delay,
                    priority=priority,
                    fairness_key=fairness_key,
                )
                if id is None:  # a fresh random id cannot collide: one statement suffices
                    await insert()
                else:
                    async with conn.transaction():
                        existing = await self._check_reuse(
                            conn, workflow_id, id_reuse_policy, id_conflict_policy
                        )
                        if existing is not None:
                            return handle(workflow_id, existing)
                        await insert()
            except psycopg.errors.UniqueViolation as exc:
                if idempotency_key is not None and store.is_unique_violation(
                    exc, "runs_idempotency_key"
                ):
                    found = await store.find_run_by_idempotency_key(
                        conn, self.namespace, idempotency_key
                    )
                    if found:
                        return handle(found["workflow_id"], found["run_id"])
                raise WorkflowAlreadyStartedError(
                    f"a run with id {workflow_id!r} is already running",
                    workflow_id=workflow_id,
                ) from None
        return handle(workflow_id, run_id)

    @audited("run.signal_with_start", "run", started_run)
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
                    workflow,
                    *args,
                    id=id,
                    start_signals=[(signal, signal_payload)],
                    **start_options,
                )
            except WorkflowAlreadyStartedError as exc:
                if exc.run_id is None:  # lost a race with another start: signal it
                    continue
                raise
        raise WorkflowAlreadyStartedError(f"could not signal or start {id!r}", workflow_id=id)

    @audited("run.update_with_start", "run", started_run)
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

