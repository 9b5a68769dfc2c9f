"""Renderings of DAG runs: ``dag show`` (a run's facts and its node table), ``dag runs``,
what ``dag graph``, ``dag retry`` and ``dag mark`` did, as text (and the tables as HTML)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...client import DagRunInfo
from ...model.dag_runs import NodeInfo
from ..dag_results import (
    DagList,
    DagPicture,
    DagRetry,
    DagRunDetail,
    DagRunList,
    NodeMark,
    node_states,
)
from .dag_graph import PALETTE, map_counts
from .format import _error_line, compact, fmt_duration, fmt_time, key_values, shorten, table
from .html import esc, html_table, status_badge
from .runs import run_status

NODE_HEADERS = ["NODE", "KIND", "STATE", "ATTEMPTS", "STARTED", "DURATION", "ERROR"]


def _took(info: DagRunInfo) -> str:
    run = info.run
    if run.closed_at is None:
        return "running"
    return fmt_duration((run.closed_at - run.created_at).total_seconds())


def describe_states(states: dict[str, int]) -> str:
    """``4 succeeded, 1 failed, 1 upstream_failed``; ``-`` for none."""
    return ", ".join(f"{n} {state}" for state, n in states.items()) or "-"


def _items_of(info: DagRunInfo, name: str) -> list[NodeInfo]:
    prefix = f"{name}["
    return [n for label, n in info.nodes.items() if n.kind == "item" and label.startswith(prefix)]


def node_state(info: DagRunInfo, node: NodeInfo) -> str:
    """A node's state; a map's with its items by outcome: ``failed (3/4 ok, 1 failed)``."""
    if node.kind != "map":
        return node.state
    counted = map_counts(node, _items_of(info, node.name))
    return f"{node.state} ({counted.replace(' · ', ', ')})" if counted else node.state


def _duration(node: NodeInfo) -> float | None:
    if node.started_at is None or node.ended_at is None:
        return None
    return max(0.0, (node.ended_at - node.started_at).total_seconds())


def _node_row(info: DagRunInfo, node: NodeInfo) -> tuple[Any, ...]:
    return (
        ("  " if node.kind == "item" else "") + node.name,
        node.kind,
        node_state(info, node),
        node.attempts or None,
        node.started_at,
        fmt_duration(_duration(node)) if _duration(node) is not None else None,
        node.error,
    )


def _facts(info: DagRunInfo) -> list[tuple[str, Any]]:
    run = info.run
    pairs: list[tuple[str, Any]] = [
        ("DAG", run.workflow_type),
        ("Run", run.run_id),
        ("Workflow id", run.workflow_id),
        ("Status", run_status(run)),
        ("Started", fmt_time(run.created_at, ms=True)),
    ]
    if run.closed_at is not None:
        pairs.append(("Closed", f"{fmt_time(run.closed_at, ms=True)} (took {_took(info)})"))
    retry_of = run.memo.get("retry_of") if isinstance(run.memo, dict) else None
    if retry_of:
        pairs.append(("Retry of", f"run {retry_of}"))
    if run.error:
        pairs.append(("Error", _error_line(run.error)))
    pairs.append(("Nodes", describe_states(node_states(info))))
    return pairs


def render_dag_run(detail: DagRunDetail) -> str:
    """``harvest dag show``: the run's facts, then one row per node (map items folded into
    their map's row unless ``--items``)."""
    info = detail.info
    rows = [_node_row(info, n) for n in detail.nodes]
    out = key_values(_facts(info)) + "\n\n"
    out += table(
        NODE_HEADERS, rows, max_width=[None, None, None, None, None, None, 80], empty="(no nodes)"
    )
    folded = sum(1 for n in info.nodes.values() if n.kind == "item") if not detail.items else 0
    if folded:
        out += f"\n\n{folded} map item(s) folded into their map's row; --items lists them"
    return out


def render_dag_list(listing: DagList) -> str:
    rows = [
        (d.name, d.nodes, d.last_status or "-", d.last_started_at or "-", d.last_run_id or "-")
        for d in listing.dags
    ]
    return table(
        ["DAG", "NODES", "LAST RUN", "STARTED", "RUN ID"],
        rows,
        empty="(no DAGs: a worker or a client starting one records its graph)",
    )


