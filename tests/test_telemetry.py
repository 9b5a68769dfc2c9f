"""OpenTelemetry: with an SDK configured (in a process of its own), a run leaves spans for
its attempts, its workflow tasks and itself, all in the trace whose id is the run id; the
activity's own spans nest under its attempt; errors are recorded; metrics count claims,
attempts, ends and queue depths; run-end hooks get every end. Without an SDK nothing is
needed and nothing breaks (the rest of the suite)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_spans_metrics_and_hooks(db_url: str) -> None:
    done = subprocess.run([sys.executable, "-m", "tests.apps.telemetry_probe", db_url],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    good, bad = seen["runs"]["good"], seen["runs"]["bad"]
    spans = seen["spans"]

    def of(run_id: str, prefix: str) -> list[dict[str, object]]:
        trace_id = f"{uuid.UUID(run_id).int:032x}"
        return [s for s in spans if s["trace_id"] == trace_id
                and str(s["name"]).startswith(prefix)]

    [attempt] = of(good, "harvest.activity traced")
    assert attempt["attributes"]["harvest.attempt"] == 1
    assert attempt["attributes"]["harvest.outcome"] == "completed"
    assert attempt["attributes"]["harvest.workflow_type"] == "probe"
    assert attempt["attributes"]["harvest.queue"] == "default"
    [inner] = of(good, "app.inner")  # the activity's own span, in the run's trace
    assert inner["parent"] == attempt["span_id"]
    assert seen["inner_trace"][good] == attempt["trace_id"]
    tasks = of(good, "harvest.workflow_task probe")
    assert len(tasks) >= 2 and all(t["end"] >= t["start"] for t in tasks)
    [run] = of(good, "harvest.run probe")
    assert run["attributes"]["harvest.status"] == "COMPLETED" and run["status"] == "UNSET"
    assert run["start"] <= tasks[0]["start"] and run["end"] >= tasks[-1]["start"]

    failed = of(bad, "harvest.activity traced")
    assert [s["attributes"]["harvest.outcome"] for s in failed] == ["retrying", "failed"]
    assert all(s["status"] == "ERROR" and "exception" in s["events"] for s in failed)
    [bad_run] = of(bad, "harvest.run probe")
    assert bad_run["status"] == "ERROR" and bad_run["attributes"]["harvest.status"] == "FAILED"

    metrics = seen["metrics"]
    attempts = {(p["attributes"]["outcome"], p["value"])
                for p in metrics["harvest.activity.attempts"]}
    assert attempts == {("completed", 1), ("retrying", 1), ("failed", 1)}
    ended = {p["attributes"]["status"]: p["value"] for p in metrics["harvest.workflow.ended"]}
    assert ended == {"COMPLETED": 1, "FAILED": 1}
    claimed = sum(p["value"] for p in metrics["harvest.tasks.claimed"])
    assert claimed >= 2  # at least the two first workflow tasks (attempts may be handed over)
    assert sum(p["count"] for p in metrics["harvest.activity.duration"]) == 3
    assert "harvest.queue.depth" in metrics
    assert all("harvest.run_id" not in p["attributes"]
               for points in metrics.values() for p in points)  # no per-run series

    hooks = {e["run_id"]: e for e in seen["ended"]}
    assert hooks[good]["status"] == "COMPLETED" and hooks[good]["error"] is None
    assert hooks[bad]["status"] == "FAILED" and hooks[bad]["error"]["type"] == "ActivityError"
    assert all(e["duration"] >= 0 for e in seen["ended"])
