"""Run a worker with an OpenTelemetry SDK collecting in memory, then print what it saw as
JSON: ``python -m tests.apps.telemetry_probe DATABASE_URL``. A process of its own, so the
SDK set here (global, once per process) never touches the rest of the suite."""

from __future__ import annotations

import json
import sys
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

spans = InMemorySpanExporter()
tracer_provider = TracerProvider()
tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
trace.set_tracer_provider(tracer_provider)
reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

import harvest_studio as hs  # noqa: E402  (after the SDK, as an application would)

inner_parent: dict[str, Any] = {}


@hs.activity(start_to_close="10s", retry=hs.RetryPolicy(max_attempts=2, initial_interval=0.01))
def traced(ctx: hs.ActivityContext, fail: bool) -> str:
    with trace.get_tracer("app").start_as_current_span("app.inner") as span:
        inner_parent[ctx.info.run_id] = span.get_span_context().trace_id
    if fail:
        raise ValueError("bad input")
    return "ok"


@hs.workflow
async def probe(ctx: hs.WorkflowContext, fail: bool) -> str:
    return str(await ctx.execute_activity(traced, fail))


def main() -> None:
    ended: list[hs.RunEnded] = []
    client = hs.connect(sys.argv[1])
    with hs.Worker(client, workflows=[probe], activities=[traced], poll_interval=0.1,
                   maintenance_interval=0.1, queue_depth_interval=0.1,
                   on_run_end=[ended.append]):
        good = client.start(probe, False)
        bad = client.start(probe, True)
        good.result(timeout=20)
        try:
            bad.result(timeout=20)
        except hs.WorkflowFailedError:
            pass
        import time

        time.sleep(0.5)  # the hooks run on threads; the queue depth is counted
    data = reader.get_metrics_data()
    points: dict[str, list[Any]] = {}
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points[metric.name] = [
                    {"attributes": dict(p.attributes or {}),
                     "value": getattr(p, "value", None), "count": getattr(p, "count", None)}
                    for p in metric.data.data_points]
    print(json.dumps({
        "runs": {"good": good.run_id, "bad": bad.run_id},
        "spans": [{
            "name": s.name, "trace_id": f"{s.context.trace_id:032x}",
            "parent": None if s.parent is None else f"{s.parent.span_id:016x}",
            "span_id": f"{s.context.span_id:016x}",
            "attributes": dict(s.attributes or {}), "status": s.status.status_code.name,
            "events": [e.name for e in s.events],
            "start": s.start_time, "end": s.end_time,
        } for s in spans.get_finished_spans()],
        "inner_trace": {k: f"{v:032x}" for k, v in inner_parent.items()},
        "metrics": points,
        "ended": [{"run_id": e.run_id, "status": e.status, "error": e.error,
                   "duration": e.duration} for e in ended],
    }, default=str))
    client.close()


if __name__ == "__main__":
    main()
