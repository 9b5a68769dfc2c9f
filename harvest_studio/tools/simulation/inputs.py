"""What a simulation draws from: each node's durations, failure rate, run_if skip rate and
map item counts, and the engine's own latencies — read from loaded histories or given.

Every distribution is kept as a quantile function on :data:`GRID` points and sampled by
inverting it at a uniform number. Two simulations that use the same uniform numbers for the
same attempt of the same node (common random numbers) differ only by what was changed."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np

from ...model.errors import UsageError

if TYPE_CHECKING:
    from ..analysis import HistoryDB

GRID = 129
_LEVELS = np.linspace(0.0, 1.0, GRID)


class Distribution:
    """A distribution of seconds (or counts), as a quantile function. Make one with
    :func:`constant`, :func:`uniform`, :func:`lognormal`, :func:`exponential` or
    :func:`empirical`; a number or a list of samples given to ``hs.simulate`` becomes
    one.

    >>> lognormal(median=2.0, p90=5.0).quantile(0.5)
    2.0
    """

    def __init__(self, quantiles: np.ndarray, label: str) -> None:
        self.quantiles = np.asarray(quantiles, dtype=np.float64)
        self.label = label

    def quantile(self, level: float) -> float:
        return float(np.interp(level, _LEVELS, self.quantiles))

    def scaled(self, factor: float) -> Distribution:
        return Distribution(self.quantiles * factor, f"{self.label} x{factor:g}")

    def __repr__(self) -> str:
        return f"<Distribution {self.label}: p50 {self.quantile(0.5):.3g}>"


def constant(seconds: float) -> Distribution:
    return Distribution(np.full(GRID, float(seconds)), f"constant {seconds:g}")


def uniform(low: float, high: float) -> Distribution:
    if high < low:
        raise UsageError(f"uniform({low}, {high}): high is below low")
    return Distribution(low + (high - low) * _LEVELS, f"uniform {low:g}-{high:g}")


def exponential(mean: float) -> Distribution:
    levels = np.minimum(_LEVELS, 0.999)
    return Distribution(-mean * np.log1p(-levels), f"exponential mean {mean:g}")


def lognormal(median: float, p90: float) -> Distribution:
    """A log-normal distribution given by its median and 90th percentile."""
    if not 0 < median <= p90:
        raise UsageError(f"lognormal needs 0 < median <= p90, got {median}, {p90}")
    sigma = math.log(p90 / median) / NormalDist().inv_cdf(0.9)
    clipped = np.clip(_LEVELS, 0.001, 0.999)
    z = np.array([NormalDist().inv_cdf(float(p)) for p in clipped])
    return Distribution(median * np.exp(sigma * z), f"lognormal p50 {median:g} p90 {p90:g}")


def empirical(samples: Iterable[float], label: str = "samples") -> Distribution:
    values = np.asarray(list(samples), dtype=np.float64)
    if values.size == 0:
        raise UsageError(f"{label}: no samples")
    return Distribution(np.quantile(values, _LEVELS), f"{label} (n={values.size})")


def as_distribution(value: Any, what: str) -> Distribution:
    """A number, a list of samples or a :class:`Distribution`, as a distribution."""
    if isinstance(value, Distribution):
        return value
    if isinstance(value, bool):
        raise UsageError(f"{what}: give seconds, samples or a distribution, not {value!r}")
    if isinstance(value, int | float):
        if value < 0 or not math.isfinite(value):
            raise UsageError(f"{what}: seconds must be finite and >= 0, got {value}")
        return constant(float(value))
    if isinstance(value, Sequence) and not isinstance(value, str):
        return empirical([float(v) for v in value], what)
    raise UsageError(f"{what}: give seconds, samples or a distribution, not {value!r}")


@dataclass(frozen=True)
class NodeInputs:
    """One node: its attempts' durations when they succeed and when they fail, the share
    of attempts that fail, the share of runs its ``run_if`` skips, and (maps) how many
    items it gets."""

    ok: Distribution
    failed: Distribution
    failure_rate: float = 0.0
    skip_rate: float = 0.0
    items: Distribution | None = None


@dataclass(frozen=True)
class Latency:
    """The engine's own time, in seconds: from the trigger to the first decision
    (``start``), from an upstream's end to its downstream being scheduled (``decide``),
    from scheduled to a free worker starting it (``claim``), from the last node's end to
    the run's end (``end``)."""

    start: float = 0.0
    decide: float = 0.0
    claim: float = 0.0
    end: float = 0.0


