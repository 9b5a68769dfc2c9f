"""``hs.simulate``: Monte-Carlo simulation of a DAG's runs, from loaded histories or given
distributions, and what-if comparisons (docs/analysis.md, "Simulation")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...model.dag import DagSpec
from ...model.definitions import WorkflowDefinition
from ...model.errors import UsageError
from ...model.retry import RetryPolicy
from .inputs import (
    Distribution,
    Inputs,
    Latency,
    constant,
    empirical,
    exponential,
    given_inputs,
    history_inputs,
    lognormal,
    uniform,
)
from .kernel import item_counts, run_kernel
from .plan import Resources, build_plan
from .result import Comparison, Makespan, Simulation
from .shapes import workflow_shape

if TYPE_CHECKING:
    from ..analysis import HistoryDB

DEFAULT_SLOTS = 32
"""a worker's slots when ``slots=`` is not given (``WorkerOptions.max_concurrent_tasks``)"""
MAX_RUNS = 10_000_000


def simulate(
    dag: Any,
    runs: int = 10_000,
    *,
    durations: str | Mapping[str, Any] = "history",
    failures: Mapping[str, float] | None = None,
    items: Mapping[str, Any] | None = None,
    workers: int | Mapping[str, int] = 1,
    slots: int | None = None,
    caps: Mapping[str, int] | None = None,
    retry: RetryPolicy | Mapping[str, RetryPolicy] | None = None,
    faster: Mapping[str, float] | None = None,
    latency: Latency | None = None,
    history: HistoryDB | None = None,
    seed: int = 0,
    progress: bool | None = None,
) -> Simulation:
    """Simulate ``runs`` runs of ``dag`` (an ``@hs.dag``) and return their makespan
    distribution, each node's criticality, utilisation and queue waits.

    ``dag`` may also be a plain ``@hs.workflow`` (or its type's name): its most common
    shape in the loaded histories is simulated as a DAG whose nodes are its activities and
    timers, each depending on the steps that had ended before it was scheduled (the
    result's ``note`` says how many runs had that shape).

    ``durations="history"`` draws each node's attempt durations, failure rate, ``run_if``
    skip rate and map item counts, and the engine's own latencies, from the loaded
    histories (``history``, else the last ``hs.analytics.load`` of this process, else a
    fresh load); a mapping gives some or all nodes a duration (seconds, a list of samples or
    a distribution such as ``hs.simulation.lognormal(2, 5)``). ``failures`` and ``items``
    give failure rates and map item counts. ``workers`` is the number of worker processes
    (or ``{queue: processes}``), each with ``slots`` slots (the worker's default, 32);
    ``caps`` caps activity types' concurrency, ``retry`` replaces retry policies (one for
    every node, or per node), ``faster`` makes nodes faster (``{"load": 0.3}``: 30% less
    time). The same ``seed`` draws the same numbers. A run longer than half a second
    shows a progress bar where someone watches (``progress=False``: never).

    >>> sim = hs.simulate(nightly, runs=10_000, durations="history", workers=4)
    ... # doctest: +SKIP
    >>> sim.makespan.p90, sim.compare(workers=8)                 # doctest: +SKIP
    """
    if isinstance(runs, bool) or not isinstance(runs, int) or not 1 <= runs <= MAX_RUNS:
        raise UsageError(f"runs must be a whole number from 1 to {MAX_RUNS:,}, got {runs!r}")
    if not isinstance(durations, Mapping) and durations != "history":
        raise UsageError(f"durations must be 'history' or a mapping of node to seconds, "
                         f"got {durations!r}")
    spec, from_history, note = _what_to_simulate(dag, durations, history)
    names = [node.name for node in spec.nodes]
    base = given_inputs(names, durations if isinstance(durations, Mapping) else {},
                        failures or {}, items or {}, from_history)
    if latency is not None:
        base = Inputs(base.nodes, latency, base.runs_seen)
    settings = {"workers": workers, "slots": slots, "caps": caps, "retry": retry,
                "faster": faster, "progress": progress}
    return _run(spec, base, runs, seed, settings, note)


