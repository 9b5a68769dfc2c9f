"""A plain workflow's shape, read from its histories, so that it can be simulated like a DAG.

Workflow code is not a graph until it runs. Each finished run's history is: activities
(each scheduled at some moment, ended at another) and timers. A step **depends on** the
steps that had ended before it was scheduled — the code awaited them, or at least could
have. Runs whose steps and dependencies are the same have the same **shape**; the most
common shape becomes a DAG (one node per step, ``all_success`` on its dependencies), whose
durations, failure rates and retry policies come from the runs of that shape."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...model.dag import DagSpec, NodeSpec
from ...model.errors import UsageError
from ...model.retry import RetryPolicy
from .inputs import Inputs, NodeInputs, empirical, latency_of
from .plan import TIMER_KIND

if TYPE_CHECKING:
    from ..analysis import HistoryDB

TIMER = TIMER_KIND


@dataclass(frozen=True)
class _Step:
    seq: int
    kind: str  # "activity" or "timer"
    name: str
    queue: str
    scheduled: float
    ended: float


@dataclass
class Shape:
    """A workflow's most common shape as a DAG, its inputs, and how many runs had it."""

    spec: DagSpec
    inputs: Inputs
    runs_with_shape: int
    runs_seen: int

    @property
    def note(self) -> str:
        return (f"the shape of {self.runs_with_shape} of {self.runs_seen} runs "
                f"({len(self.spec.nodes)} steps)")


def workflow_shape(db: HistoryDB, workflow_type: str) -> Shape:
    """The most common shape of ``workflow_type``'s finished, loaded runs."""
    runs = _steps_per_run(db, workflow_type)
    if not runs:
        raise UsageError(f"no finished runs of {workflow_type} are loaded: run it, then "
                         "%harvest load")
    shapes = {run: _shape_of(steps) for run, steps in runs.items()}
    (common, count), = Counter(shapes.values()).most_common(1)
    names = _names(common)
    example = next(r for r, s in shapes.items() if s == common)
    options = _options(db, example)
    nodes = []
    for i, (kind, name, queue, deps) in enumerate(common):
        opts = options.get(runs[example][i].seq, {})
        nodes.append(NodeSpec(
            name=names[i], kind=TIMER if kind == TIMER else "task", activity=name, args=[],
            upstream=[names[d] for d in sorted(deps)], arg_upstream=[], queue=queue,
            options=opts,
        ))
    spec = DagSpec(name=workflow_type, params={}, defaults={}, nodes=nodes)
    chosen = [r for r, s in shapes.items() if s == common]
    inputs = _inputs(db, workflow_type, chosen, runs, names)
    return Shape(spec, inputs, count, len(runs))


def _steps_per_run(db: HistoryDB, workflow_type: str) -> dict[str, list[_Step]]:
    rows = db.con.execute(
        """
        SELECT a.run_id, a.scheduled_seq, 'activity', a.activity_type, a.queue,
               epoch_ms(min(a.scheduled_at)) / 1000.0, epoch_ms(max(a.ended_at)) / 1000.0
        FROM attempts a JOIN runs r USING (run_id)
        WHERE r.workflow_type = $type AND r.closed_at IS NOT NULL GROUP BY ALL
        UNION ALL
        SELECT t.run_id, t.seq, 'timer', CAST(t.duration_s AS VARCHAR), '',
               epoch_ms(t.started_at) / 1000.0, epoch_ms(t.fired_at) / 1000.0
        FROM timers t JOIN runs r USING (run_id)
        WHERE r.workflow_type = $type AND r.closed_at IS NOT NULL AND t.state = 'fired'
        ORDER BY 1, 2
        """,
        {"type": workflow_type},
    ).fetchall()
    found: dict[str, list[_Step]] = {}
    for run_id, seq, kind, name, queue, scheduled, ended in rows:
        if ended is None:
            continue
        found.setdefault(run_id, []).append(
            _Step(seq, kind, name, queue, float(scheduled), float(ended)))
    return found


_Shape = tuple[tuple[str, str, str, frozenset[int]], ...]


def _shape_of(steps: list[_Step]) -> _Shape:
    return tuple(
        (step.kind, step.name, step.queue,
         frozenset(j for j in range(i) if steps[j].ended <= step.scheduled))
        for i, step in enumerate(steps)
    )


def _names(shape: _Shape) -> list[str]:
    labels = [f"sleep {name}s" if kind == TIMER else name for kind, name, _, _ in shape]
    seen: Counter[str] = Counter(labels)
    taken: Counter[str] = Counter()
    names = []
    for label in labels:
        taken[label] += 1
        names.append(label if seen[label] == 1 else f"{label} #{taken[label]}")
    return names


def _options(db: HistoryDB, run_id: str) -> dict[int, dict[str, Any]]:
    """Each activity's retry policy and timeouts as its ActivityScheduled recorded them,
    by the event's seq."""
    rows = db.con.execute(
        "SELECT seq, payload->'options' FROM events WHERE run_id = ?"
        " AND type = 'ActivityScheduled' ORDER BY seq",
        [run_id],
    ).fetchall()
    found: dict[int, dict[str, Any]] = {}
    for seq, raw in rows:
        if raw is None:
            continue
        given = json.loads(raw) if isinstance(raw, str) else raw
        options: dict[str, Any] = {}
        if isinstance(given.get("retry"), dict):
            options["retry"] = RetryPolicy.from_json(given["retry"])
        for key in ("start_to_close", "schedule_to_close"):
            if given.get(key) is not None:
                options[key] = float(given[key])
        found[seq] = options
    return found


def _inputs(db: HistoryDB, workflow_type: str, chosen: list[str],
            runs: dict[str, list[_Step]], names: list[str]) -> Inputs:
    place_of = {(run, step.seq): i for run in chosen for i, step in enumerate(runs[run])}
    samples: dict[int, tuple[list[float], list[float]]] = {}
    rows = db.con.execute(
        "SELECT run_id, scheduled_seq, run_ms / 1000.0, outcome <> 'completed' FROM attempts"
        " WHERE run_id IN (SELECT unnest($runs)) AND ended_at IS NOT NULL",
        {"runs": chosen},
    ).fetchall()
    for run_id, seq, seconds, failed in rows:
        ok, bad = samples.setdefault(place_of[(run_id, seq)], ([], []))
        (bad if failed else ok).append(max(0.0, float(seconds)))
    for run in chosen:
        for i, step in enumerate(runs[run]):
            if step.kind == TIMER:
                samples.setdefault(i, ([], []))[0].append(step.ended - step.scheduled)
    nodes = {}
    for i, name in enumerate(names):
        ok, bad = samples.get(i, ([], []))
        ok_dist = empirical(ok or bad, f"{name} durations")
        nodes[name] = NodeInputs(
            ok=ok_dist,
            failed=empirical(bad, f"{name} failures") if bad else ok_dist,
            failure_rate=len(bad) / max(1, len(ok) + len(bad)),
        )
    return Inputs(nodes, latency_of(db, workflow_type), len(runs))