def render_dag_runs(listing: DagRunList) -> str:
    rows = [
        (
            r.run.run_id,
            run_status(r.run),
            r.run.created_at,
            _took(r),
            describe_states(node_states(r)),
        )
        for r in listing.runs
    ]
    return table(
        ["RUN ID", "STATUS", "STARTED", "TOOK", "NODES"],
        rows,
        max_width=[None, None, None, None, 100],
        empty=f"(no runs of DAG {listing.dag})",
    )


def render_dag_picture(picture: DagPicture) -> str:
    """What ``dag graph`` drew: ``wrote nightly.svg: DAG nightly, run ... (FAILED), 6 nodes,
    laid out by dot`` (without a path: ``drew``), then the note when there is one."""
    what = f"DAG {picture.dag}"
    if picture.run_id is not None:
        what += f", run {picture.run_id} ({picture.status})"
    elif picture.graph_of is not None:
        what += f" as its newest run {picture.graph_of} was defined"
    else:
        what += " as defined here"
    verb = f"wrote {picture.path}" if picture.path else "drew"
    text = f"{verb}: {what}, {picture.nodes} node(s), laid out by {picture.engine}"
    return text + (f"\n{picture.note}" if picture.note else "")


def render_dag_retry(retry: DagRetry) -> str:
    ref = f"run {retry.run_id}"
    if retry.workflow_id != retry.run_id:
        ref += f" (workflow id {retry.workflow_id})"
    again = [
        f"{name} ({retry.kept_items[name]} item(s) kept)" if name in retry.kept_items else name
        for name in retry.again
    ]
    return "\n".join(
        [
            f"retried the failed nodes of DAG {retry.dag} run {retry.retry_of}: new {ref}",
            f"  kept        {', '.join(retry.kept) or '-'}",
            f"  runs again  {', '.join(again) or '-'}",
        ]
    )


def render_node_mark(mark: NodeMark) -> str:
    text = f"marked node {mark.node} of DAG {mark.dag} run {mark.run_id} {mark.state}"
    if mark.state == "succeeded" and mark.result is not None:
        text += f" with result {compact(mark.result, 80)}"
    if mark.by:
        text += f", by {mark.by}"
    if mark.reason:
        text += f": {shorten(mark.reason, 80)}"
    return text


# ---------------------------------------------------------------------------------------
# HTML (the notebook)
# ---------------------------------------------------------------------------------------
def _state_cell(info: DagRunInfo, node: NodeInfo) -> str:
    colour = PALETTE.get(node.state, PALETTE["pending"])
    dot = (
        f'<span style="display:inline-block;width:.8em;height:.8em;border-radius:2px;'
        f'background:{colour};border:1px solid #4b5563;margin-right:4px"></span>'
    )
    return dot + esc(node_state(info, node))


def _cells(values: Sequence[Any]) -> list[str]:
    return [esc("-" if v is None else v) for v in values]


def dag_run_html(detail: DagRunDetail) -> str:
    info = detail.info
    run = info.run
    head = (
        f"<div><strong>DAG {esc(run.workflow_type)}</strong> <code>{esc(run.run_id)}</code> "
        f"{status_badge(run_status(run))}</div>"
    )
    facts = [p for p in _facts(info) if p[0] not in ("DAG", "Run", "Status")]
    lines = "".join(f"<div>{esc(k)}: {esc(v)}</div>" for k, v in facts)
    rows = []
    for node in detail.nodes:
        took = _duration(node)
        rows.append(
            [
                ("&nbsp;&nbsp;" if node.kind == "item" else "") + f"<code>{esc(node.name)}</code>",
                esc(node.kind),
                _state_cell(info, node),
                *_cells(
                    [
                        node.attempts or None,
                        fmt_time(node.started_at),
                        fmt_duration(took) if took is not None else None,
                        node.error,
                    ]
                ),
            ]
        )
    body = html_table(NODE_HEADERS, rows, empty="(no nodes)")
    return f'<div class="harvest-output">{head}{lines}{body}</div>'


def dag_runs_html(listing: DagRunList) -> str:
    rows = [
        [
            f"<code>{esc(r.run.run_id)}</code>",
            status_badge(run_status(r.run)),
            *_cells([fmt_time(r.run.created_at), _took(r), describe_states(node_states(r))]),
        ]
        for r in listing.runs
    ]
    return html_table(
        ["RUN ID", "STATUS", "STARTED", "TOOK", "NODES"],
        rows,
        empty=f"(no runs of DAG {listing.dag})",
    )
