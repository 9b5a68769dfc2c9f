"""The live DAG graph: an anywidget showing a DAG run's graph, redrawn while the run goes on
(each node coloured by its state), with a line counting the nodes by state."""

from __future__ import annotations

from collections import Counter
from typing import Any

import traitlets

from ...client import Client, DagRunInfo
from ...commands.render.dag_graph import dag_svg
from .live import STATIC, _Live, front_end


class DagGraphView(_Live):
    """A DAG run's graph that redraws itself every ``interval`` seconds while the run is
    RUNNING. ``svg`` is the drawing, ``summary`` the run's status and its nodes by state.

    >>> view = run.graph(live=True)      # doctest: +SKIP
    >>> view.summary["nodes"]            # doctest: +SKIP
    {'succeeded': 3, 'running': 1, 'pending': 2}
    """

    _esm = front_end()
    _css = (STATIC / "explorer.css").read_text()  # a path would be watched, pinning widgets

    view = traitlets.Unicode("graph").tag(sync=True)
    svg = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        client: Client,
        ref: str,
        *,
        live: bool = True,
        interval: float = 1.0,
        engine: str = "auto",
        **kwargs: Any,
    ) -> None:
        super().__init__(interval=interval, **kwargs)
        self.client = client
        self.engine = engine
        self._seen: list[dict[str, Any]] | None = None
        self._engine = engine
        info = client.dag_run(ref)  # a run that is not a DAG's fails here, before display
        self.run_id = info.id
        self._draw(info)
        if live:
            self.start_live()

    def refresh(self) -> None:
        self._draw(self.client.dag_run(self.run_id))

    def _draw(self, info: DagRunInfo) -> None:
        seen = [node.to_json() for node in info.nodes.values()]
        if seen != self._seen:  # lay it out again (a `dot` process) only when a node moved
            self._seen = seen
            drawn = dag_svg(info.graph, info.nodes, engine=self.engine)
            self.svg, self._engine = drawn.svg, drawn.engine
        states = Counter(n.state for n in info.nodes.values() if n.kind != "item")
        self.summary = {
            "run_id": info.id,
            "workflow_id": info.run.workflow_id,
            "workflow_type": info.run.workflow_type,
            "status": info.status,
            "nodes": dict(states),
            "engine": self._engine,
        }

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.summary.get("nodes", {}).items())
        sm = self.summary
        return f"<DagGraphView {sm.get('workflow_id')} {sm.get('status')}: {counts}>"


def dag_graph_view(client: Client, ref: str, **options: Any) -> DagGraphView:
    """A live graph of DAG run ``ref``."""
    return DagGraphView(client, ref, **options)
