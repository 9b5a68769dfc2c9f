"""What ``hs.simulate`` returns: the makespan distribution, each node's criticality, the
pools' utilisation and queue waits, and a what-if comparison of two simulations."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..charts import histogram_svg
from ..profile import seconds_text as _secs
from .kernel import Raw


@dataclass(frozen=True)
class Makespan:
    """Seconds from a run's trigger to its end (queue waits included), over the simulated
    runs."""

    p50: float
    p90: float
    p99: float
    mean: float
    max: float

    @classmethod
    def of(cls, seconds: np.ndarray) -> Makespan:
        p50, p90, p99 = np.quantile(seconds, [0.5, 0.9, 0.99])
        return cls(float(p50), float(p90), float(p99), float(seconds.mean()),
                   float(seconds.max()))

    def to_json(self) -> dict[str, float]:
        return {"p50": self.p50, "p90": self.p90, "p99": self.p99, "mean": self.mean,
                "max": self.max}


@dataclass
class Simulation:
    """The result of :func:`harvest_studio.simulate`: ``makespan`` (p50/p90/p99 seconds),
    ``criticality`` (per node, the share of runs where it was on the critical path),
    ``utilisation`` (per pool of slots, the share of its slot time used), ``queue_waits``
    (per node, mean seconds waiting for a free slot), ``attempts`` (per node, mean
    attempts per run, a map's items included), ``failure_rate`` (share of runs that
    failed) and the makespan of every run in ``samples``. ``compare(...)`` runs a
    what-if with the same random numbers."""

    dag: str
    runs: int
    settings: dict[str, Any]
    makespan: Makespan
    criticality: dict[str, float]
    utilisation: dict[str, float]
    queue_waits: dict[str, float]
    attempts: dict[str, float]
    failure_rate: float
    samples: np.ndarray = field(repr=False)
    note: str = ""
    """for a plain workflow: which shape of its runs was simulated"""
    _rerun: Callable[..., Simulation] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, dag: str, nodes: list[str], pools: list[str], slots: list[int], raw: Raw,
           settings: dict[str, Any]) -> Simulation:
        runs = len(raw.makespan)
        span = np.maximum(raw.makespan, 1e-9)
        use = {name: float(np.mean(raw.busy[:, g] / (slots[g] * span)))
               for g, name in enumerate(pools) if name.startswith("queue ")}
        return cls(
            dag=dag,
            runs=runs,
            settings=settings,
            makespan=Makespan.of(raw.makespan),
            criticality={n: float(raw.critical[:, i].mean()) for i, n in enumerate(nodes)},
            utilisation={k.removeprefix("queue "): v for k, v in use.items()},
            queue_waits={n: float(raw.queue_wait[:, i].mean()) for i, n in enumerate(nodes)},
            attempts={n: float(raw.attempts[:, i].mean()) for i, n in enumerate(nodes)},
            failure_rate=float(raw.failed.mean()),
            samples=raw.makespan,
        )

    def compare(self, **changes: Any) -> Comparison:
        """The same simulation with ``changes`` (``workers``, ``slots``, ``caps``,
        ``retry``, ``faster``, ``durations``, ``failures``, ``items``), drawing the same
        random numbers for the same attempts, next to this one.

        >>> sim.compare(workers=8, faster={"transform": 0.3})   # doctest: +SKIP
        """
        if self._rerun is None:
            raise RuntimeError("this simulation cannot be re-run")
        return Comparison(self, self._rerun(**changes), changes)

    def most_critical(self, limit: int = 5) -> list[tuple[str, float]]:
        ranked = sorted(self.criticality.items(), key=lambda kv: -kv[1])
        return ranked[:limit]

    def to_json(self) -> dict[str, Any]:
        return {"dag": self.dag, "runs": self.runs, "settings": _plain(self.settings),
                "makespan": self.makespan.to_json(), "criticality": self.criticality,
                "utilisation": self.utilisation, "queue_waits": self.queue_waits,
                "attempts": self.attempts,
                "failure_rate": self.failure_rate}

    def __str__(self) -> str:
        m = self.makespan
        shape = f", {self.note}" if self.note else ""
        lines = [f"{self.dag}: {self.runs:,} simulated runs ({_describe(self.settings)}"
                 f"{shape})",
                 f"  makespan p50 {_secs(m.p50)}, p90 {_secs(m.p90)}, p99 {_secs(m.p99)}",
                 f"  runs failed {self.failure_rate:.1%}"]
        critical = ", ".join(f"{n} {s:.0%}" for n, s in self.most_critical() if s > 0)
        lines.append(f"  most often critical: {critical or 'none'}")
        use = ", ".join(f"{q} {u:.0%}" for q, u in self.utilisation.items())
        lines.append(f"  utilisation: {use}")
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        return _card([self], None)


@dataclass
class Comparison:
    """Two simulations side by side: ``base``, ``other`` (``base`` with ``changes``),
    ``difference`` (other minus base, seconds, for p50/p90/p99 and the mean) and a plot
    of both makespan distributions in the notebook."""

    base: Simulation
    other: Simulation
    changes: dict[str, Any]

    @property
    def difference(self) -> dict[str, float]:
        a, b = self.base.makespan.to_json(), self.other.makespan.to_json()
        return {k: b[k] - a[k] for k in ("p50", "p90", "p99", "mean")}

    def to_json(self) -> dict[str, Any]:
        return {"base": self.base.to_json(), "other": self.other.to_json(),
                "changes": _plain(self.changes), "difference": self.difference}

    def __str__(self) -> str:
        rows = [f"what if {_describe(self.changes)}:"]
        a, b = self.base.makespan, self.other.makespan
        for key in ("p50", "p90", "p99"):
            before, after = getattr(a, key), getattr(b, key)
            change = (after - before) / before if before else 0.0
            rows.append(f"  {key}: {_secs(before)} -> {_secs(after)} ({change:+.0%})")
        return "\n".join(rows)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        return _card([self.base, self.other], self)


def _plain(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, int | float | str | dict | list | type(None)) else repr(v)
            for k, v in settings.items()}


def _describe(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in settings.items() if v is not None) or "as is"


def _card(sims: list[Simulation], comparison: Comparison | None) -> str:
    labels = ["as is", "what if"] if comparison else [f"{sims[0].runs:,} runs"]
    head = "".join(f"<th>{html.escape(label)}</th>" for label in labels)
    rows = []
    for key in ("p50", "p90", "p99", "mean"):
        cells = "".join(f"<td>{_secs(getattr(s.makespan, key))}</td>" for s in sims)
        rows.append(f"<tr><th>makespan {key}</th>{cells}</tr>")
    failed = "".join(f"<td>{s.failure_rate:.1%}</td>" for s in sims)
    rows.append(f"<tr><th>runs failed</th>{failed}</tr>")
    for name, _ in sims[0].most_critical(3):
        cells = "".join(f"<td>{s.criticality[name]:.0%}</td>" for s in sims)
        rows.append(f"<tr><th>critical: {html.escape(name)}</th>{cells}</tr>")
    title = html.escape(str(comparison).splitlines()[0] if comparison
                        else f"{sims[0].dag}: simulated")
    plot = histogram_svg([s.samples for s in sims], labels)
    return (f"<div class='hs-simulation'><b>{title}</b><div style='display:flex;gap:16px;"
            f"align-items:flex-start'><table><tr><th></th>{head}</tr>{''.join(rows)}"
            f"</table>{plot}</div></div>")
