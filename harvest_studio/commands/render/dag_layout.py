"""A layered left-to-right layout of a DAG, for drawing it without Graphviz.

The classic recipe in its simplest form: longest-path ranks (a node's rank is one more than
its highest upstream's), a placeholder in every rank a long edge crosses so that it runs
between boxes instead of through them, barycenter sweeps that order each rank to reduce
crossings (the ordering with the fewest is kept), then vertical positions pulled towards
each node's neighbours. Edges come back as SVG path commands ending at an arrow tip.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

RANK_GAP = 56.0
NODE_GAP = 18.0
DUMMY_GAP = 8.0
DUMMY_H = 4.0
MARGIN = 16.0
ARROW = 8.0
SWEEPS = 8


@dataclass(frozen=True)
class Box:
    width: float
    height: float


@dataclass(frozen=True)
class EdgePath:
    """An edge: SVG path commands from the upstream's right side to just before the arrow,
    and the arrow's tip (on the left side of the downstream box)."""

    commands: tuple[str, ...]
    tip: tuple[float, float]


@dataclass(frozen=True)
class Layout:
    """Each box as ``(x, y, width, height)`` (in input order), each edge's path (in input
    order), and the size of the drawing."""

    boxes: list[tuple[float, float, float, float]]
    edges: list[EdgePath]
    width: float
    height: float


def ranks(count: int, edges: Sequence[tuple[int, int]]) -> list[int]:
    """Longest-path ranks: 0 without upstreams, else 1 + the highest upstream's rank (nodes
    caught in a cycle, which a checked DAG has none of, stay where they got)."""
    rank = [0] * count
    succ: list[list[int]] = [[] for _ in range(count)]
    indegree = [0] * count
    for a, b in edges:
        succ[a].append(b)
        indegree[b] += 1
    ready = [i for i in range(count) if indegree[i] == 0]
    while ready:
        node = ready.pop(0)
        for nxt in succ[node]:
            rank[nxt] = max(rank[nxt], rank[node] + 1)
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
    return rank


def layout(boxes: Sequence[Box], edges: Sequence[tuple[int, int]]) -> Layout:
    """Place ``boxes`` left to right by rank along ``edges`` (index pairs, upstream first)."""
    count = len(boxes)
    rank = ranks(count, edges)
    width = [b.width for b in boxes]
    height = [b.height for b in boxes]
    pred: list[list[int]] = [[] for _ in range(count)]
    succ: list[list[int]] = [[] for _ in range(count)]
    chains: list[list[int]] = []
    for a, b in edges:
        chain = [a]
        for r in range(rank[a] + 1, rank[b]):  # a placeholder in every rank crossed
            rank.append(r)
            width.append(0.0)
            height.append(DUMMY_H)
            pred.append([])
            succ.append([])
            chain.append(len(rank) - 1)
        chain.append(b)
        for u, v in itertools.pairwise(chain):
            succ[u].append(v)
            pred[v].append(u)
        chains.append(chain)
    depth = max(rank, default=-1) + 1
    layers: list[list[int]] = [[] for _ in range(depth)]
    for vertex, r in enumerate(rank):
        layers[r].append(vertex)
    layers = _order(layers, pred, succ)
    centre = _vertical(layers, pred, succ, height, count)
    col_w = [max((width[v] for v in layer), default=0.0) for layer in layers]
    col_x = [MARGIN + sum(col_w[:r]) + r * RANK_GAP for r in range(depth)]
    placed = [
        (
            col_x[rank[i]] + (col_w[rank[i]] - width[i]) / 2,
            centre[i] - height[i] / 2,
            width[i],
            height[i],
        )
        for i in range(count)
    ]
    paths = []
    for chain in chains:
        a, b = chain[0], chain[-1]
        points = [(placed[a][0] + placed[a][2], centre[a])]
        straight: set[int] = set()  # segments that run through a placeholder's column
        for dummy in chain[1:-1]:
            r = rank[dummy]
            points.append((col_x[r], centre[dummy]))
            straight.add(len(points) - 1)
            points.append((col_x[r] + col_w[r], centre[dummy]))
        tip = (placed[b][0], centre[b])
        points.append((tip[0] - ARROW, tip[1]))
        commands = [f"M{points[0][0]:.1f},{points[0][1]:.1f}"]
        for k in range(1, len(points)):
            (px, py), (qx, qy) = points[k - 1], points[k]
            if k - 1 in straight:
                commands.append(f"L{qx:.1f},{qy:.1f}")
            else:
                mid = (px + qx) / 2
                commands.append(f"C{mid:.1f},{py:.1f} {mid:.1f},{qy:.1f} {qx:.1f},{qy:.1f}")
        paths.append(EdgePath(tuple(commands), tip))
    right = col_x[-1] + col_w[-1] + MARGIN if depth else 2 * MARGIN
    bottom = max((centre[v] + height[v] / 2 for v in range(len(rank))), default=0.0) + MARGIN
    return Layout(placed, paths, right, bottom)


