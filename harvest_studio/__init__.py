"""Harvest Studio: durable, event-sourced workflows for Python on PostgreSQL.

Quick start::

    import harvest_studio as hs

    @hs.activity(start_to_close="30s")
    def greet(ctx: hs.ActivityContext, name: str) -> str:
        return f"hello {name}"

    @hs.workflow
    async def hello(ctx: hs.WorkflowContext, name: str) -> str:
        return await ctx.execute_activity(greet, name)

    client = hs.connect()
    with hs.Worker(client, workflows=[hello], activities=[greet]):
        print(client.start(hello, "world").result(timeout=30))
"""

from __future__ import annotations

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from ._version import __version__ as __version__
from .client import (
    AsyncClient,
    AsyncRunHandle,
    AsyncUpdateHandle,
    AuditRecord,
    Client,
    DagRunInfo,
    FlowLimit,
    QueueInfo,
    RunHandle,
    RunInfo,
    RunPage,
    ScheduleInfo,
    ScheduleLogEntry,
    TokenInfo,
    UpdateHandle,
    connect,
)
from .client import set_run_views as _set_run_views
from .engine import Worker, WorkerOptions
from .engine.activity_context import (
    ActivityCancelledError,
    ActivityContext,
    ActivityInfo,
    TransactionContext,
)
from .engine.dag import DagDefinition, dag
from .engine.run_hooks import RunEnded, SlaMissed
from .engine.workflow_context import WorkflowContext, WorkflowInfo
from .model.dag import Dag, DagDefinitionError, DagParamError, Node
from .model.dag_runs import NodeInfo
from .model.definitions import (
    ActivityDefinition,
    WorkflowDefinition,
    activity,
    transaction,
    workflow,
)
from .model.errors import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    DagFailedError,
    DatabaseError,
    DatabaseUnavailableError,
    DurationError,
    HarvestError,
    NamespaceNotEmptyError,
    NamespaceNotFoundError,
    NonDeterminismError,
    NonRetryableError,
    PayloadError,
    PayloadTooLargeError,
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
    WorkflowCodeError,
    WorkflowFailedError,
)
from .model.events import HistoryEvent
from .model.payloads import DefaultPayloadConverter, PayloadConverter, set_payload_converter
from .model.retry import RetryPolicy
from .model.schedules import ScheduleDeclaration as Schedule
from .model.schedules import ScheduleError

if _TYPE_CHECKING:
    from .commands.render.dag_graph import DagGraph


def load_ipython_extension(ipython: _Any) -> None:
    """``%load_ext harvest_studio``: the ``%harvest`` magics and the in-kernel worker."""
    from .studio.magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: _Any) -> None:
    """``%unload_ext harvest_studio``: stop the in-kernel worker and remove ``%harvest``."""
    from .studio.magics import unload_ipython_extension as unload

    unload(ipython)


