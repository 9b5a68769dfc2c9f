"""The sync face: :class:`Client` drives an :class:`AsyncClient` on a private loop thread, so
scripts and notebooks can call it without ``await`` (:func:`connect` makes one);
:class:`RunHandle` is its run handle. A handle's notebook views (the explorer, the run
card, a DAG run's graph) live in layers above this one, so the top-level package registers
them here (:func:`set_run_views`)."""

from __future__ import annotations

import builtins
import weakref
from typing import Any, Protocol

from ..model.definitions import WorkflowDefinition
from ..model.errors import UsageError
from ..model.events import HistoryEvent
from . import handles
from ._audit import AuditRecord
from ._dead_letters import DeadLetter, DlqOutcome
from ._flow import FlowLimit, QueueInfo
from ._hooks import NewWebhook, Webhook
from ._loop_thread import LoopThread
from ._operations import NewToken, TokenInfo, WorkerInfo
from ._schedules import ScheduleInfo, ScheduleLogEntry
from .async_client import AsyncClient
from .handles import AsyncRunHandle, AsyncUpdateHandle
from .info import AttemptLog, DagRunInfo, DagTypeInfo, ResetResult, RunInfo, RunPage


class RunViews(Protocol):
    """The views of a run, as :meth:`RunHandle.explore`, ``card`` and ``graph`` show them."""

    def explore(self, client: Client, ref: str, **options: Any) -> Any:
        """The history explorer widget for run ``ref``."""
        ...

    def card(self, client: Client, ref: str, **options: Any) -> Any:
        """A compact live card for run ``ref``."""
        ...

    def graph(self, client: Client, ref: str, **options: Any) -> Any:
        """The graph of DAG run ``ref`` as SVG, coloured by its nodes' states."""
        ...


_views: RunViews | None = None


def set_run_views(views: RunViews | None) -> None:
    """Register the views run handles use (``None`` withdraws them)."""
    global _views
    _views = views


def run_views() -> RunViews:
    """The registered views; :class:`UsageError` if there are none."""
    if _views is None:
        raise UsageError(
            "the notebook views are not available: they need `pip install harvest-studio[notebook]`"
        )
    return _views