def _what_to_simulate(
    target: Any, durations: Any, history: HistoryDB | None
) -> tuple[DagSpec, Inputs | None, str]:
    """The DAG to simulate, the inputs read from histories (or None), and a note on where
    a plain workflow's shape came from."""
    spec = _spec_of(target)
    if spec is not None:
        if durations == "history" or history is not None:
            names = [node.name for node in spec.nodes]
            return spec, history_inputs(_history_db(history), spec.name, names), ""
        return spec, None, ""
    name = target if isinstance(target, str) else getattr(target, "name", None)
    if not isinstance(name, str) or not isinstance(target, str | WorkflowDefinition):
        raise UsageError(f"simulate takes a DAG made with @hs.dag, a workflow or a workflow "
                         f"type's name, got {target!r}")
    shape = workflow_shape(_history_db(history), name)
    return shape.spec, shape.inputs, shape.note


def _run(spec: DagSpec, base: Inputs, runs: int, seed: int,
         settings: dict[str, Any], note: str = "") -> Simulation:
    inputs = base.faster(settings["faster"] or {})
    resources = Resources(_workers(settings["workers"]), _slots(settings["slots"]),
                          _caps(settings["caps"]))
    maps = [node.name for node in spec.nodes if node.kind == "map"]
    for name in maps:
        if inputs.nodes[name].items is None:
            raise UsageError(f"how many items does map node {name!r} get? give "
                             f"items={{{name!r}: count}} or load histories with runs of it")
    positions = {node.name: i for i, node in enumerate(spec.nodes)}
    counts = item_counts(inputs, maps, positions, runs, seed)
    plan = build_plan(spec, resources, {m: int(counts[m].max(initial=1)) for m in maps},
                      _retry(settings["retry"], spec))
    raw = run_kernel(plan, inputs, runs, seed, counts, settings["progress"])
    result = Simulation.of(spec.name, plan.nodes, plan.group_names, plan.group_slots, raw,
                           {k: v for k, v in settings.items()
                            if v is not None and k != "progress"})
    result.note = note

    def rerun(**changes: Any) -> Simulation:
        allowed = {"workers", "slots", "caps", "retry", "faster", "durations", "failures",
                   "items"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise UsageError(f"compare() cannot change {', '.join(unknown)}; it changes "
                             f"{', '.join(sorted(allowed))}")
        changed = base
        if {"durations", "failures", "items"} & set(changes):
            changed = given_inputs(list(positions), changes.get("durations") or {},
                                   changes.get("failures") or {}, changes.get("items") or {},
                                   base)
        merged = settings | {k: v for k, v in changes.items() if k in settings}
        return _run(spec, changed, runs, seed, merged, note)

    result._rerun = rerun
    return result


def _spec_of(dag: Any) -> DagSpec | None:
    if isinstance(dag, DagSpec):
        return dag
    spec = getattr(dag, "spec", None)
    return spec if isinstance(spec, DagSpec) else None


def _history_db(given: HistoryDB | None) -> HistoryDB:
    from .. import analysis

    if given is not None:
        return given
    return analysis.HistoryDB.latest or analysis.load()


def _workers(value: int | Mapping[str, int]) -> dict[str, int]:
    found = dict(value) if isinstance(value, Mapping) else {"*": value}
    for queue, count in found.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise UsageError(f"workers for {queue!r} must be a whole number >= 1, got {count!r}")
    return found


def _slots(value: int | None) -> int:
    if value is None:
        return DEFAULT_SLOTS
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"slots must be a whole number >= 1, got {value!r}")
    return value


def _caps(value: Mapping[str, int] | None) -> dict[str, int]:
    found = dict(value or {})
    for name, cap in found.items():
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise UsageError(f"caps[{name!r}] must be a whole number >= 1, got {cap!r}")
    return found


def _retry(value: RetryPolicy | Mapping[str, RetryPolicy] | None,
           spec: DagSpec) -> dict[str, RetryPolicy]:
    if value is None:
        return {}
    if isinstance(value, RetryPolicy):
        return {node.name: value for node in spec.nodes}
    for name, policy in value.items():
        if name not in spec.by_name:
            raise UsageError(f"retry= names {name!r}, which is not a node of {spec.name}")
        if not isinstance(policy, RetryPolicy):
            raise UsageError(f"retry[{name!r}] must be a hs.RetryPolicy, got {policy!r}")
    return dict(value)


__all__ = [
    "Comparison",
    "Distribution",
    "Latency",
    "Makespan",
    "Simulation",
    "constant",
    "empirical",
    "exponential",
    "lognormal",
    "simulate",
    "uniform",
]