def _order(
    layers: list[list[int]], pred: list[list[int]], succ: list[list[int]]
) -> list[list[int]]:
    """Barycenter sweeps, down then up; the ordering with the fewest crossings wins."""
    best = [list(layer) for layer in layers]
    fewest = crossings(best, succ)
    current = [list(layer) for layer in layers]
    for sweep in range(SWEEPS):
        if fewest == 0:
            break
        down = sweep % 2 == 0
        order = range(1, len(current)) if down else range(len(current) - 2, -1, -1)
        for r in order:
            near = current[r - 1] if down else current[r + 1]
            position = {v: i for i, v in enumerate(near)}
            mine = {v: i for i, v in enumerate(current[r])}
            links = pred if down else succ
            keys: dict[int, tuple[float, int]] = {}
            for v in current[r]:
                ns = [position[n] for n in links[v] if n in position]
                keys[v] = (sum(ns) / len(ns) if ns else float(mine[v]), mine[v])
            current[r] = sorted(current[r], key=keys.__getitem__)
        found = crossings(current, succ)
        if found < fewest:
            fewest, best = found, [list(layer) for layer in current]
    return best


def crossings(layers: Sequence[Sequence[int]], succ: Sequence[Sequence[int]]) -> int:
    """How many pairs of edges between adjacent ranks cross."""
    total = 0
    for r in range(len(layers) - 1):
        position = {v: i for i, v in enumerate(layers[r + 1])}
        segments = [
            (i, position[w]) for i, v in enumerate(layers[r]) for w in succ[v] if w in position
        ]
        for k, (a1, b1) in enumerate(segments):
            for a2, b2 in segments[k + 1 :]:
                if (a1 - a2) * (b1 - b2) < 0:
                    total += 1
    return total


def _vertical(
    layers: list[list[int]],
    pred: list[list[int]],
    succ: list[list[int]],
    height: list[float],
    real: int,
) -> list[float]:
    """The centre of every vertex: stacked in rank order, then pulled towards the mean of
    its neighbours in alternating sweeps, never closer than the gap allows."""
    centre = [0.0] * len(height)

    def gap(a: int, b: int) -> float:
        return NODE_GAP if a < real and b < real else DUMMY_GAP

    def place(layer: list[int], wanted: list[float]) -> None:
        bottom = float("-inf")
        for i, v in enumerate(layer):
            top = wanted[i] - height[v] / 2
            if i:
                top = max(top, bottom + gap(layer[i - 1], v))
            centre[v] = top + height[v] / 2
            bottom = top + height[v]
        shift = sum(w - centre[v] for w, v in zip(wanted, layer, strict=True)) / len(layer)
        for v in layer:
            centre[v] += shift

    for layer in layers:
        if layer:
            place(layer, [0.0] * len(layer))
    for sweep in range(6):
        down = sweep % 2 == 0
        links = pred if down else succ
        for layer in layers if down else reversed(layers):
            if not layer:
                continue
            wanted = [
                sum(centre[n] for n in links[v]) / len(links[v]) if links[v] else centre[v]
                for v in layer
            ]
            place(layer, wanted)
    top = min((centre[v] - height[v] / 2 for v in range(len(height))), default=0.0)
    return [c - top + MARGIN for c in centre]