class Client:
    """The sync client: every method blocks until done. Safe to use from a notebook.

    >>> client = hs.connect()                       # doctest: +SKIP
    >>> run = client.start(onboarding, 42, id="onboarding-42")   # doctest: +SKIP
    >>> run.result(timeout=60)                      # doctest: +SKIP
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        namespace: str = "default",
        actor: str | None = None,
        front_end: str = "python",
    ) -> None:
        self._thread = LoopThread()
        self.aio = AsyncClient(url, namespace=namespace, actor=actor, front_end=front_end)
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
        return RunHandle(self, handle.workflow_id, handle.run_id, result_type=handle.result_type)

    def handle(self, ref: str) -> RunHandle:
        return RunHandle(self, ref, None)

    def describe(self, ref: str) -> RunInfo:
        return self._run(self.aio.describe(ref))  # type: ignore[no-any-return]

    def history(self, ref: str, **kw: Any) -> list[HistoryEvent]:
        return self._run(self.aio.history(ref, **kw))  # type: ignore[no-any-return]

    def attempt_logs(self, ref: str, **kw: Any) -> list[AttemptLog]:
        """See :meth:`AsyncClient.attempt_logs`."""
        return self._run(self.aio.attempt_logs(ref, **kw))  # type: ignore[no-any-return]

    def create_namespace(self, name: str, description: str | None = None) -> bool:
        return bool(self._run(self.aio.create_namespace(name, description)))

    def list_namespaces(self) -> list[dict[str, Any]]:
        return self._run(self.aio.list_namespaces())  # type: ignore[no-any-return]

    def delete_namespace(self, name: str) -> None:
        self._run(self.aio.delete_namespace(name))

    def dag_run(self, ref: str) -> DagRunInfo:
        """See :meth:`AsyncClient.dag_run`."""
        return self._run(self.aio.dag_run(ref))  # type: ignore[no-any-return]

    def dags(self) -> list[DagTypeInfo]:
        """See :meth:`AsyncClient.dags`."""
        return self._run(self.aio.dags())  # type: ignore[no-any-return]

    def dag_runs(self, dag: WorkflowDefinition | str, *, limit: int = 20) -> list[DagRunInfo]:
        """See :meth:`AsyncClient.dag_runs`."""
        return self._run(self.aio.dag_runs(dag, limit=limit))  # type: ignore[no-any-return]

    def approve(self, ref: str, node: str, **who: Any) -> None:
        """See :meth:`AsyncClient.approve` (``by=``, ``comment=``)."""
        self._run(self.aio.approve(ref, node, **who))

    def reject(self, ref: str, node: str, **who: Any) -> None:
        """See :meth:`AsyncClient.reject` (``by=``, ``comment=``)."""
        self._run(self.aio.reject(ref, node, **who))

    def mark_node(self, ref: str, node: str, state: str = "succeeded", **details: Any) -> None:
        """See :meth:`AsyncClient.mark_node` (``result=``, ``by=``, ``reason=``)."""
        self._run(self.aio.mark_node(ref, node, state, **details))

    def retry_failed_nodes(self, ref: str) -> RunHandle:
        """See :meth:`AsyncClient.retry_failed_nodes`."""
        handle = self._run(self.aio.retry_failed_nodes(ref))
        return RunHandle(self, handle.workflow_id, handle.run_id)

    # -- schedules ----------------------------------------------------------------------
    def create_schedule(
        self, name: str, workflow: WorkflowDefinition | str, *args: Any, **options: Any
    ) -> ScheduleInfo:
        """See :meth:`AsyncClient.create_schedule`."""
        return self._run(self.aio.create_schedule(name, workflow, *args, **options))  # type: ignore[no-any-return]

    def schedules(self) -> list[ScheduleInfo]:
        return self._run(self.aio.schedules())  # type: ignore[no-any-return]

    def describe_schedule(self, name: str) -> ScheduleInfo:
        return self._run(self.aio.describe_schedule(name))  # type: ignore[no-any-return]

    def pause_schedule(self, name: str, note: str | None = None) -> ScheduleInfo:
        return self._run(self.aio.pause_schedule(name, note))  # type: ignore[no-any-return]

    def resume_schedule(self, name: str, note: str | None = None) -> ScheduleInfo:
        return self._run(self.aio.resume_schedule(name, note))  # type: ignore[no-any-return]

    def trigger_schedule(self, name: str) -> RunHandle:
        handle = self._run(self.aio.trigger_schedule(name))
        return RunHandle(self, handle.workflow_id, handle.run_id)

    def backfill_schedule(self, name: str, start: Any, end: Any) -> list[RunHandle]:
        handles = self._run(self.aio.backfill_schedule(name, start, end))
        return [RunHandle(self, h.workflow_id, h.run_id) for h in handles]

    def delete_schedule(self, name: str) -> bool:
        return bool(self._run(self.aio.delete_schedule(name)))

    def schedule_log(self, name: str, limit: int = 50) -> list[ScheduleLogEntry]:
        return self._run(self.aio.schedule_log(name, limit))  # type: ignore[no-any-return]

    def set_limits(self, **limits: Any) -> FlowLimit | None:
        """See :meth:`AsyncClient.set_limits`."""
        return self._run(self.aio.set_limits(**limits))  # type: ignore[no-any-return]

    def pause_queue(self, queue: str) -> FlowLimit | None:
        return self._run(self.aio.pause_queue(queue))  # type: ignore[no-any-return]

    def resume_queue(self, queue: str) -> FlowLimit | None:
        return self._run(self.aio.resume_queue(queue))  # type: ignore[no-any-return]

    def pause_activity(self, activity: str) -> FlowLimit | None:
        return self._run(self.aio.pause_activity(activity))  # type: ignore[no-any-return]

    def resume_activity(self, activity: str) -> FlowLimit | None:
        return self._run(self.aio.resume_activity(activity))  # type: ignore[no-any-return]

    def limits(self) -> list[FlowLimit]:
        return self._run(self.aio.limits())  # type: ignore[no-any-return]

    def queues(self) -> list[QueueInfo]:
        return self._run(self.aio.queues())  # type: ignore[no-any-return]

    def reset(self, ref: str, **kw: Any) -> ResetResult[RunHandle]:
        """See :meth:`AsyncClient.reset`."""
        result: ResetResult[AsyncRunHandle] = self._run(self.aio.reset(ref, **kw))
        return self._sync_reset(result)

    def retry_failed_activity(self, ref: str, **kw: Any) -> ResetResult[RunHandle]:
        """See :meth:`AsyncClient.retry_failed_activity`."""
        return self._sync_reset(self._run(self.aio.retry_failed_activity(ref, **kw)))

    def rerun(self, ref: str) -> RunHandle:
        """See :meth:`AsyncClient.rerun`."""
        handle = self._run(self.aio.rerun(ref))
        return RunHandle(self, handle.workflow_id, handle.run_id)

    def _sync_reset(self, result: ResetResult[AsyncRunHandle]) -> ResetResult[RunHandle]:
        run = result.run
        if run is None:
            return ResetResult(result.plan, None, result.applied)
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
        """See :meth:`AsyncClient.update`; ``wait_for="admitted"`` returns an
        :class:`UpdateHandle`."""
        return self._sync_update(self._run(self.aio.update(ref, name, *args, **kw)))

    def _sync_update(self, outcome: Any) -> Any:
        return UpdateHandle(self, outcome) if isinstance(outcome, AsyncUpdateHandle) else outcome

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

    def audit(self, **filters: Any) -> builtins.list[AuditRecord]:
        """See :meth:`AsyncClient.audit`."""
        return self._run(self.aio.audit(**filters))  # type: ignore[no-any-return]

    def create_token(self, name: str, scope: str, *, namespace: str | None = None) -> NewToken:
        """See :meth:`AsyncClient.create_token`."""
        return self._run(  # type: ignore[no-any-return]
            self.aio.create_token(name, scope, namespace=namespace)
        )

    def tokens(self, *, include_revoked: bool = False) -> builtins.list[TokenInfo]:
        return self._run(  # type: ignore[no-any-return]
            self.aio.tokens(include_revoked=include_revoked)
        )

    def revoke_token(self, ref: str) -> TokenInfo:
        return self._run(self.aio.revoke_token(ref))  # type: ignore[no-any-return]

    def workers(self, *, include_gone: bool = False) -> builtins.list[WorkerInfo]:
        """See :meth:`AsyncClient.workers`."""
        return self._run(  # type: ignore[no-any-return]
            self.aio.workers(include_gone=include_gone)
        )

    def dead_letters(self, **filters: Any) -> builtins.list[DeadLetter]:
        """See :meth:`AsyncClient.dead_letters`."""
        return self._run(self.aio.dead_letters(**filters))  # type: ignore[no-any-return]

    def dead_letter(self, letter_id: str) -> tuple[DeadLetter, builtins.list[dict[str, Any]]]:
        """See :meth:`AsyncClient.dead_letter`."""
        return self._run(self.aio.dead_letter(letter_id))  # type: ignore[no-any-return]

    def replay_dead_letters(self, ids: Any, *, note: str | None = None) -> DlqOutcome:
        """See :meth:`AsyncClient.replay_dead_letters`."""
        return self._run(  # type: ignore[no-any-return]
            self.aio.replay_dead_letters(ids, note=note)
        )

    def discard_dead_letters(self, ids: Any, *, reason: str) -> DlqOutcome:
        """See :meth:`AsyncClient.discard_dead_letters`."""
        return self._run(  # type: ignore[no-any-return]
            self.aio.discard_dead_letters(ids, reason=reason)
        )

    def create_webhook(self, name: str, url: str, **options: Any) -> NewWebhook:
        """See :meth:`AsyncClient.create_webhook`."""
        return self._run(self.aio.create_webhook(name, url, **options))  # type: ignore[no-any-return]

    def webhooks(self) -> builtins.list[Webhook]:
        return self._run(self.aio.webhooks())  # type: ignore[no-any-return]

    def remove_webhook(self, name: str) -> None:
        self._run(self.aio.remove_webhook(name))

    def webhook_deliveries(self, name: str | None = None, **kw: Any) -> builtins.list[Any]:
        """See :meth:`AsyncClient.webhook_deliveries`."""
        return self._run(self.aio.webhook_deliveries(name, **kw))  # type: ignore[no-any-return]

    def drain_worker(self, worker_id: str) -> WorkerInfo:
        """See :meth:`AsyncClient.drain_worker`."""
        return self._run(self.aio.drain_worker(worker_id))  # type: ignore[no-any-return]

    def close(self) -> None:
        try:
            self._run(self.aio.close(), timeout=10)
        finally:
            self._thread.stop()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(
    url: str | None = None, *, namespace: str = "default", actor: str | None = None
) -> Client:
    """Connect to ``url``, ``HARVEST_DATABASE_URL``, or the project's embedded Postgres,
    applying migrations on first use. The audit trail records this client's changes for
    ``actor`` (the OS user by default)."""
    return Client(url, namespace=namespace, actor=actor)


class RunHandle:
    """Sync handle of a run; every method of :class:`AsyncRunHandle`, blocking. Like it, a
    handle follows its continue-as-new chain (signals, queries, updates go to the current
    run; :meth:`result` waits for the chain's end)."""

    def __init__(
        self, client: Client, workflow_id: str, run_id: str | None, *, result_type: Any = None
    ) -> None:
        self.client = client
        self.aio = AsyncRunHandle(client.aio, workflow_id, run_id, result_type=result_type)

    @property
    def workflow_id(self) -> str:
        return self.aio.workflow_id

    @property
    def run_id(self) -> str | None:
        """The id of the run this handle was made for (None for a handle by workflow id)."""
        return self.aio.run_id

    @property
    def id(self) -> str:
        return self.aio.workflow_id

    @property
    def ref(self) -> str:
        return self.aio.ref

    def _call(self, coro: Any) -> Any:
        return self.client._run(coro)

    def current_run_id(self) -> str:
        """The run this handle talks to now: the newest run of its continue-as-new chain."""
        return str(self._call(self.aio.current_run_id()))

    def result(self, timeout: float | None = None, *, result_type: Any = None) -> Any:
        """Wait for the run to end; return its result or raise :class:`WorkflowFailedError`
        (see :meth:`AsyncRunHandle.result`)."""
        return self._call(self.aio.result(timeout, result_type=result_type))

    def describe(self) -> RunInfo:
        return self._call(self.aio.describe())  # type: ignore[no-any-return]

    def history(self) -> list[HistoryEvent]:
        return self._call(self.aio.history())  # type: ignore[no-any-return]

    def attempt_logs(self, activity_seq: int | None = None) -> list[AttemptLog]:
        """What this run's activity attempts printed or logged."""
        return self._call(self.aio.attempt_logs(activity_seq))  # type: ignore[no-any-return]

    def signal(self, name: str, payload: Any = None, **kw: Any) -> bool:
        """Send a signal to this run (see :meth:`AsyncClient.signal`)."""
        return bool(self._call(self.aio.signal(name, payload, **kw)))

    def query(self, name: str, *args: Any, timeout: float = 5.0) -> Any:
        """Ask this run's query handler ``name`` (see :meth:`AsyncClient.query`)."""
        return self._call(self.aio.query(name, *args, timeout=timeout))

    def update(self, name: str, *args: Any, **kw: Any) -> Any:
        """Send this run an update and wait for its result (see :meth:`AsyncClient.update`);
        with ``wait_for="admitted"``, an :class:`UpdateHandle` once the run admitted it."""
        return self.client._sync_update(self._call(self.aio.update(name, *args, **kw)))

    def update_result(self, update_id: str, timeout: float = 0.0) -> Any:
        """The outcome of an earlier update (waiting up to ``timeout`` if not done yet)."""
        return self._call(self.aio.update_result(update_id, timeout))

    def cancel(self, reason: str | None = None) -> bool:
        return bool(self._call(self.aio.cancel(reason)))

    def terminate(self, reason: str | None = None) -> None:
        self._call(self.aio.terminate(reason))

    def pause(self, reason: str | None = None) -> bool:
        return bool(self._call(self.aio.pause(reason)))

    def resume(self, reason: str | None = None) -> bool:
        return bool(self._call(self.aio.resume(reason)))

    def tree(self) -> list[RunInfo]:
        """This run and its child runs, depth first."""
        return self._call(self.aio.tree())  # type: ignore[no-any-return]

    def chain(self) -> list[RunInfo]:
        """The continue-as-new chain this run belongs to, oldest first."""
        return self._call(self.aio.chain())  # type: ignore[no-any-return]

    def explore(self, **options: Any) -> Any:
        """The history explorer widget for this run (needs the ``notebook`` extra)."""
        return run_views().explore(self.client, self._view_ref(), **options)

    def card(self, **options: Any) -> Any:
        """A compact live card: status, current activity, pending timers, last error."""
        return run_views().card(self.client, self._view_ref(), **options)

    def graph(self, **options: Any) -> Any:
        """This DAG run's graph as SVG (a ``DagGraph``: ``.svg``, ``.save(path)``, shown in
        a notebook), each node coloured by its state; ``engine="auto" | "dot" | "python"``.
        ``live=True`` (in a notebook) gives a widget that redraws it every ``interval``
        seconds (default 1) while the run goes on. :class:`UsageError` if the run is not a
        run of a DAG."""
        return run_views().graph(self.client, self._view_ref(), **options)

    def _view_ref(self) -> str:
        return self.ref if self.run_id is None else self.current_run_id()

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

    def __repr__(self) -> str:
        return f"<run {self.workflow_id} ({self.run_id})>"


class UpdateHandle:
    """Sync face of :class:`AsyncUpdateHandle`: an admitted update; :meth:`result` waits
    for its handler."""

    def __init__(self, client: Client, handle: AsyncUpdateHandle) -> None:
        self.client = client
        self.aio = handle

    @property
    def id(self) -> str:
        return self.aio.id

    @property
    def run_id(self) -> str:
        return self.aio.run_id

    def result(self, timeout: float = 30.0) -> Any:
        """The handler's result (see :meth:`AsyncUpdateHandle.result`)."""
        return self.client._run(self.aio.result(timeout))

    def __repr__(self) -> str:
        return repr(self.aio)


_twins: weakref.WeakKeyDictionary[Any, Client] = weakref.WeakKeyDictionary()


def _sync_twin(handle: AsyncRunHandle) -> RunHandle:
    """The sync handle of an async one, on a sync client of the same database and
    namespace (made once per async client): the notebook views need the sync face."""
    twin = _twins.get(handle.client)
    if twin is None:
        twin = _twins[handle.client] = Client(handle.client.url, namespace=handle.client.namespace)
        weakref.finalize(handle.client, twin.close)  # closed with the async client's end
    return RunHandle(twin, handle.workflow_id, handle.run_id)


handles.sync_twin = _sync_twin