@dataclass
class Inputs:
    """Everything drawn from, per node name."""

    nodes: dict[str, NodeInputs]
    latency: Latency = field(default_factory=Latency)
    runs_seen: int = 0
    """how many loaded runs the inputs were read from (0: all given)"""

    def faster(self, speedups: Mapping[str, float]) -> Inputs:
        """The same inputs with nodes made faster (``{"load": 0.3}``: 30% less time)."""
        nodes = dict(self.nodes)
        for name, share in speedups.items():
            if name not in nodes:
                raise UsageError(f"faster= names {name!r}, which is not a node")
            if not 0 <= share < 1:
                raise UsageError(f"faster={{{name!r}: {share}}}: give a share from 0 to 1")
            node = nodes[name]
            nodes[name] = replace(node, ok=node.ok.scaled(1 - share),
                                  failed=node.failed.scaled(1 - share))
        return Inputs(nodes, self.latency, self.runs_seen)


def given_inputs(
    nodes: Sequence[str],
    durations: Mapping[str, Any],
    failures: Mapping[str, float],
    items: Mapping[str, Any],
    history: Inputs | None,
) -> Inputs:
    """Inputs from given values, falling back on ``history`` for nodes not given."""
    for given, label in ((durations, "durations"), (failures, "failures"), (items, "items")):
        unknown = sorted(set(given) - set(nodes))
        if unknown:
            raise UsageError(f"{label}= names {', '.join(unknown)}: not nodes of this DAG")
    found: dict[str, NodeInputs] = {}
    for name in nodes:
        base = history.nodes.get(name) if history else None
        if name in durations:
            ok = as_distribution(durations[name], f"durations[{name!r}]")
            base = replace(base, ok=ok) if base else NodeInputs(ok=ok, failed=ok)
        if base is None:
            raise UsageError(f"no duration for node {name!r}: give durations={{{name!r}: "
                             "seconds}} or load histories with runs of it")
        if name in failures:
            rate = float(failures[name])
            if not 0 <= rate <= 1:
                raise UsageError(f"failures[{name!r}] must be from 0 to 1, got {rate}")
            base = replace(base, failure_rate=rate)
        if name in items:
            base = replace(base, items=as_distribution(items[name], f"items[{name!r}]"))
        found[name] = base
    return Inputs(found, history.latency if history else Latency(),
                  history.runs_seen if history else 0)


_LABEL = r"regexp_replace(a.node, '\[[0-9]+\]$', '')"


