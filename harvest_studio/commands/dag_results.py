"""What the ``dag`` commands return: frozen dataclasses, each with a ``to_json()`` method
(the rest of the results are in :mod:`.results`)."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..client import DagRunInfo, DagTypeInfo
from ..model.dag_runs import NodeInfo


def node_states(info: DagRunInfo) -> dict[str, int]:
    """How many nodes (map items not counted) are in each state, most common first."""
    tally = Counter(node.state for node in info.nodes.values() if node.kind != "item")
    return dict(tally.most_common())


def _iso(moment: Any) -> str | None:
    return None if moment is None else moment.isoformat()


@dataclass(frozen=True)
class DagRunDetail:
    """``dag show``: a DAG run and its nodes. ``items`` False folds the items of each map
    into the map's row (its ``counts``); True lists them after it."""

    info: DagRunInfo
    items: bool = False

    @property
    def nodes(self) -> list[NodeInfo]:
        return [n for n in self.info.nodes.values() if self.items or n.kind != "item"]

    def to_json(self) -> dict[str, Any]:
        run = self.info.run
        return {
            "run_id": run.run_id,
            "workflow_id": run.workflow_id,
            "dag": run.workflow_type,
            "status": run.status,
            "created_at": _iso(run.created_at),
            "closed_at": _iso(run.closed_at),
            "error": run.error,
            "states": node_states(self.info),
            "nodes": {node.name: node.to_json() for node in self.nodes},
        }


@dataclass(frozen=True)
class DagList:
    """``dag list``: the DAG types of the namespace."""

    dags: list[DagTypeInfo]

    def to_json(self) -> dict[str, Any]:
        return {"dags": [d.to_json() for d in self.dags]}


@dataclass(frozen=True)
class DagRunList:
    """``dag runs``: the runs of one DAG, newest first."""

    dag: str
    runs: list[DagRunInfo]

    def to_json(self) -> dict[str, Any]:
        return {
            "dag": self.dag,
            "runs": [
                {
                    "run_id": r.run.run_id,
                    "workflow_id": r.run.workflow_id,
                    "status": r.run.status,
                    "created_at": _iso(r.run.created_at),
                    "closed_at": _iso(r.run.closed_at),
                    "states": node_states(r),
                }
                for r in self.runs
            ],
        }


@dataclass(frozen=True)
class DagPicture:
    """``dag graph``: a DAG drawn as SVG. ``run_id`` is the run it is coloured by (None:
    the DAG itself, every node pending); ``graph_of`` the run whose code version's graph a
    DAG name drew. ``path`` is where a front end saved it. Shows itself in a notebook."""

    dag: str
    svg: str
    engine: str
    note: str | None = None
    run_id: str | None = None
    status: str | None = None
    nodes: int = 0
    graph_of: str | None = None
    path: str | None = None

    def _repr_svg_(self) -> str:
        return self.svg

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the SVG to ``path`` (UTF-8) and return the path."""
        target = Path(path)
        target.write_text(self.svg, encoding="utf-8")
        return target

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "dag": self.dag,
            "run_id": self.run_id,
            "status": self.status,
            "nodes": self.nodes,
            "graph_of": self.graph_of,
            "engine": self.engine,
            "note": self.note,
            "path": self.path,
        }
        if self.path is None:
            data["svg"] = self.svg
        return data


@dataclass(frozen=True)
class DagRetry:
    """``dag retry``: the new run of an ended DAG run. ``kept`` are the nodes whose results
    it keeps, ``again`` the nodes that run again; ``kept_items`` how many items each map
    among them keeps."""

    dag: str
    retry_of: str
    run_id: str
    workflow_id: str
    kept: list[str]
    again: list[str]
    kept_items: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "dag": self.dag,
            "retry_of": self.retry_of,
            "run_id": self.run_id,
            "workflow_id": self.workflow_id,
            "kept": self.kept,
            "again": self.again,
            "kept_items": self.kept_items,
        }


@dataclass(frozen=True)
class NodeMark:
    """``dag mark``: a node of a running DAG run ended by hand (as ``succeeded`` with
    ``result``, or ``skipped``). The run applies it when its worker next runs its code."""

    run_id: str
    workflow_id: str
    dag: str
    node: str
    state: str
    result: Any = None
    by: str | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "workflow_id": self.workflow_id,
            "dag": self.dag,
            "node": self.node,
            "state": self.state,
            "result": self.result,
            "by": self.by,
            "reason": self.reason,
        }
