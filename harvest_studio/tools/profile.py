"""``hs.profile(run)`` / ``%harvest profile RUN``: where a run's time went.

The history gives every span a run waited on: each activity attempt (its queue wait, its
work, the retry backoff after a failed one), each timer, each child run, each wait for a
signal. The **critical path** is the chain of spans that decided when the run ended: start
from the run's end, take the span that ended last before it, go to that span's start, take
the span that ended last before that, and so on back to the start. The time between two
steps of the chain is the workflow's own (its decisions, and waiting for a worker to take
its task). The **breakdown** adds the critical path's time up by kind."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..client import AsyncClient, Client
from ..model.events import (
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    ActivityStarted,
    ActivityTimedOut,
    ChildWorkflowCompleted,
    ChildWorkflowFailed,
    ChildWorkflowStarted,
    HistoryEvent,
    SignalReceived,
    TimerFired,
    TimerStarted,
)

KINDS = ("work", "queue", "backoff", "timer", "signal", "child", "workflow")
"""the kinds of time: an activity running, waiting in a queue, waiting out a retry backoff,
a timer, a wait for a signal, a child run, and the workflow's own time"""
_EPSILON = 0.0005  # seconds: an end this close after a start still counts as before it


@dataclass(frozen=True)
class Span:
    """Something the run waited on, from ``start`` to ``end`` (seconds since the run's
    start), of kind ``kind`` (see :data:`KINDS`)."""

    name: str
    kind: str
    start: float
    end: float
    seq: int

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "start": self.start, "end": self.end,
                "seq": self.seq}


