"""Human renderings and JSON conversion (no database needed)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import harvest_studio as hs
from harvest_studio import _render as render
from harvest_studio._commands import DbStatus, RunAction, RunHistory, RunResult, StartedRun
from harvest_studio._events import (
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    ActivityStarted,
    ActivityTimedOut,
    CancelRequested,
    Event,
    MarkerRecorded,
    SideEffectRecorded,
    SignalReceived,
    TimerFired,
    TimerStarted,
    WorkflowCancelled,
    WorkflowCompleted,
    WorkflowFailed,
    WorkflowPaused,
    WorkflowResumed,
    WorkflowStarted,
    WorkflowTerminated,
    WorkflowTimedOut,
)

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def run_info(**changes: Any) -> hs.RunInfo:
    base: dict[str, Any] = {
        "run_id": "3f0c7a4e-0000-4000-8000-000000000001",
        "workflow_id": "order-7",
        "workflow_type": "checkout",
        "namespace": "default",
        "queue": "default",
        "status": "COMPLETED",
        "input": [7, {"sku": "tea"}],
        "result": {"charged": 12.5},
        "error": None,
        "events": 9,
        "created_at": T0,
        "closed_at": T0 + timedelta(seconds=2.5),
        "fingerprint": "abc123",
        "blocked": None,
        "pending": (),
    }
    base.update(changes)
    return hs.RunInfo(**base)


# ----------------------------------------------------------------------------- tables
def test_table_aligns_columns_and_numbers() -> None:
    text = render.table(["NAME", "N"], [("alpha", 1), ("b", 12345)])
    lines = text.splitlines()
    assert lines[0] == "NAME       N"
    assert lines[1] == "alpha      1"
    assert lines[2] == "b      12345"
    assert all(line == line.rstrip() for line in lines)


def test_table_truncates_flattens_and_handles_empty() -> None:
    text = render.table(["A", "B"], [("x" * 50, "two\nlines"), (None, True)], max_width=10)
    lines = text.splitlines()
    assert lines[1].startswith("xxxxxxx...")
    assert "two lines" in lines[1]
    assert lines[2].split() == ["-", "yes"]
    assert render.table(["A"], [], empty="(nothing)") == "(nothing)"
    per_column = render.table(["A", "B"], [("abcdef", "abcdef")], max_width=[None, 4])
    assert per_column.splitlines()[1].split() == ["abcdef", "a..."]


def test_shorten_and_compact() -> None:
    assert render.shorten("abc", 5) == "abc"
    assert render.shorten("abcdefgh", 5) == "ab..."
    assert render.compact({"a": [1, 2]}) == '{"a":[1,2]}'
    assert render.compact("x" * 100, 10) == '"xxxxxx...'


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (0.25, "250ms"), (2.5, "2.5s"), (75, "1m15s"), (7260, "2h01m"),
     (93784, "1d02h")],
)
def test_fmt_duration(seconds: float | None, text: str) -> None:
    assert render.fmt_duration(seconds) == text


# ----------------------------------------------------------------------------- runs
def test_render_runs_marks_blocked_and_paging() -> None:
    auto = run_info(run_id="3f0c7a4e-0000-4000-8000-000000000002",
                    workflow_id="3f0c7a4e-0000-4000-8000-000000000002")
    blocked = run_info(workflow_id="stuck", status="RUNNING", closed_at=None,
                       blocked={"kind": "non_determinism", "message": "m"})
    text = render.render_runs(hs.RunPage([run_info(), auto, blocked], "tok|en"))
    assert "order-7" in text and "2.5s" in text
    assert "(= run id)" in text
    assert "RUNNING (BLOCKED)" in text and "running" in text
    assert "--page-token 'tok|en'" in text
    assert render.render_runs(hs.RunPage([], None)) == "(no runs)"


def test_render_runs_marks_paused_cancel_requested_and_new_statuses() -> None:
    rows = [
        run_info(workflow_id="held", status="RUNNING", closed_at=None, paused=True),
        run_info(workflow_id="going", status="RUNNING", closed_at=None, cancel_requested=True,
                 paused=True, blocked={"kind": "quarantined", "message": "m"}),
        run_info(workflow_id="ended", status="CANCELLED", cancel_requested=True),
        run_info(workflow_id="killed", status="TERMINATED", paused=True),
        run_info(workflow_id="next", status="CONTINUED_AS_NEW"),
    ]
    lines = render.render_runs(rows).splitlines()
    by_id = {line.split()[1]: line for line in lines[1:]}
    assert "RUNNING (PAUSED)" in by_id["held"]
    assert "RUNNING (BLOCKED, PAUSED, CANCEL REQUESTED)" in by_id["going"]
    assert "CANCELLED " in by_id["ended"] and "(" not in by_id["ended"].split("CANCELLED")[1]
    assert " TERMINATED " in by_id["killed"] and "PAUSED" not in by_id["killed"]
    assert "CONTINUED_AS_NEW" in by_id["next"] and "2.5s" in by_id["next"]


def test_render_run_paused_and_cancel_requested() -> None:
    info = run_info(status="RUNNING", closed_at=None, result=None, paused=True,
                    cancel_requested=True)
    text = render.render_run(info)
    assert "Status       RUNNING (PAUSED, CANCEL REQUESTED)" in text
    assert f"Paused       yes: no workflow code runs until `harvest resume {info.run_id}`" in text
    assert "Cancel       requested" in text
    ended = render.render_run(run_info(status="CANCELLED", result=None, paused=True,
                                       cancel_requested=True,
                                       error={"type": "Cancelled", "message": "why"}))
    assert "Status       CANCELLED" in ended and "Error        Cancelled: why" in ended
    assert "Paused" not in ended and "Cancel " not in ended


def test_render_action_lines() -> None:
    rid = "3f0c7a4e-0000-4000-8000-000000000001"

    def act(action: str, changed: bool = True, **kw: Any) -> str:
        return render.render_action(RunAction(action, rid, "wf-1", "t", changed, **kw))

    assert act("signal", signal="approve") == f"signalled approve to run {rid} (workflow id wf-1)"
    assert act("signal", False, signal="approve", idempotency_key="k") == (
        f"duplicate signal ignored (idempotency key k): run {rid} (workflow id wf-1) "
        "already has it"
    )
    assert act("signal", signal="go", paused=True).endswith(
        "; the run is paused, so its code sees this once resumed"
    )
    assert act("cancel", reason="why") == f"cancel requested for run {rid} (workflow id wf-1): why"
    assert act("cancel", False).startswith("cancel already requested for run ")
    assert act("terminate") == f"terminated run {rid} (workflow id wf-1)"
    assert act("pause", reason="audit").startswith("paused run ")
    assert act("pause", False).endswith("is already paused; nothing changed")
    assert act("resume") == f"resumed run {rid} (workflow id wf-1)"
    assert act("resume", False).endswith("is not paused; nothing changed")
    same = render.render_action(RunAction("terminate", rid, rid, "t", True))
    assert same == f"terminated run {rid}"


def test_render_run_completed() -> None:
    text = render.render_run(run_info())
    assert "Workflow id  order-7" in text
    assert "Status       COMPLETED" in text
    assert "took 2.5s" in text
    assert '{"charged":12.5}' in text
    assert "Pending" not in text and "Blocked" not in text


def test_render_run_blocked_with_expected_actual_and_pending() -> None:
    info = run_info(
        status="RUNNING",
        closed_at=None,
        result=None,
        blocked={
            "kind": "non_determinism",
            "message": "history has X at event 4, but the code issued Y",
            "seq": 4,
            "expected": {"type": "ActivityScheduled", "activity_type": "charge"},
            "actual": {"type": "TimerStarted", "duration": 5.0},
            "worker_id": "host:1:abc",
        },
        pending=(
            {"kind": "activity", "type_name": "charge", "state": "PENDING", "activity_seq": 4,
             "retry_attempt": 2, "worker_id": None,
             "visible_at": datetime.now(UTC) + timedelta(hours=1),
             "last_error": {"type": "ConnectionError", "message": "refused"},
             "crash_strikes": 0},
            {"kind": "workflow", "type_name": "checkout", "state": "RUNNING",
             "activity_seq": None, "retry_attempt": 1, "worker_id": "host:1:abc",
             "visible_at": T0, "last_error": None, "crash_strikes": 1},
            {"kind": "timer", "seq": 6, "fires_at": T0 + timedelta(minutes=5)},
        ),
    )
    text = render.render_run(info)
    assert "RUNNING (BLOCKED)" in text
    assert "non_determinism: history has X at event 4" in text
    assert '"activity_type":"charge"' in text and '"type":"TimerStarted"' in text
    expected_line = next(line for line in text.splitlines() if "expected" in line)
    assert "ActivityScheduled" in expected_line
    assert "resumes by itself" in text
    assert "Pending:" in text
    assert "charge (event 4)" in text and "next attempt" in text
    assert "ConnectionError: refused" in text
    assert "on host:1:abc; crashed 1x" in text
    assert "event 6" in text and "fires" in text


def test_render_run_quarantined_and_failed() -> None:
    info = run_info(
        status="FAILED",
        result=None,
        error={
            "type": "ValueError",
            "message": "bad sku",
            "traceback": (
                "Traceback (most recent call last):\n"
                '  File "/app/flow.py", line 3, in checkout\n'
                "    await charge()\n"
                "    ^^^^^^^^^^^^^^\n"
                '  File "/app/pay.py", line 9, in charge\n'
                '    raise ValueError("bad sku")\n'
                "ValueError: bad sku\n"
            ),
        },
        blocked={"kind": "quarantined", "message": "crashed 3 times", "task_id": 17},
    )
    text = render.render_run(info)
    assert "Error        ValueError: bad sku" in text
    assert 'File "/app/pay.py", line 9, in charge' in text
    assert 'raise ValueError("bad sku")' in text
    assert "^^^" not in text
    assert "quarantined: crashed 3 times" in text and "task_id" in text


# --------------------------------------------------------------------------- history
EVENTS: list[tuple[Event, str]] = [
    (WorkflowStarted("checkout", "order-7", "default", "default", [7], None, 60.0),
     "checkout(7) timeout 1m00s"),
    (ActivityScheduled("charge", [7, "tea"], "payments"), 'charge(7, "tea") queue=payments'),
    (ActivityStarted(2, 1, "host:1", "2026-03-01T12:00:00+00:00"),
     "event 2, attempt 1 on host:1"),
    (ActivityFailed(2, 1, {"type": "IOError", "message": "down"}, True, 0.5),
     "event 2, attempt 1 (retry in 500ms): IOError: down"),
    (ActivityTimedOut(2, 2, "start_to_close", False),
     "event 2, attempt 2 (no more retries): start_to_close timeout"),
    (ActivityCompleted(2, 3, {"ok": True}), 'event 2, attempt 3 -> {"ok":true}'),
    (TimerStarted("2026-03-01T12:00:05+00:00", 5.0), "5.0s, fires "),
    (TimerFired(7), "timer of event 7"),
    (SideEffectRecorded("coupon", "C-1"), 'coupon = "C-1"'),
    (MarkerRecorded("v2", {"x": 1}), 'v2 {"x":1}'),
    (WorkflowCompleted({"done": 1}), '-> {"done":1}'),
    (WorkflowFailed({"type": "KeyError", "message": "sku"}), "KeyError: sku"),
    (WorkflowTimedOut(60.0), "ran past its execution timeout (1m00s)"),
    (SignalReceived("approve", {"by": "ada"}), 'approve {"by":"ada"}'),
    (SignalReceived("item", 3, "k-1", True), "item 3 key=k-1 (with start)"),
    (CancelRequested("plans changed"), "cancel requested: plans changed"),
    (WorkflowCancelled(None), "cancelled (no reason given)"),
    (WorkflowTerminated("stuck"), "terminated: stuck"),
    (WorkflowPaused("audit"), "paused: audit"),
    (WorkflowResumed(None), "resumed (no reason given)"),
]


@pytest.mark.parametrize(("event", "summary"), EVENTS, ids=[e.type_name for e, _ in EVENTS])
def test_summarize_each_event_type(event: Event, summary: str) -> None:
    assert render.summarize(event.type_name, event.fields()).startswith(summary)


def test_summarize_unknown_type_falls_back_to_json() -> None:
    assert render.summarize("FutureEvent", {"a": 1}) == '{"a":1}'


def test_render_history_table() -> None:
    events = [
        hs.HistoryEvent(i + 1, T0 + timedelta(seconds=i * 1.5), event)
        for i, (event, _) in enumerate(EVENTS[:4])
    ]
    history = RunHistory("rid", "order-7", "checkout", "RUNNING", events, next_after_seq=4)
    text = render.render_history(history)
    lines = text.splitlines()
    assert lines[0] == "checkout order-7 (run rid, RUNNING)"
    assert lines[1].split() == ["SEQ", "TIME", "SINCE", "START", "TYPE", "DETAILS"]
    assert "+0ms" in lines[2] and "WorkflowStarted" in lines[2]
    assert "+4.5s" in lines[5] and "IOError: down" in lines[5]
    assert text.endswith("more events: add --after-seq 4")
    assert render.render_history([]) == "(no events)"


# ------------------------------------------------------------------ other results, JSON
def test_render_small_results() -> None:
    started = StartedRun("wf", "rid", "greet", "default")
    assert render.render_started(started) == "started greet: workflow id wf, run id rid"
    with_signal = StartedRun("wf", "rid", "greet", "default", signal="hi")
    assert render.render_started(with_signal) == (
        "started greet with signal hi: workflow id wf, run id rid"
    )
    signalled = StartedRun("wf", "rid", "greet", "default", signal="hi", started=False)
    assert render.render_started(signalled) == (
        "signalled hi to running greet: workflow id wf, run id rid (no new run)"
    )
    ok = render.render_result(RunResult("wf", "rid", "greet", "COMPLETED", "hi"))
    assert "COMPLETED" in ok and '"hi"' in ok
    bad = render.render_result(
        RunResult("wf", "rid", "greet", "FAILED", error={"type": "E", "message": "m"})
    )
    assert "Error   E: m" in bad
    status = DbStatus(
        "postgresql://u@h/db",
        [{"version": 1, "name": "core", "applied_at": T0.isoformat()}],
        [{"version": 2, "name": "more"}],
    )
    text = render.render_db_status(status)
    assert "1 migration(s) pending" in text and "harvest db migrate" in text
    assert "core" in text and "PENDING" in text


@dataclass
class Plain:
    when: datetime
    gap: timedelta
    tags: frozenset[str]


def test_to_json_makes_everything_serialisable() -> None:
    page = hs.RunPage([run_info()], "next")
    data = render.to_json(page)
    assert data["next_page_token"] == "next"
    assert data["runs"][0]["created_at"] == T0.isoformat()
    event = hs.HistoryEvent(1, T0, TimerFired(3))
    assert render.to_json([event]) == [
        {"seq": 1, "at": T0.isoformat(), "type": "TimerFired", "data": {"started_seq": 3}}
    ]
    assert render.to_json(Plain(T0, timedelta(seconds=3), frozenset({"a"}))) == {
        "when": T0.isoformat(), "gap": 3.0, "tags": ["a"],
    }
    assert render.to_json(hs.RunNotFoundError("gone")) == {
        "code": "run_not_found", "message": "gone",
    }
    assert render.to_json(KeyError("k")) == {"type": "KeyError", "message": "'k'"}
    assert render.to_json({1: (object,)})["1"][0].startswith("<class")
    history = RunHistory("rid", "wf", "t", "COMPLETED", [event])
    assert json.loads(render.dumps(history))["events"][0]["seq"] == 1
