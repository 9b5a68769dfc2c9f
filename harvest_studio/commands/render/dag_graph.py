"""DAG graphs as SVG: one box per node, an arrow per edge, each box filled by its state.

:func:`dag_svg` draws a DAG's graph (the JSON recorded per code version, ``{"nodes":
[...]}``), optionally coloured by a run's nodes (:class:`NodeInfo`). A box shows the node's
name, its trigger rule when it is not ``all_success``, its duration once known and, for a
map, its items by outcome (``3/4 ok · 1 failed``); map items are not boxes of their own.

Graphviz's ``dot`` lays the graph out when the binary is installed (driven through the
``graphviz`` Python package, imported on first use); without it a layered layout written
here (:mod:`.dag_layout`) draws the same boxes, and :attr:`DagGraph.note` says how to get
the better one. Either way every box is a ``<g class="node state-STATE" data-node=NAME
data-state=STATE>`` group and every arrow a ``<g class="edge" data-from data-to>`` group,
left to right, with a legend of the states present below.
"""

from __future__ import annotations

import html
import importlib
import os
import shutil
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...model.dag_runs import NodeInfo
from ...model.errors import UsageError
from .dag_layout import Box, layout

PALETTE: dict[str, str] = {
    "pending": "#d3d7dd",
    "running": "#7fb3f0",
    "succeeded": "#7cc784",
    "failed": "#e35d5d",
    "upstream_failed": "#f5a05a",
    "skipped": "#f1f3f5",
    "cancelled": "#8e949c",
    "timed_out": "#b48ee3",
    "waiting": "#f5d75e",
}
"""the fill of a node in each state (in legend order); an unknown state is drawn pending"""
ENGINES = ("auto", "dot", "python")
FALLBACK_NOTE = (
    "drawn without Graphviz: install the `dot` binary (apt install graphviz / "
    "brew install graphviz / conda install graphviz) for a better layout"
)
SVG_NOTE = "Drawn without Graphviz: install its dot binary for a better layout."
FONT = "Helvetica, Arial, sans-serif"
TEXT = "#1f2328"
STROKE = "#4b5563"
EDGE = "#6b7280"
SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
FINAL = frozenset({"succeeded", "failed", "upstream_failed", "skipped", "cancelled", "timed_out"})


