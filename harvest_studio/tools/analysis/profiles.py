"""Profiles across many runs of one workflow type or DAG, from the loaded histories: the
distribution of their durations, how often each step (a DAG node, an activity, a timer, a
signal wait) was on a run's critical path, and where the time went on average."""

from __future__ import annotations

import html
import json
import statistics
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ...model.errors import UsageError
from ...model.events import HistoryEvent, decode
from ..profile import KINDS, breakdown, critical_path, spans_of, step_of
from ..profile import seconds_text as _secs

if TYPE_CHECKING:
    import duckdb

@dataclass
class TypeProfile:
    """Where the time of ``runs`` finished runs of ``workflow_type`` went: ``durations``
    (seconds, one per run) with ``p50``/``p90``/``p99``, ``criticality`` (per step, the
    share of runs where it was on the critical path, most critical first) and
    ``breakdown`` (mean seconds per run by kind, as in a run's profile)."""

    workflow_type: str
    runs: int
    durations: list[float]
    criticality: dict[str, float]
    breakdown: dict[str, float]

    def quantile(self, level: float) -> float:
        ordered = sorted(self.durations)
        return ordered[min(len(ordered) - 1, int(level * len(ordered)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.durations)

    @property
    def p90(self) -> float:
        return self.quantile(0.9)

    @property
    def p99(self) -> float:
        return self.quantile(0.99)

    def to_json(self) -> dict[str, Any]:
        return {"workflow_type": self.workflow_type, "runs": self.runs, "p50": self.p50,
                "p90": self.p90, "p99": self.p99, "criticality": self.criticality,
                "breakdown": self.breakdown}

    def __str__(self) -> str:
        lines = [f"{self.workflow_type}: {self.runs} finished runs, p50 {_secs(self.p50)}, "
                 f"p90 {_secs(self.p90)}, p99 {_secs(self.p99)}", "most often critical:"]
        for step, share in list(self.criticality.items())[:8]:
            lines.append(f"  {share:>5.0%}  {step}")
        mean = sum(self.breakdown.values()) or 1.0
        lines.append("time (mean per run): " + ", ".join(
            f"{k} {_secs(v)} ({v / mean:.0%})" for k, v in self.breakdown.items() if v > 0))
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        import numpy as np

        from ..charts import histogram_svg

        rows = "".join(
            f"<tr><td>{html.escape(step)}</td><td>{share:.0%}</td></tr>"
            for step, share in list(self.criticality.items())[:10]
        )
        plot = histogram_svg([np.array(self.durations)], [f"{self.runs} runs"])
        head = html.escape(str(self).splitlines()[0])
        return (f"<div class='hs-type-profile'><b>{head}</b><div style='display:flex;gap:16px'>"
                f"<table><tr><th>step</th><th>critical in</th></tr>{rows}</table>{plot}</div>"
                f"<pre>{html.escape(str(self).splitlines()[-1])}</pre></div>")


def profile_type(
    con: duckdb.DuckDBPyConnection, workflow_type: str, *, limit: int | None = None
) -> TypeProfile:
    """The profile of the loaded, finished runs of ``workflow_type`` (the ``limit`` latest
    ones if given)."""
    if limit is not None and limit < 1:
        raise UsageError("profile: the limit must be at least 1")
    latest = "" if limit is None else f" ORDER BY closed_at DESC LIMIT {int(limit)}"
    rows = con.execute(
        "SELECT e.run_id, e.seq, e.type, e.\"at\", e.payload FROM events e"
        " WHERE e.run_id IN (SELECT run_id FROM runs WHERE workflow_type = ?"
        f" AND closed_at IS NOT NULL{latest}) ORDER BY e.run_id, e.seq",
        [workflow_type],
    ).fetchall()
    if not rows:
        raise UsageError(f"profile: no finished runs of {workflow_type} are loaded "
                         "(%harvest load first)")
    histories: dict[str, list[HistoryEvent]] = {}
    for run_id, seq, kind, at, payload in rows:
        data = json.loads(payload) if isinstance(payload, str) else payload
        histories.setdefault(run_id, []).append(
            HistoryEvent(seq, at if isinstance(at, datetime) else datetime.fromisoformat(at),
                         decode(kind, data)))
    durations: list[float] = []
    critical: dict[str, int] = {}
    totals = dict.fromkeys(KINDS, 0.0)
    for history in histories.values():
        _start, duration, spans = spans_of(history)
        chain = critical_path(spans, duration)
        durations.append(duration)
        for step in {step_of(span.name) for span in chain}:
            critical[step] = critical.get(step, 0) + 1
        for kind, seconds in breakdown(chain, duration).items():
            totals[kind] += seconds
    count = len(histories)
    ranked = sorted(critical.items(), key=lambda kv: (-kv[1], kv[0]))
    return TypeProfile(
        workflow_type=workflow_type,
        runs=count,
        durations=durations,
        criticality={step: n / count for step, n in ranked},
        breakdown={kind: seconds / count for kind, seconds in totals.items()},
    )
