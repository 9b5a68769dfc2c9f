"""``dag show|graph|runs|retry|mark``: DAG runs node by node, their graphs as SVG, their
failed nodes retried and their open nodes ended by hand.

A DAG run is a workflow run, so ``show``, ``history``, ``cancel`` and the rest work on it
too; these read it as a graph of nodes (:meth:`~harvest_studio.AsyncClient.dag_run`).
"""

from __future__ import annotations

from typing import Any

from ..client import AsyncClient, DagRunInfo
from ..model.definitions import WorkflowDefinition
from ..model.errors import HarvestError, RunNotFoundError, UsageError
from .dag_results import DagList, DagPicture, DagRetry, DagRunDetail, DagRunList, NodeMark
from .inputs import parse_payload
from .render.dag_graph import ENGINES, dag_svg

MARK_STATES = ("succeeded", "skipped")


class DagNotFoundError(HarvestError):
    """``dag graph`` of a name that is neither a run nor a registered DAG (a failure, like
    ``run_not_found``: the name is well-formed, there is just nothing by that name)."""

    code = "dag_not_found"


def check_engine(engine: str) -> str:
    """A layout engine for ``dag graph``: ``auto``, ``dot`` or ``python``."""
    if engine not in ENGINES:
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    return engine


def check_mark(skipped: bool = False, result: str | None = None) -> tuple[str, Any]:
    """The state and result of a ``dag mark``: ``--skipped`` takes no ``--result``; the
    result is one JSON value. Checked before the database is touched."""
    if skipped and result is not None:
        raise UsageError("--result goes with a node marked succeeded, not --skipped")
    return ("skipped" if skipped else "succeeded"), parse_payload(result, what="result")


def _need(text: str, what: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise UsageError(f"{what} must not be empty")
    return text


async def dag_show(client: AsyncClient, ref: str, *, items: bool = False) -> DagRunDetail:
    """A DAG run with each node's state, attempts, times and error (``items``: list each
    map's items too)."""
    return DagRunDetail(await client.dag_run(_need(ref, "a run")), items)


async def dag_list(client: AsyncClient) -> DagList:
    """The DAG types known in the namespace, with their newest run."""
    return DagList(await client.dags())


async def dag_runs(client: AsyncClient, dag: str, *, limit: int = 20) -> DagRunList:
    """The runs of the DAG named ``dag``, newest first, at most ``limit``."""
    _need(dag, "a DAG name")
    if isinstance(limit, bool) or not 1 <= limit <= 1000:
        raise UsageError("--limit must be between 1 and 1000")
    return DagRunList(dag, await client.dag_runs(dag, limit=limit))


async def dag_graph(
    client: AsyncClient, target: str, run: str | None = None, *, engine: str = "auto"
) -> DagPicture:
    """``target`` drawn as SVG: a run (or workflow id) of a DAG, each node coloured by its
    state; else a DAG name, the graph recorded for its newest registered version with every
    node pending. With ``run``, ``target`` is a DAG name and ``run`` one of its runs."""
    check_engine(engine)
    _need(target, "a DAG name or a run")
    if run is not None:
        return _picture(await dag_run_of(client, target, run), engine)
    try:
        info = await client.dag_run(target)
    except RunNotFoundError:
        try:
            graph = await client.dag_graph(target)
        except UsageError:
            raise DagNotFoundError(
                f"no run {target!r} and no DAG named {target!r} in namespace "
                f"{client.namespace!r}"
            ) from None
        drawn = dag_svg(graph, None, engine=engine)
        return DagPicture(
            target, drawn.svg, drawn.engine, drawn.note, nodes=len(graph.get("nodes") or [])
        )
    return _picture(info, engine)


async def dag_run_of(client: AsyncClient, dag: str, ref: str) -> DagRunInfo:
    """Run ``ref``, which must be a run of DAG ``dag`` (else :class:`UsageError`)."""
    info = await client.dag_run(_need(ref, "a run"))
    if info.run.workflow_type != dag:
        raise UsageError(
            f"run {info.id} is a run of {info.run.workflow_type!r}, not of DAG {dag!r}"
        )
    return info


def draw_definition(dag: WorkflowDefinition, *, engine: str = "auto") -> DagPicture:
    """A DAG as defined in this process (every node pending); touches no database."""
    check_engine(engine)
    details = dag.details()
    if not isinstance(details, dict) or "dag" not in details:
        raise UsageError(f"{dag.name} is a workflow, not a DAG")
    graph = details["dag"]
    drawn = dag_svg(graph, None, engine=engine)
    return DagPicture(
        dag.name, drawn.svg, drawn.engine, drawn.note, nodes=len(graph.get("nodes") or [])
    )


def _picture(info: DagRunInfo, engine: str) -> DagPicture:
    if not info.graph:
        raise UsageError(f"run {info.id} carries no graph")
    drawn = dag_svg(info.graph, info.nodes, engine=engine)
    return DagPicture(
        dag=info.run.workflow_type,
        svg=drawn.svg,
        engine=drawn.engine,
        note=drawn.note,
        run_id=info.id,
        status=info.status,
        nodes=len(info.graph.get("nodes") or []),
    )


async def dag_retry(client: AsyncClient, ref: str) -> DagRetry:
    """Retry the failed nodes of an ended DAG run: a new run (same workflow id and params)
    keeps what succeeded and runs the rest under their trigger rules."""
    info = await client.dag_run(_need(ref, "a run"))
    handle = await client.retry_failed_nodes(info.id)
    assert handle.run_id is not None
    kept: list[str] = []
    again: list[str] = []
    kept_items: dict[str, int] = {}
    for name, node in info.nodes.items():
        if node.kind == "item":
            continue
        (kept if node.state == "succeeded" else again).append(name)
        if node.kind == "map" and node.state != "succeeded":
            done = sum(
                1
                for label, item in info.nodes.items()
                if item.kind == "item"
                and label.startswith(f"{name}[")
                and item.state == "succeeded"
            )
            if done:
                kept_items[name] = done
    return DagRetry(
        dag=info.run.workflow_type,
        retry_of=info.id,
        run_id=handle.run_id,
        workflow_id=handle.workflow_id,
        kept=kept,
        again=again,
        kept_items=kept_items,
    )


async def dag_mark(
    client: AsyncClient,
    ref: str,
    node: str,
    *,
    skipped: bool = False,
    result: str | None = None,
    by: str | None = None,
    reason: str | None = None,
) -> NodeMark:
    """End a node of a running DAG run by hand: ``succeeded`` with ``result`` (JSON text,
    handed to its downstream nodes), or ``skipped``. Only a node that has not finished
    (pending, waiting or running) can be marked."""
    state, value = check_mark(skipped, result)
    _need(node, "a node name")
    run = await client.describe(_need(ref, "a run"))
    await client.mark_node(run.run_id, node, state, result=value, by=by, reason=reason)
    return NodeMark(
        run_id=run.run_id,
        workflow_id=run.workflow_id,
        dag=run.workflow_type,
        node=node,
        state=state,
        result=value,
        by=by,
        reason=reason,
    )