@dataclass
class RunProfile:
    """A run's profile: ``critical_path`` (the steps, in time order, each with name, kind,
    start and end in seconds since the run started), ``breakdown`` (seconds per kind along
    it, adding up to ``duration``) and every ``span``. Shows as a Gantt chart in a
    notebook."""

    run_id: str
    workflow_type: str
    status: str
    started_at: datetime
    duration: float
    spans: list[Span] = field(default_factory=list)
    critical_path: list[Span] = field(default_factory=list)
    breakdown: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "workflow_type": self.workflow_type,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "duration": self.duration,
            "critical_path": [s.to_json() for s in self.critical_path],
            "breakdown": self.breakdown,
            "spans": [s.to_json() for s in self.spans],
        }

    def __str__(self) -> str:
        lines = [f"{self.workflow_type} run {self.run_id} ({self.status}), "
                 f"{_secs(self.duration)}; critical path:"]
        for step in self.critical_path:
            lines.append(f"  {_secs(step.start):>9} -> {_secs(step.end):>9}  "
                         f"{step.kind:<8} {step.name}")
        share = ", ".join(
            f"{k} {_secs(v)} ({v / self.duration:.0%})"
            for k, v in self.breakdown.items() if v > 0 and self.duration > 0
        )
        lines.append(f"time: {share or 'none'}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return gantt_html(self)

    def gantt(self) -> Any:
        """The interactive Gantt chart (Bokeh, inline: no CDN): tooltips, zoom and pan
        along time, ``.save(path)`` for a standalone page. The profile itself shows a
        static chart, which a saved notebook keeps."""
        from .profile_chart import GanttChart

        return GanttChart(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def seconds_text(value: float) -> str:
    """Seconds for people: ``340 ms``, ``2.45 s``."""
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


_secs = seconds_text


def spans_of(history: list[HistoryEvent]) -> tuple[datetime, float, list[Span]]:
    """The run's start, its duration so far (to its last event) and its spans."""
    start = history[0].at
    def t(at: datetime) -> float:
        return (at - start).total_seconds()

    spans: list[Span] = []
    scheduled: dict[int, tuple[str, float]] = {}
    started: dict[tuple[int, int], float] = {}
    ready: dict[int, float] = {}  # when an activity's next attempt could start
    timers: dict[int, float] = {}
    children: dict[int, tuple[str, float]] = {}
    last_progress = 0.0  # when the run last did something (what a signal wait starts from)
    for record in history:
        event, now = record.event, t(record.at)
        if isinstance(event, ActivityScheduled):
            # a DAG node's activity goes by the node's name (a map item's: ``node[i]``)
            scheduled[record.seq] = (str(event.options.get("node") or event.activity_type),
                                     now)
            ready[record.seq] = now
        elif isinstance(event, ActivityStarted) and event.scheduled_seq in scheduled:
            name = scheduled[event.scheduled_seq][0]
            began = t(datetime.fromisoformat(event.started_at))
            spans.append(Span(f"{name} #{event.attempt} queue", "queue",
                              ready[event.scheduled_seq], began, record.seq))
            started[(event.scheduled_seq, event.attempt)] = began
        elif isinstance(event, ActivityCompleted | ActivityFailed | ActivityTimedOut):
            key = (event.scheduled_seq, event.attempt)
            if key in started and event.scheduled_seq in scheduled:
                name = scheduled[event.scheduled_seq][0]
                spans.append(Span(f"{name} #{event.attempt}", "work", started.pop(key), now,
                                  record.seq))
                backoff = getattr(event, "next_attempt_in", None)
                if getattr(event, "retrying", False) and backoff:
                    spans.append(Span(f"{name} #{event.attempt} backoff", "backoff", now,
                                      now + float(backoff), record.seq))
                    ready[event.scheduled_seq] = now + float(backoff)
        elif isinstance(event, TimerStarted):
            timers[record.seq] = now
        elif isinstance(event, TimerFired) and event.started_seq in timers:
            began = timers.pop(event.started_seq)
            spans.append(Span(f"timer {_secs(now - began)}", "timer", began, now, record.seq))
        elif isinstance(event, ChildWorkflowStarted):
            children[record.seq] = (event.workflow_type, now)
        elif isinstance(event, ChildWorkflowCompleted | ChildWorkflowFailed):
            if event.started_seq in children:
                name, began = children.pop(event.started_seq)
                spans.append(Span(f"child {name}", "child", began, now, record.seq))
        elif isinstance(event, SignalReceived) and not event.with_start:
            spans.append(Span(f"signal {event.name}", "signal", last_progress, now,
                              record.seq))
        if not isinstance(event, SignalReceived):
            last_progress = now
    return start, t(history[-1].at), spans


_ATTEMPT = re.compile(r" #\d+( queue| backoff)?$")


def step_of(span_name: str) -> str:
    """The step a span belongs to: ``extract #2 backoff`` -> ``extract``, any timer ->
    ``timer``."""
    if span_name.startswith("timer "):
        return "timer"
    return _ATTEMPT.sub("", span_name)


def critical_path(spans: list[Span], end: float) -> list[Span]:
    """The chain of spans that decided ``end``, in time order. Of spans that ended at the
    same moment, the one of the same step as the span after it wins (an attempt's own
    queue wait before its work)."""
    chain: list[Span] = []
    cursor = end
    candidates = sorted(spans, key=lambda s: (s.end, s.seq))
    while True:
        before = [s for s in candidates if s.end <= cursor + _EPSILON and s.start < cursor]
        if not before:
            break
        latest = before[-1]
        if chain:
            tied = [s for s in before if s.end >= latest.end - _EPSILON
                    and step_of(s.name) == step_of(chain[-1].name)]
            latest = tied[-1] if tied else latest
        chain.append(latest)
        cursor = latest.start
        candidates = [s for s in candidates if s is not latest]
    chain.reverse()
    return chain


def breakdown(chain: list[Span], duration: float) -> dict[str, float]:
    """Seconds per kind along ``chain``; the gaps between steps are the workflow's own."""
    totals = dict.fromkeys(KINDS, 0.0)
    cursor = 0.0
    for step in chain:
        begin = max(step.start, cursor)
        totals["workflow"] += max(0.0, begin - cursor)
        totals[step.kind] += max(0.0, step.end - begin)
        cursor = max(cursor, step.end)
    totals["workflow"] += max(0.0, duration - cursor)
    return totals


async def aprofile_run(client: AsyncClient, ref: str) -> RunProfile:
    """:func:`profile_run` for the async client."""
    info = await client.describe(ref)
    history = await client.history(info.run_id)
    started_at, duration, spans = spans_of(history)
    chain = critical_path(spans, duration)
    return RunProfile(
        run_id=info.run_id,
        workflow_type=info.workflow_type,
        status=info.status,
        started_at=started_at,
        duration=duration,
        spans=spans,
        critical_path=chain,
        breakdown=breakdown(chain, duration),
    )


def profile_run(client: Client, ref: str) -> RunProfile:
    """Profile run ``ref`` (a run id or workflow id): its critical path and where its time
    went. A run still going is profiled up to its last event."""
    result: RunProfile = client._run(aprofile_run(client.aio, ref))
    return result


_COLOURS = {"work": "#4c8bf5", "queue": "#f5b94c", "backoff": "#e35d5d", "timer": "#9b7fe3",
            "signal": "#5cc7a0", "child": "#7cc784", "workflow": "#b0b7c3"}


def gantt_html(profile: RunProfile, width: int = 720) -> str:
    """A static Gantt chart (inline SVG): one row per span, the critical path outlined."""
    rows = sorted(profile.spans, key=lambda s: (s.start, s.seq))
    scale = (width - 200) / max(profile.duration, 1e-6)
    height = 22 * len(rows) + 30
    critical = {id(s) for s in profile.critical_path}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="Helvetica, Arial, sans-serif" font-size="11">']
    for i, span in enumerate(rows):
        y = 22 * i + 4
        x = 200 + span.start * scale
        w = max(1.0, span.seconds * scale)
        outline = ' stroke="#111" stroke-width="2"' if id(span) in critical else ""
        parts.append(
            f'<g class="span {span.kind}{" critical" if id(span) in critical else ""}">'
            f'<title>{html.escape(span.name)}: {_secs(span.seconds)}</title>'
            f'<text x="4" y="{y + 13}">{html.escape(span.name)}</text>'
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="16" rx="2" '
            f'fill="{_COLOURS[span.kind]}"{outline}/></g>'
        )
    parts.append(f'<text x="200" y="{height - 6}">0</text>'
                 f'<text x="{width - 2}" y="{height - 6}" text-anchor="end">'
                 f'{_secs(profile.duration)}</text>')
    parts.append("</svg>")
    text = html.escape(str(profile)).replace("\n", "<br>")
    return f"<div class='hs-profile'>{''.join(parts)}<pre>{text}</pre></div>"