@dataclass(frozen=True)
class DagGraph:
    """A drawn DAG: ``svg`` (a standalone ``<svg>`` document), the ``engine`` that laid it
    out (``dot`` or ``python``) and a one-line ``note`` when the fallback drew it. Shows
    itself in a notebook; :meth:`save` writes it to a file."""

    svg: str
    engine: str
    note: str | None = None

    def _repr_svg_(self) -> str:
        return self.svg

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the SVG to ``path`` (UTF-8) and return the path."""
        target = Path(path)
        target.write_text(self.svg, encoding="utf-8")
        return target

    def __str__(self) -> str:
        return self.svg

    def __repr__(self) -> str:
        note = f", note={self.note!r}" if self.note else ""
        return f"<DagGraph engine={self.engine!r}, {len(self.svg)} chars of SVG{note}>"


@dataclass(frozen=True)
class NodeView:
    """What one box shows: the node, its state and the lines of its label (name first)."""

    name: str
    kind: str
    state: str
    lines: tuple[str, ...]
    tooltip: str


def dag_svg(
    graph: dict[str, Any], nodes: dict[str, NodeInfo] | None = None, *, engine: str = "auto"
) -> DagGraph:
    """Draw ``graph`` (a DAG's graph JSON) as SVG, each node coloured by its state in
    ``nodes`` (a run's :class:`NodeInfo` by name; without it every node is pending).

    ``engine``: ``auto`` uses Graphviz's ``dot`` if installed and the layout written here
    otherwise, ``python`` forces the latter, ``dot`` raises :class:`UsageError` without it.
    """
    if engine not in ENGINES:
        raise UsageError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    views = node_views(graph, nodes)
    edges = graph_edges(graph)
    title = str(graph.get("name") or "dag")
    if engine != "python":
        gv = _graphviz(required=engine == "dot")
        if gv is not None:
            try:
                return DagGraph(_dot_svg(gv, title, views, edges), "dot")
            except Exception as exc:  # a dot that fails: draw anyway, say why
                if engine == "dot":
                    raise UsageError(f"Graphviz's dot failed: {exc}") from exc
                note = f"{FALLBACK_NOTE} (dot failed: {str(exc).splitlines()[0][:200]})"
                return DagGraph(_python_svg(title, views, edges), "python", note)
    return DagGraph(_python_svg(title, views, edges), "python", FALLBACK_NOTE)


def _graphviz(*, required: bool) -> Any:
    """The ``graphviz`` module if it and the ``dot`` binary are there, else None (or a
    :class:`UsageError` when ``required``)."""
    if shutil.which("dot") is None:
        if required:
            raise UsageError(
                "engine='dot' needs Graphviz's dot binary: apt install graphviz / "
                "brew install graphviz / conda install graphviz (or use engine='auto')"
            )
        return None
    try:
        return importlib.import_module("graphviz")
    except ImportError:
        if required:
            raise UsageError(
                "engine='dot' needs the graphviz package: pip install graphviz"
            ) from None
        return None


# ---------------------------------------------------------------------------------------
# what each box says
# ---------------------------------------------------------------------------------------
def graph_edges(graph: dict[str, Any]) -> list[tuple[str, str]]:
    """``(upstream, node)`` for every edge of the graph, in graph order."""
    names = {spec["name"] for spec in graph["nodes"]}
    return [
        (str(up), spec["name"])
        for spec in graph["nodes"]
        for up in spec.get("upstream") or []
        if up in names
    ]


def node_views(graph: dict[str, Any], nodes: dict[str, NodeInfo] | None) -> list[NodeView]:
    """One :class:`NodeView` per node of the graph, in graph order."""
    nodes = nodes or {}
    items: dict[str, list[NodeInfo]] = {}
    for item in nodes.values():
        if item.kind == "item":
            items.setdefault(item.name.rsplit("[", 1)[0], []).append(item)
    views = []
    for spec in graph["nodes"]:
        name = str(spec["name"])
        info = nodes.get(name)
        state = info.state if info is not None else "pending"
        lines = [name]
        rule = spec.get("trigger_rule") or "all_success"
        condition = [rule] if rule != "all_success" else []
        if spec.get("run_if"):
            condition.append("run_if")
        if condition:
            lines.append(" · ".join(condition))
        kind = str(spec.get("kind") or "task")
        if kind == "map":
            counted = map_counts(info, items.get(name, []))
            lines.append(counted or f"map over {spec.get('over')}")
        elif kind == "signal":  # a gate: what opens it
            lines.append(f"waits for {spec.get('signal')}")
        elif kind == "approval":
            lines.append("waits for approval")
        took = duration(info)
        if took:
            lines.append(took)
        tooltip = f"{name}: {state}"
        if info is not None and info.attempts > 1:
            tooltip += f" after {info.attempts} attempts"
        if info is not None and info.error:
            tooltip += f"\n{info.error}"
        views.append(NodeView(name, kind, state, tuple(lines), tooltip))
    return views


def map_counts(info: NodeInfo | None, items: Sequence[NodeInfo]) -> str | None:
    """A map's items by outcome: ``3/4 ok · 1 failed`` once it ended, ``1 ok · 2 running``
    while it runs; None before it has items."""
    counts = dict(info.counts) if info is not None else {}
    tally = Counter(item.state for item in items)
    ended = info is not None and info.state in FINAL and bool(counts)
    total = counts.get("items")
    ok = counts.get("succeeded", tally["succeeded"])
    parts = []
    if total is not None:
        parts.append(f"{ok}/{total} ok")
    elif ok:
        parts.append(f"{ok} ok")
    for key, label in (("failed", "failed"), ("timed_out", "timed out")):
        if n := counts.get(key, tally[key]):
            parts.append(f"{n} {label}")
    if not ended and (n := tally["running"] + tally["pending"]):
        parts.append(f"{n} running")
    if n := tally["cancelled"]:
        parts.append(f"{n} cancelled")
    if n := counts.get("not_started", 0):
        parts.append(f"{n} not started")
    return " · ".join(parts) or None


def duration(info: NodeInfo | None) -> str | None:
    """``ended_at - started_at`` as ``250 ms``, ``1.2 s``, ``3m05s``; None if not known."""
    if info is None or info.started_at is None or info.ended_at is None:
        return None
    seconds = max(0.0, (info.ended_at - info.started_at).total_seconds())
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def fill(state: str) -> str:
    return PALETTE.get(state, PALETTE["pending"])


def states_present(views: Sequence[NodeView]) -> list[str]:
    """The states of the legend: those of some node, in palette order."""
    present = {v.state if v.state in PALETTE else "pending" for v in views}
    return [s for s in PALETTE if s in present]


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


# ---------------------------------------------------------------------------------------
# the legend (both engines)
# ---------------------------------------------------------------------------------------
LEGEND_H = 26


def legend_svg(states: Sequence[str], x: float, y: float, scale: float = 1.0) -> tuple[str, float]:
    """The legend as an SVG fragment at ``(x, y)``, and its width."""
    parts = [f'<g class="legend" transform="translate({x:.1f},{y:.1f}) scale({scale})">']
    at = 0.0
    for state in states:
        parts.append(
            f'<g class="legend-item" data-state="{state}">'
            f'<rect x="{at:.1f}" y="6" width="14" height="14" rx="3" fill="{fill(state)}" '
            f'stroke="{STROKE}" stroke-width="0.8"/>'
            f'<text x="{at + 19:.1f}" y="17.5" font-family="{FONT}" font-size="11" '
            f'fill="{TEXT}">{_esc(state)}</text></g>'
        )
        at += 19 + 6.0 * len(state) + 16
    parts.append("</g>")
    return "".join(parts), max(0.0, at - 16) * scale


# ---------------------------------------------------------------------------------------
# the pure-Python drawing
# ---------------------------------------------------------------------------------------
NAME_CHAR = 7.4
LINE_CHAR = 6.4
MARGIN = 16


def _box(view: NodeView) -> Box:
    width = max(
        [len(view.lines[0]) * NAME_CHAR] + [len(line) * LINE_CHAR for line in view.lines[1:]]
    )
    return Box(width=max(84.0, width + 24), height=12.0 + 16 * len(view.lines))


def _python_svg(title: str, views: list[NodeView], edges: list[tuple[str, str]]) -> str:
    index = {v.name: i for i, v in enumerate(views)}
    placed = layout([_box(v) for v in views], [(index[a], index[b]) for a, b in edges])
    body: list[str] = []
    for k, ((a, b), path) in enumerate(zip(edges, placed.edges, strict=True)):
        d = " ".join(path.commands)
        tx, ty = path.tip
        body.append(
            f'<g id="edge-{k}" class="edge" data-from="{_esc(a)}" data-to="{_esc(b)}">'
            f"<title>{_esc(a)} → {_esc(b)}</title>"
            f'<path d="{d}" fill="none" stroke="{EDGE}" stroke-width="1.2"/>'
            f'<polygon points="{tx - 8:.1f},{ty - 4:.1f} {tx:.1f},{ty:.1f} {tx - 8:.1f},'
            f'{ty + 4:.1f}" fill="{EDGE}" stroke="{EDGE}"/></g>'
        )
    for i, (view, (x, y, w, h)) in enumerate(zip(views, placed.boxes, strict=True)):
        body.append(_python_node(i, view, x, y, w, h))
    legend, legend_w = legend_svg(states_present(views), MARGIN, placed.height + 4)
    note_y = placed.height + 4 + LEGEND_H + 14
    width = max(placed.width, MARGIN * 2 + legend_w, MARGIN * 2 + len(SVG_NOTE) * 5.6)
    height = note_y + 10
    return (
        f'<svg xmlns="{SVG_NS}" class="hs-dag" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{FONT}">'
        f"<title>{_esc(title)}</title>"
        f'<rect class="background" x="0" y="0" width="{width:.0f}" height="{height:.0f}" '
        'fill="white"/>'
        + "".join(body)
        + legend
        + f'<text class="note" x="{MARGIN}" y="{note_y:.1f}" font-size="10" fill="#6b7280">'
        f"{_esc(SVG_NOTE)}</text></svg>"
    )


def _python_node(i: int, view: NodeView, x: float, y: float, w: float, h: float) -> str:
    colour = fill(view.state)
    dash = ' stroke-dasharray="4 3"' if view.state == "skipped" else ""
    out = [
        f'<g id="node-{i}" class="node state-{_esc(view.state)}" data-node="{_esc(view.name)}" '
        f'data-state="{_esc(view.state)}"><title>{_esc(view.tooltip)}</title>'
    ]
    if view.kind == "map":  # a map is a stack of boxes
        out.append(
            f'<rect class="stack" x="{x + 4:.1f}" y="{y - 4:.1f}" width="{w:.1f}" '
            f'height="{h:.1f}" rx="6" fill="{colour}" stroke="{STROKE}"{dash}/>'
        )
    out.append(
        f'<rect class="box" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" '
        f'rx="6" fill="{colour}" stroke="{STROKE}"{dash}/>'
    )
    cx = x + w / 2
    for n, line in enumerate(view.lines):
        weight = ' font-weight="bold"' if n == 0 else ""
        size = 12 if n == 0 else 11
        out.append(
            f'<text x="{cx:.1f}" y="{y + 20 + 16 * n:.1f}" text-anchor="middle" '
            f'font-size="{size}" fill="{TEXT}"{weight}>{_esc(line)}</text>'
        )
    out.append("</g>")
    return "".join(out)


# ---------------------------------------------------------------------------------------
# Graphviz's dot
# ---------------------------------------------------------------------------------------
def _dot_svg(gv: Any, title: str, views: list[NodeView], edges: list[tuple[str, str]]) -> str:
    dot = gv.Digraph(name=title, format="svg")
    dot.attr(rankdir="LR", nodesep="0.25", ranksep="0.45", bgcolor="white", fontname=FONT)
    dot.attr(
        "node",
        shape="box",
        style="rounded,filled",
        fontname=FONT,
        fontsize="11",
        color=STROKE,
        fontcolor=TEXT,
        margin="0.15,0.07",
        height="0.35",
        width="0.8",
    )
    dot.attr("edge", color=EDGE, arrowsize="0.7")
    index = {v.name: i for i, v in enumerate(views)}
    for i, view in enumerate(views):
        style = "rounded,filled" + (",dashed" if view.state == "skipped" else "")
        extra = {"peripheries": "2"} if view.kind == "map" else {}
        dot.node(
            f"n{i}",
            label=_html_label(view),
            fillcolor=fill(view.state),
            style=style,
            id=f"node-{i}",
            **{"class": f"state-{view.state}"},
            **extra,
        )
    for k, (a, b) in enumerate(edges):
        dot.edge(f"n{index[a]}", f"n{index[b]}", id=f"edge-{k}")
    text = dot.pipe(format="svg", encoding="utf-8")
    return _finish_dot_svg(str(text), views, edges)


def _html_label(view: NodeView) -> str:
    lines = [f"<b>{_esc(view.lines[0])}</b>"]
    lines += [f'<font point-size="9.5">{_esc(line)}</font>' for line in view.lines[1:]]
    return "<" + "<br/>".join(lines) + ">"


def _finish_dot_svg(text: str, views: list[NodeView], edges: list[tuple[str, str]]) -> str:
    """dot's SVG with the data attributes, tooltips and legend that the boxes need."""
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    root = ET.fromstring(text)
    for group in root.iter(f"{{{SVG_NS}}}g"):
        ident = group.get("id") or ""
        title = group.find(f"{{{SVG_NS}}}title")
        if ident.startswith("node-"):
            view = views[int(ident[5:])]
            group.set("class", f"node state-{view.state}")
            group.set("data-node", view.name)
            group.set("data-state", view.state)
            if title is not None:
                title.text = view.tooltip
        elif ident.startswith("edge-"):
            a, b = edges[int(ident[5:])]
            group.set("data-from", a)
            group.set("data-to", b)
            if title is not None:
                title.text = f"{a} → {b}"
    _, _, width, height = (float(v) for v in (root.get("viewBox") or "0 0 0 0").split())
    legend, legend_w = legend_svg(states_present(views), 8, height + 2, 0.9)
    width = max(width, legend_w + 16)
    height += LEGEND_H + 8
    root.set("viewBox", f"0 0 {width:.2f} {height:.2f}")
    root.set("width", f"{width:.0f}pt")
    root.set("height", f"{height:.0f}pt")
    root.set("class", "hs-dag")
    background = ET.fromstring(
        f'<rect xmlns="{SVG_NS}" class="background" x="0" y="0" width="{width:.2f}" '
        f'height="{height:.2f}" fill="white"/>'
    )
    root.insert(0, background)
    root.append(ET.fromstring(f'<svg xmlns="{SVG_NS}">{legend}</svg>')[0])
    return ET.tostring(root, encoding="unicode")


__all__ = [
    "ENGINES",
    "FALLBACK_NOTE",
    "PALETTE",
    "DagGraph",
    "NodeView",
    "dag_svg",
    "duration",
    "map_counts",
    "node_views",
]