def history_inputs(db: HistoryDB, dag: str, nodes: Sequence[str]) -> Inputs:
    """Each node's inputs from the loaded runs of DAG ``dag``."""
    con = db.con
    [(runs,)] = con.execute(
        "SELECT count(*) FROM runs WHERE workflow_type = ? AND closed_at IS NOT NULL", [dag]
    ).fetchall()
    if not runs:
        raise UsageError(f"no finished runs of {dag} are loaded: run it, then "
                         "%harvest load (or give durations=)")
    attempts = con.execute(
        f"SELECT {_LABEL}, a.run_ms / 1000.0, a.outcome <> 'completed' FROM attempts a"
        " JOIN runs r USING (run_id) WHERE r.workflow_type = ? AND a.ended_at IS NOT NULL",
        [dag],
    ).fetchall()
    per_node: dict[str, tuple[list[float], list[float]]] = {}
    for name, seconds, failed in attempts:
        ok, bad = per_node.setdefault(name, ([], []))
        (bad if failed else ok).append(max(0.0, float(seconds)))
    states = _node_states(db, dag)
    found: dict[str, NodeInputs] = {}
    for name in nodes:
        ok, bad = per_node.get(name, ([], []))
        gate_waits = states["gates"].get(name)
        if gate_waits:
            ok = gate_waits
        if not ok and not bad:
            continue
        ok_dist = empirical(ok or bad, f"{name} durations")
        found[name] = NodeInputs(
            ok=ok_dist,
            failed=empirical(bad, f"{name} failures") if bad else ok_dist,
            failure_rate=len(bad) / (len(ok) + len(bad)),
            skip_rate=states["skips"].get(name, 0.0),
            items=empirical(states["items"][name], f"{name} items")
            if name in states["items"] else None,
        )
    return Inputs(found, latency_of(db, dag), int(runs))


def _node_states(db: HistoryDB, dag: str) -> dict[str, dict[str, Any]]:
    rows = db.con.execute(
        "SELECT node, state, CAST(details->>'items' AS INTEGER),"
        " details->>'run_if' = 'false', epoch_ms(ended_at) / 1000.0, run_id"
        " FROM dag_nodes WHERE dag = ? ORDER BY run_id, seq",
        [dag],
    ).fetchall()
    items: dict[str, list[float]] = {}
    skipped: dict[str, list[bool]] = {}
    waiting: dict[tuple[str, str], float] = {}
    gates: dict[str, list[float]] = {}
    for node, state, count, by_run_if, at, run_id in rows:
        if state == "waiting":
            waiting[(run_id, node)] = at
            continue
        if count is not None:
            items.setdefault(node, []).append(float(count))
        if state in ("succeeded", "failed", "timed_out") or by_run_if:
            skipped.setdefault(node, []).append(bool(by_run_if))
        began = waiting.pop((run_id, node), None)
        if began is not None and state in ("succeeded", "failed", "timed_out"):
            gates.setdefault(node, []).append(max(0.0, at - began))
    return {
        "items": items,
        "skips": {k: sum(v) / len(v) for k, v in skipped.items()},
        "gates": gates,
    }


def latency_of(db: HistoryDB, workflow_type: str) -> Latency:
    """The engine's latencies (medians) in the loaded runs of ``workflow_type``."""
    [(start, decide, claim, end)] = db.con.execute(
        """
        WITH a AS (SELECT a.* FROM attempts a JOIN runs r USING (run_id)
                   WHERE r.workflow_type = $type),
        firsts AS (SELECT run_id, min(scheduled_at) AS first_at,
                          max(ended_at) AS last_at FROM a GROUP BY run_id),
        gaps AS (
            SELECT epoch_ms(s.scheduled_at) - epoch_ms(e.ended_at) AS gap_ms
            FROM (SELECT DISTINCT run_id, scheduled_seq, scheduled_at FROM a) s
            ASOF JOIN (SELECT run_id, ended_at FROM a WHERE ended_at IS NOT NULL) e
              ON s.run_id = e.run_id AND s.scheduled_at >= e.ended_at
        )
        SELECT
          (SELECT median(epoch_ms(f.first_at) - epoch_ms(r.created_at))
             FROM firsts f JOIN runs r USING (run_id)),
          (SELECT median(gap_ms) FROM gaps),
          (SELECT median(queue_ms) FROM a WHERE started_at IS NOT NULL),
          (SELECT median(epoch_ms(r.closed_at) - epoch_ms(f.last_at))
             FROM firsts f JOIN runs r USING (run_id) WHERE r.closed_at IS NOT NULL)
        """,
        {"type": workflow_type},
    ).fetchall()

    def seconds(ms: Any) -> float:
        return max(0.0, float(ms or 0.0) / 1000.0)

    return Latency(seconds(start), seconds(decide), seconds(claim), seconds(end))
