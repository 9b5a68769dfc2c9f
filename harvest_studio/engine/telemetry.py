"""OpenTelemetry from the engine, through the OpenTelemetry *API* only: without an SDK
configured every call is a no-op costing microseconds; with one (the application's choice:
``opentelemetry-sdk`` and an exporter) spans and metrics flow to it.

Every span of a run belongs to one trace whose id is the run id (a UUID is 128 bits, as a
trace id is), so "the trace of run X" needs no lookup. Spans:

* ``harvest.activity`` — one attempt, in the worker that ran it, current while the
  activity's code runs (its own spans nest under it); errors are recorded on it.
* ``harvest.workflow_task`` — one workflow task, from its batch's start to its commit.
* ``harvest.run`` — the whole run, from its start to its end, emitted when it ends.

Metrics (attributes never include a run id: that would be one series per run):
``harvest.tasks.claimed``, ``harvest.activity.attempts`` (by outcome),
``harvest.activity.duration``, ``harvest.workflow_task.duration``,
``harvest.workflow.ended`` (by status), ``harvest.workflow.duration``,
``harvest.schedule.lag``, and the observable ``harvest.queue.depth`` (ready, delayed and
running tasks per queue, as the worker last counted them).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags

from .._version import __version__

_tracer = trace.get_tracer("harvest_studio", __version__)
_meter = metrics.get_meter("harvest_studio", __version__)

claimed = _meter.create_counter(
    "harvest.tasks.claimed", unit="{task}", description="tasks claimed by workers")
activity_attempts = _meter.create_counter(
    "harvest.activity.attempts", unit="{attempt}",
    description="activity attempts ended, by outcome (completed, retrying, failed)")
activity_duration = _meter.create_histogram(
    "harvest.activity.duration", unit="s", description="time an activity attempt ran")
workflow_task_duration = _meter.create_histogram(
    "harvest.workflow_task.duration", unit="s",
    description="time from a workflow task's batch start to its commit")
workflows_ended = _meter.create_counter(
    "harvest.workflow.ended", unit="{run}", description="runs ended, by status")
workflow_duration = _meter.create_histogram(
    "harvest.workflow.duration", unit="s", description="time from a run's start to its end")
slas_missed = _meter.create_counter(
    "harvest.workflow.sla_missed", unit="{run}",
    description="runs found still running past their workflow type's SLA")
schedule_lag = _meter.create_histogram(
    "harvest.schedule.lag", unit="s",
    description="how long after its slot time a schedule's run was started")

_queue_depths: dict[tuple[str, str, str], int] = {}


def _observe_depths(options: CallbackOptions) -> Iterable[Observation]:
    return [Observation(n, {"harvest.namespace": ns, "harvest.queue": q, "state": state})
            for (ns, q, state), n in list(_queue_depths.items())]


queue_depth = _meter.create_observable_gauge(
    "harvest.queue.depth", callbacks=[_observe_depths], unit="{task}",
    description="tasks per queue and state, as a worker last counted them")


def set_queue_depths(namespace: str, rows: Iterable[dict[str, Any]],
                     served: Iterable[str] = ()) -> None:
    """Keep the latest counts of a namespace's queues for ``harvest.queue.depth`` (the
    queues a worker serves count, as zeros, when they hold nothing)."""
    for key in [k for k in _queue_depths if k[0] == namespace]:
        del _queue_depths[key]
    for queue in served:
        for state in ("ready", "delayed", "running"):
            _queue_depths[(namespace, queue, state)] = 0
    for row in rows:
        for state in ("ready", "delayed", "running"):
            _queue_depths[(namespace, str(row["queue"]), state)] = int(row[state])


_NO_SDK = ("ProxyTracerProvider", "NoOpTracerProvider", "_ProxyMeterProvider",
           "NoOpMeterProvider")


def metrics_enabled() -> bool:
    """Whether an SDK collects metrics (the API's own provider records nothing)."""
    return type(metrics.get_meter_provider()).__name__ not in _NO_SDK


def tracing_enabled() -> bool:
    """Whether an SDK records spans; without one the engine skips making them at all."""
    return type(trace.get_tracer_provider()).__name__ not in _NO_SDK


def count_claims(namespace: str, rows: Iterable[dict[str, Any]]) -> None:
    if not metrics_enabled():
        return
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (str(row["queue"]), str(row["kind"]))
        counts[key] = counts.get(key, 0) + 1
    for (queue, kind), n in counts.items():
        claimed.add(n, {"harvest.namespace": namespace, "harvest.queue": queue,
                        "harvest.task_kind": kind})


def schedule_started(namespace: str, fired: Iterable[tuple[str, datetime]]) -> None:
    if not metrics_enabled():
        return
    now = datetime.now(UTC)
    for schedule, slot in fired:
        schedule_lag.record(max(0.0, (now - slot).total_seconds()),
                            {"harvest.namespace": namespace, "harvest.schedule": schedule})


def sla_missed(workflow_type: str, namespace: str) -> None:
    if metrics_enabled():
        slas_missed.add(1, {"harvest.workflow_type": workflow_type,
                            "harvest.namespace": namespace})


def run_context(run_id: str) -> Context:
    """The context whose (remote, sampled) parent is the run: trace id = the run id."""
    try:
        trace_id = uuid.UUID(run_id).int
    except ValueError:
        trace_id = int(hashlib.sha256(run_id.encode()).hexdigest()[:32], 16)
    span_id = int(hashlib.sha256(f"run:{run_id}".encode()).hexdigest()[:16], 16) or 1
    parent = SpanContext(trace_id=trace_id, span_id=span_id, is_remote=True,
                         trace_flags=TraceFlags(TraceFlags.SAMPLED))
    return trace.set_span_in_context(NonRecordingSpan(parent))


def run_attributes(run_id: str, workflow_type: str, namespace: str,
                   queue: str | None = None) -> dict[str, Any]:
    attributes: dict[str, Any] = {"harvest.run_id": run_id, "harvest.workflow_type":
                                  workflow_type, "harvest.namespace": namespace}
    if queue is not None:
        attributes["harvest.queue"] = queue
    return attributes


def begin_attempt(
    run_id: str, namespace: str, activity_type: str, attempt: int, queue: str,
    activity_seq: int, workflow_type: str | None,
) -> tuple[trace.Span, object | None]:
    """Start the span of one activity attempt and make it current (the attempt's code gets
    a copy of this context, so its own spans nest under it); :func:`end_attempt` ends it."""
    if not tracing_enabled():
        return trace.INVALID_SPAN, None
    attributes: dict[str, Any] = {
        "harvest.run_id": run_id, "harvest.namespace": namespace,
        "harvest.activity_type": activity_type, "harvest.attempt": attempt,
        "harvest.queue": queue, "harvest.activity_seq": activity_seq,
    }
    if workflow_type:
        attributes["harvest.workflow_type"] = workflow_type
    span = _tracer.start_span(
        f"harvest.activity {activity_type}", context=run_context(run_id),
        kind=trace.SpanKind.CONSUMER, attributes=attributes,
    )
    return span, otel_context.attach(trace.set_span_in_context(span))


def end_attempt(span: trace.Span, token: object | None, activity_type: str, queue: str,
                outcome: str, seconds: float, error: BaseException | None) -> None:
    """End an attempt's span and count it (``outcome``: completed, retrying, failed,
    timed_out)."""
    if token is not None:
        otel_context.detach(token)  # type: ignore[arg-type]
    if not span.is_recording():
        if metrics_enabled():
            _count_attempt(activity_type, queue, outcome, seconds)
        return
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"[:500]))
    span.set_attribute("harvest.outcome", outcome)
    span.end()
    _count_attempt(activity_type, queue, outcome, seconds)


def _count_attempt(activity_type: str, queue: str, outcome: str, seconds: float) -> None:
    labels = {"harvest.activity_type": activity_type, "harvest.queue": queue}
    activity_attempts.add(1, {**labels, "outcome": outcome})
    activity_duration.record(seconds, labels)


def workflow_task_done(run_id: str, workflow_type: str, namespace: str, queue: str,
                       began_ns: int, events: int) -> None:
    """Emit the span of a committed workflow task (it began with its batch)."""
    now = time.time_ns()
    if not tracing_enabled():
        if metrics_enabled():
            workflow_task_duration.record((now - began_ns) / 1e9, {
                "harvest.workflow_type": workflow_type, "harvest.queue": queue})
        return
    span = _tracer.start_span(
        f"harvest.workflow_task {workflow_type}", context=run_context(run_id),
        attributes={**run_attributes(run_id, workflow_type, namespace, queue),
                    "harvest.events": events},
        start_time=began_ns,
    )
    span.end(end_time=now)
    workflow_task_duration.record((now - began_ns) / 1e9, {
        "harvest.workflow_type": workflow_type, "harvest.queue": queue})


def run_ended(run_id: str, workflow_type: str, namespace: str, status: str,
              started_ns: int, ended_ns: int, error: str | None) -> None:
    """Emit the span of a whole run (from its start to its end) and count it."""
    labels = {"harvest.workflow_type": workflow_type, "harvest.namespace": namespace}
    if not tracing_enabled():
        if metrics_enabled():
            workflows_ended.add(1, {**labels, "status": status})
            workflow_duration.record(max(0.0, (ended_ns - started_ns) / 1e9), labels)
        return
    span = _tracer.start_span(
        f"harvest.run {workflow_type}", context=run_context(run_id),
        attributes={**run_attributes(run_id, workflow_type, namespace),
                    "harvest.status": status},
        start_time=started_ns,
    )
    if status != "COMPLETED":
        span.set_status(Status(StatusCode.ERROR, (error or status)[:500]))
    span.end(end_time=ended_ns)
    workflows_ended.add(1, {**labels, "status": status})
    workflow_duration.record(max(0.0, (ended_ns - started_ns) / 1e9), labels)
