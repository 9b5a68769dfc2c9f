"""Reading a DAG run back from its history: each node's state, attempts, times and result.

The DAG runtime records a ``dag.node`` marker when a node reaches its final state and puts
the node's name (``load``, ``transform[3]``) into the options of every activity it
schedules; together with the graph recorded for the run's code version, that is enough to
say where every node is, for a finished run or one still going.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .events import (
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    ActivityStarted,
    ActivityTimedOut,
    HistoryEvent,
    MarkerRecorded,
)

NODE_MARKER = "dag.node"
FINAL_STATES = frozenset(
    {"succeeded", "failed", "upstream_failed", "skipped", "cancelled", "timed_out"}
)
RUN_ENDED_WITHOUT_NODES = {"CANCELLED", "TERMINATED", "TIMED_OUT", "FAILED", "COMPLETED"}


@dataclass
class NodeInfo:
    """Where one node of a DAG run is. ``kind`` is ``task``, ``map`` or ``item`` (one item of
    a map, named ``map[i]``); ``counts`` gives a map's items by outcome (and how many were
    ``reused``)."""

    name: str
    kind: str = "task"
    state: str = "pending"
    attempts: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None
    result: Any = None
    error: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    reused_from: str | None = None
    """the run whose result this node kept (a run made by ``retry_failed_nodes``)"""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "state": self.state,
            "attempts": self.attempts,
            "started_at": None if self.started_at is None else self.started_at.isoformat(),
            "ended_at": None if self.ended_at is None else self.ended_at.isoformat(),
            "result": self.result,
            "error": self.error,
            "counts": self.counts,
            "reused_from": self.reused_from,
        }


def _parse_time(text: str, fallback: datetime) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return fallback


def node_infos(
    graph: dict[str, Any], history: Iterable[HistoryEvent], run_status: str
) -> dict[str, NodeInfo]:
    """The nodes of a run of the DAG ``graph`` (as recorded: ``{"nodes": [...]}``), in graph
    order with each map's items after it."""
    nodes: dict[str, NodeInfo] = {
        n["name"]: NodeInfo(n["name"], kind=n.get("kind", "task")) for n in graph["nodes"]
    }
    items: dict[str, list[str]] = {}
    by_seq: dict[int, NodeInfo] = {}
    for record in history:
        event = record.event
        if isinstance(event, ActivityScheduled):
            label = event.options.get("node")
            if not isinstance(label, str):
                continue
            info = nodes.get(label)
            if info is None:
                info = nodes[label] = NodeInfo(label, kind="item")
                items.setdefault(label.rsplit("[", 1)[0], []).append(label)
            by_seq[record.seq] = info
            if info.state == "pending":
                info.state = "running"
            parent = nodes.get(label.rsplit("[", 1)[0]) if info.kind == "item" else None
            if parent is not None and parent.state == "pending":
                parent.state = "running"
                parent.started_at = parent.started_at or record.at
        elif isinstance(event, ActivityStarted) and event.scheduled_seq in by_seq:
            info = by_seq[event.scheduled_seq]
            info.attempts = max(info.attempts, event.attempt)
            if info.started_at is None:
                info.started_at = _parse_time(event.started_at, record.at)
        elif isinstance(event, ActivityCompleted) and event.scheduled_seq in by_seq:
            info = by_seq[event.scheduled_seq]
            info.state, info.result, info.ended_at = "succeeded", event.result, record.at
            info.attempts = max(info.attempts, event.attempt)
        elif isinstance(event, ActivityFailed) and event.scheduled_seq in by_seq:
            info = by_seq[event.scheduled_seq]
            info.attempts = max(info.attempts, event.attempt)
            info.error = str(event.error.get("message") or event.error.get("type") or "")
            if not event.retrying:
                info.state, info.ended_at = "failed", record.at
        elif isinstance(event, ActivityTimedOut) and event.scheduled_seq in by_seq:
            info = by_seq[event.scheduled_seq]
            info.attempts = max(info.attempts, event.attempt)
            info.error = f"{event.timeout_type} timeout"
            if not event.retrying:
                info.state, info.ended_at = "timed_out", record.at
        elif isinstance(event, MarkerRecorded) and event.name == NODE_MARKER:
            _apply_marker(nodes, event.details, record.at)
            if isinstance(event.details, dict) and "reused_results" in event.details:
                map_name = str(event.details.get("node"))
                for index, value in dict(event.details["reused_results"]).items():
                    label = f"{map_name}[{index}]"
                    nodes[label] = NodeInfo(
                        label, kind="item", state="succeeded", result=value,
                        ended_at=record.at, reused_from=event.details.get("reused_from"),
                    )
                    items.setdefault(map_name, []).append(label)
    for info in nodes.values():
        if info.kind == "map" and info.state in ("succeeded", "failed") and "items" in info.counts:
            values: list[Any] = [None] * info.counts["items"]
            for label in items.get(info.name, []):
                values[_item_index(label)] = nodes[label].result
            info.result = values
    if run_status in RUN_ENDED_WITHOUT_NODES:
        for info in nodes.values():
            if info.state not in FINAL_STATES:
                info.state = "cancelled"
    return _ordered(graph, nodes, items)


def _apply_marker(nodes: dict[str, NodeInfo], details: Any, at: datetime) -> None:
    if not isinstance(details, dict) or not isinstance(details.get("node"), str):
        return
    info = nodes.get(details["node"])
    if info is None:
        return
    info.state = str(details.get("state", info.state))
    info.ended_at = info.ended_at or at
    if details.get("error"):
        info.error = str(details["error"])
    if details.get("reused_from"):
        info.reused_from = str(details["reused_from"])
        if "result" in details:
            info.result = details["result"]
    counts = {
        k: v for k, v in details.items() if isinstance(v, int) and not isinstance(v, bool)
    }
    if counts:
        info.counts = counts


def _ordered(
    graph: dict[str, Any], nodes: dict[str, NodeInfo], items: dict[str, list[str]]
) -> dict[str, NodeInfo]:
    out: dict[str, NodeInfo] = {}
    for spec in graph["nodes"]:
        out[spec["name"]] = nodes[spec["name"]]
        for label in sorted(items.get(spec["name"], []), key=_item_index):
            out[label] = nodes[label]
    return out


def _item_index(label: str) -> int:
    try:
        return int(label.rsplit("[", 1)[1].rstrip("]"))
    except (IndexError, ValueError):
        return 0