def __getattr__(name: str) -> _Any:
    """``hs.analytics`` and ``hs.simulation`` are imported on first use (they need DuckDB
    and numpy: the analysis extra)."""
    if name in ("analytics", "simulation"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def profile(run: RunHandle | WorkflowDefinition, *, history: _Any = None) -> _Any:
    """Where time went. For a run (its :class:`RunHandle`): a ``RunProfile`` with
    ``.critical_path`` (the chain of activities, timers, signal waits and child runs that
    decided when it ended, each step with name, kind, start and end in seconds),
    ``.breakdown`` (seconds per kind: work, queue, backoff, timer, signal, child, workflow),
    a static Gantt chart in a notebook and ``.gantt()`` for the interactive one.

    For a workflow or DAG (its definition): a ``TypeProfile`` of its finished runs in the
    loaded histories (``history``, else this process's last ``hs.analytics.load``): the
    duration distribution and the steps most often on the critical path.

    >>> prof = hs.profile(client.handle("order-42"))     # doctest: +SKIP
    >>> prof.breakdown["queue"]                           # doctest: +SKIP
    0.012
    >>> hs.profile(nightly).criticality                   # doctest: +SKIP
    {'extract': 1.0, 'transform': 0.93, ...}
    """
    from .tools.profile import profile_run

    if isinstance(run, WorkflowDefinition):
        from .tools.analysis import HistoryDB, load

        db = history or HistoryDB.latest or load()
        return db.profile(run.name)
    if not isinstance(run, RunHandle):
        raise UsageError(
            f"hs.profile() takes a run handle or a workflow, not {type(run).__name__}")
    return profile_run(run.client, run.run_id or run.workflow_id)


def simulate(dag: DagDefinition, runs: int = 10_000, **options: _Any) -> _Any:
    """Monte-Carlo simulation of ``runs`` runs of DAG ``dag``: a ``Simulation`` with
    ``.makespan`` (``p50``, ``p90``, ``p99`` seconds, trigger to end, queue waits included),
    ``.criticality`` per node, ``.utilisation``, ``.queue_waits``, and ``.compare(...)``
    for a what-if with the same random numbers. Durations come from the loaded histories
    (``durations="history"``, the default) or are given; see
    :func:`harvest_studio.tools.simulation.simulate` for every option.

    >>> sim = hs.simulate(nightly, runs=10_000, durations="history", workers=4)
    ... # doctest: +SKIP
    >>> sim.compare(workers=8)                                   # doctest: +SKIP
    """
    from .simulation import simulate as run

    return run(dag, runs, **options)


def graph(dag: DagDefinition | DagRunInfo | RunHandle, *, engine: str = "auto") -> DagGraph:
    """Draw a DAG as SVG: a :class:`DagDefinition` (every node pending), a
    :class:`DagRunInfo` from ``client.dag_run`` or a DAG run's :class:`RunHandle` (each node
    coloured by its state, with its duration and, for a map, its items by outcome).

    The result has ``.svg``, ``.save(path)`` and shows itself in a notebook. ``engine``:
    ``auto`` lays it out with Graphviz's ``dot`` when installed and with a pure-Python
    layered layout otherwise (then ``.note`` says how to get the better one), ``python``
    forces the latter, ``dot`` raises :class:`UsageError` without it.
    """
    from .commands.render.dag_graph import dag_svg

    if isinstance(dag, DagDefinition):
        return dag_svg(dag.graph.to_json(), None, engine=engine)
    if isinstance(dag, DagRunInfo):
        if not dag.graph:
            raise UsageError(f"run {dag.id} carries no graph: read it with client.dag_run()")
        return dag_svg(dag.graph, dag.nodes, engine=engine)
    if isinstance(dag, RunHandle):
        return dag.graph(engine=engine)  # type: ignore[no-any-return]
    raise UsageError(
        "hs.graph() draws a DAG (@hs.dag), a DagRunInfo (client.dag_run()) or a run handle, "
        f"not {type(dag).__name__}"
    )


class _StudioRunViews:
    """``RunHandle.explore()`` / ``.card()`` / ``.graph(live=True)``: the studio's widgets,
    imported on first use; ``.graph()``: the command layer's SVG drawing."""

    def explore(self, client: Client, ref: str, **options: _Any) -> _Any:
        from .studio.widgets.explorer import explore

        return explore(client, ref, **options)

    def card(self, client: Client, ref: str, **options: _Any) -> _Any:
        from .studio.widgets.card import run_card

        return run_card(client, ref, **options)

    def graph(self, client: Client, ref: str, **options: _Any) -> _Any:
        if options.pop("live", False):
            from .studio.widgets.dag_graph import dag_graph_view

            return dag_graph_view(client, ref, **options)
        from .commands.render.dag_graph import dag_svg

        info = client.dag_run(ref)
        return dag_svg(info.graph, info.nodes, **options)


_set_run_views(_StudioRunViews())

__all__ = [
    "ActivityCancelledError",
    "ActivityContext",
    "ActivityDefinition",
    "ActivityError",
    "ActivityInfo",
    "ApplicationError",
    "AsyncClient",
    "AsyncRunHandle",
    "AsyncUpdateHandle",
    "AuditRecord",
    "ChildWorkflowError",
    "Client",
    "Dag",
    "DagDefinition",
    "DagDefinitionError",
    "DagFailedError",
    "DagParamError",
    "DagRunInfo",
    "DatabaseError",
    "DatabaseUnavailableError",
    "DefaultPayloadConverter",
    "DurationError",
    "FlowLimit",
    "HarvestError",
    "HistoryEvent",
    "NamespaceNotEmptyError",
    "NamespaceNotFoundError",
    "Node",
    "NodeInfo",
    "NonDeterminismError",
    "NonRetryableError",
    "PayloadConverter",
    "PayloadError",
    "PayloadTooLargeError",
    "QueryError",
    "QueryTimeoutError",
    "QueueInfo",
    "RetryPolicy",
    "RunEnded",
    "RunHandle",
    "RunInfo",
    "RunNotFoundError",
    "RunNotRunningError",
    "RunPage",
    "RunTimeoutError",
    "Schedule",
    "ScheduleError",
    "ScheduleInfo",
    "ScheduleLogEntry",
    "SlaMissed",
    "TokenInfo",
    "TransactionContext",
    "UnknownQueryError",
    "UnknownWorkflowError",
    "UpdateFailedError",
    "UpdateHandle",
    "UpdateRejectedError",
    "UpdateTimeoutError",
    "UsageError",
    "Worker",
    "WorkerOptions",
    "WorkflowAlreadyStartedError",
    "WorkflowCodeError",
    "WorkflowContext",
    "WorkflowDefinition",
    "WorkflowFailedError",
    "WorkflowInfo",
    "activity",
    "connect",
    "dag",
    "graph",
    "profile",
    "set_payload_converter",
    "transaction",
    "workflow",
]
