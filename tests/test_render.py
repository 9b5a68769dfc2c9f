"""Human renderings and JSON conversion (no database needed)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import harvest_studio as hs
from harvest_studio.commands import render
from harvest_studio.commands.results import (
    DbStatus,
    NamespaceAction,
    NamespaceInfo,
    NamespaceList,
    QueryAnswer,
    ResetReport,
    RunAction,
    RunChain,
    RunHistory,
    RunResult,
    RunTree,
    StartedRun,
    UpdateOutcome,
)
from harvest_studio.model.events import (
    EVENT_TYPES,
    ActivityCancelRequested,
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    ActivityStarted,
    ActivityTimedOut,
    CancelRequested,
    ChildWorkflowCancelRequested,
    ChildWorkflowCompleted,
    ChildWorkflowFailed,
    ChildWorkflowStarted,
    Event,
    MarkerRecorded,
    SearchAttributesUpserted,
    SideEffectRecorded,
    SignalReceived,
    TimerCancelled,
    TimerFired,
    TimerStarted,
    UpdateAdmitted,
    UpdateCompleted,
    UpdateFailed,
    UpdateRequested,
    WorkflowCancelled,
    WorkflowCompleted,
    WorkflowContinuedAsNew,
    WorkflowFailed,
    WorkflowPaused,
    WorkflowReset,
    WorkflowResetFork,
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
    (WorkflowStarted("counter", "loop", "default", "default", [1, 0],
                     continued_from="r-0", search_attributes={"team": "core"}),
     'counter(1, 0) continued from run r-0 attrs team="core"'),
    (TimerCancelled(7), "timer of event 7 cancelled"),
    (ActivityCancelRequested(4), "activity of event 4 cancelled"),
    (ChildWorkflowCancelRequested(5, "c-run", "done"),
     "child of event 5 (run c-run) asked to cancel: done"),
    (UpdateRequested("u-1", "deposit", [30]), "deposit(30) id u-1"),
    (UpdateAdmitted("u-1", "deposit", [30]), "deposit(30) id u-1"),
    (UpdateCompleted("u-1", {"balance": 30}), 'id u-1 -> {"balance":30}'),
    (UpdateFailed("u-1", {"type": "RuntimeError", "message": "broke"}),
     "id u-1: RuntimeError: broke"),
    (ChildWorkflowStarted("square", "sq-1", "r-1", [2], "default", "terminate"),
     "square(2) id sq-1 run r-1, on parent close: terminate"),
    (ChildWorkflowStarted("square", "r-2", "r-2", [3], "gpu", "abandon"),
     "square(3) run r-2 queue=gpu, on parent close: abandon"),
    (ChildWorkflowCompleted(2, "r-1", 4), "child of event 2 (run r-1) -> 4"),
    (ChildWorkflowFailed(2, "r-1", "FAILED", {"type": "ValueError", "message": "negative"}),
     "child of event 2 (run r-1) FAILED: ValueError: negative"),
    (ChildWorkflowFailed(3, "r-2", "START_FAILED"), "child of event 3 (run r-2) START_FAILED"),
    (WorkflowContinuedAsNew("r-9", [2, 3]), "as run r-9 with (2, 3)"),
    (SearchAttributesUpserted({"customer": "acme", "amount": 150, "stage": None}),
     'customer="acme", amount=150, stage removed'),
    (WorkflowResetFork("r-0", 4, "bad deploy", "drop"),
     "from run r-0 at event 4 (signals: drop): bad deploy"),
    (WorkflowReset("r-5", 4, None), "reset to event 4 as run r-5 (no reason given)"),
]


@pytest.mark.parametrize(("event", "summary"), EVENTS, ids=[e.type_name for e, _ in EVENTS])
def test_summarize_each_event_type(event: Event, summary: str) -> None:
    assert render.summarize(event.type_name, event.fields()).startswith(summary)


def test_summarize_unknown_type_falls_back_to_json() -> None:
    assert render.summarize("FutureEvent", {"a": 1}) == '{"a":1}'


def test_every_event_type_has_a_summary() -> None:
    covered = {event.type_name for event, _ in EVENTS}
    assert covered == set(EVENT_TYPES), set(EVENT_TYPES) - covered


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


# ---------------------------------------------------------------------- lineage in show
def test_render_run_shows_attributes_memo_and_lineage() -> None:
    info = run_info(
        search_attributes={"customer": "acme", "amount": 150},
        memo={"ticket": "T-1"},
        parent_run_id="p-1",
        parent_close_policy="abandon",
        continued_from="c-1",
        reset_from="s-1",
    )
    text = render.render_run(info)
    assert "Parent          run p-1 (on parent close: abandon)" in text
    assert "Continued from  run c-1" in text
    assert "Reset from      run s-1" in text
    assert 'Search attrs    amount=150, customer="acme"' in text  # sorted by name
    assert 'Memo            {"ticket":"T-1"}' in text
    plain = render.render_run(run_info(search_attributes={}))
    for label in ("Parent", "Continued", "Reset from", "Search attrs", "Memo"):
        assert label not in plain
    handed_over = render.render_run(
        run_info(status="CONTINUED_AS_NEW", result={"continued_as": "n-1"})
    )
    assert "Continued as  run n-1" in handed_over and "Result" not in handed_over


# ------------------------------------------------------------- started, query, update
def test_render_started_variants() -> None:
    existing = StartedRun("wf", "rid", "tally", "default", started=False)
    assert render.render_started(existing) == (
        "already running tally: workflow id wf, run id rid (no new run: id conflict policy "
        "use_existing)"
    )
    assert existing.to_json()["started"] is False
    keyed = StartedRun("wf", "rid", "tally", "default", started=False, reused="idempotency_key")
    assert render.render_started(keyed).endswith("(no new run: the idempotency key started it)")
    assert keyed.to_json()["reused"] == "idempotency_key"
    replaced = StartedRun("wf", "rid", "tally", "default", replaced_run_id="old")
    assert render.render_started(replaced).endswith("(terminated the open run old)")
    rerun = StartedRun("wf", "rid", "greet", "default", rerun_of="src")
    assert render.render_started(rerun) == (
        "reran greet: workflow id wf, run id rid (a fresh run with the input of run src)"
    )
    assert "started" not in StartedRun("wf", "rid", "t", "default").to_json()


def test_render_query_and_update() -> None:
    answer = QueryAnswer("rid", "wf", "tally", "RUNNING", "has", ["pear"], {"a": [1, 2]})
    assert render.render_query(answer) == (
        'query has("pear") on run rid (workflow id wf):\n{\n  "a": [\n    1,\n    2\n  ]\n}'
    )
    same_id = QueryAnswer("rid", "rid", "tally", "COMPLETED", "total", [], 3)
    assert render.render_query(same_id) == "query total() on run rid:\n3"
    outcome = UpdateOutcome("rid", "wf", "tally", "add", "u-1", [10], 15)
    assert render.render_update(outcome) == "update add(10) id u-1 on run rid (workflow id wf):\n15"
    assert json.loads(render.dumps(outcome))["update_id"] == "u-1"


# ------------------------------------------------------------------------------ reset
def report(**changes: Any) -> ResetReport:
    base: dict[str, Any] = {
        "action": "reset", "run_id": "rid", "workflow_id": "wf", "workflow_type": "t",
        "status": "RUNNING", "boundary": 4, "boundary_event": "ActivityCompleted",
        "valid": True, "reason": None, "nearest_valid_before": 1,
        "nearest_valid_after": 6, "valid_points": (1, 4, 6), "later_signals": 2,
        "reapply_signals": "buffer", "dry_run": False, "applied": True, "new_run_id": "new",
    }
    base.update(changes)
    return ResetReport(**base)


def test_render_reset_variants() -> None:
    applied = render.render_reset(report())
    lines = applied.splitlines()
    assert lines[0] == (
        "reset run rid (workflow id wf) to event 4 (ActivityCompleted): new run new"
    )
    assert "2 recorded after the boundary, re-delivered (--reapply-signals buffer)" in applied
    assert "Source run     TERMINATED (it was running)" in applied
    assert "Valid points" not in applied

    dry = render.render_reset(report(applied=False, dry_run=True, new_run_id=None))
    assert dry.startswith("dry run: event 4 (ActivityCompleted) of run rid (workflow id wf) "
                          "is a valid reset point; nothing was written")
    assert "Nearest valid  event 1 before, event 6 after" in dry
    assert "Valid points   1, 4, 6" in dry
    assert "would be re-delivered" in dry and "without --dry-run" in dry

    bad = render.render_reset(report(
        boundary=2, boundary_event="ActivityScheduled", valid=False, applied=False,
        new_run_id=None, reason="not inbound", nearest_valid_after=4,
        nearest_valid_before=None, later_signals=0,
    ))
    assert bad.startswith("event 2 (ActivityScheduled) of run rid (workflow id wf) is not a "
                          "valid reset point; nothing was written")
    assert "Why            not inbound" in bad
    assert "Nearest valid  none before, event 4 after" in bad
    assert "Later signals  none after the boundary" in bad

    retried = render.render_reset(report(action="retry", status="FAILED", later_signals=0))
    assert retried.startswith("retried run rid (workflow id wf) from event 4")
    assert "left as it was (FAILED)" in retried
    dropped = render.render_reset(report(reapply_signals="drop"))
    assert "2 recorded after the boundary, dropped (--reapply-signals drop)" in dropped
    assert report().to_json()["valid_points"] == [1, 4, 6]
    many = render.render_reset(report(applied=False, new_run_id=None,
                                      valid_points=tuple(range(1, 30))))
    assert "Valid points   ... 10, 11," in many


# ------------------------------------------------------------------ trees and chains
def test_render_tree_indents_children() -> None:
    root = run_info(run_id="r0", workflow_id="fam")
    kid = run_info(run_id="r1", workflow_id="fam-kid", parent_run_id="r0",
                   parent_close_policy="terminate")
    grandkid = run_info(run_id="r2", workflow_id="r2", parent_run_id="r1",
                        parent_close_policy="abandon", status="RUNNING", closed_at=None)
    text = render.render_tree(RunTree([root, kid, grandkid], [0, 1, 2]))
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["RUN", "ID", "WORKFLOW", "ID"]
    assert lines[1].startswith("r0 ") and lines[2].startswith("  r1 ")
    assert lines[3].startswith("    r2 ")
    assert "terminate" in lines[2] and "abandon" in lines[3] and "(= run id)" in lines[3]
    assert text.endswith("2 descendant run(s)")
    alone = render.render_tree(RunTree([root], [0]))
    assert alone.endswith("(no child runs)")
    data = RunTree([root, kid], [0, 1]).to_json()
    assert data["run_id"] == "r0" and [r["depth"] for r in data["runs"]] == [0, 1]


def test_render_chain() -> None:
    runs = [
        run_info(run_id="c0", status="CONTINUED_AS_NEW", input=[2, 0]),
        run_info(run_id="c1", status="CONTINUED_AS_NEW", input=[1, 2], continued_from="c0"),
        run_info(run_id="c2", status="COMPLETED", input=[0, 3], result=3, continued_from="c1"),
    ]
    text = render.render_chain(RunChain("loop", "c1", runs))
    lines = text.splitlines()
    assert lines[0] == "workflow id loop: 3 run(s), oldest first"
    assert lines[2].startswith("  c0") and lines[3].startswith("* c1")
    assert "[1,2]" in lines[3]
    assert text.endswith("result of the chain: 3")
    failed = [*runs[:2], run_info(run_id="c2", status="FAILED", result=None,
                                  error={"type": "E", "message": "m"})]
    assert render.render_chain(RunChain("loop", "c2", failed)).endswith(
        "the chain ended FAILED: E: m"
    )
    running = [run_info(run_id="c0", status="RUNNING", closed_at=None)]
    assert render.render_chain(RunChain("loop", "c0", running)).splitlines()[-1].startswith(
        "* c0"
    )


# ------------------------------------------------------------------------ namespaces
def test_render_namespaces() -> None:
    listing = NamespaceList([
        NamespaceInfo("default", "the default namespace", T0, 12, 3),
        NamespaceInfo("ops", None, T0, 0, 0),
    ])
    lines = render.render_namespaces(listing).splitlines()
    assert lines[0].split() == ["NAME", "RUNS", "RUNNING", "RETENTION", "CREATED",
                                "DESCRIPTION"]
    assert lines[1].startswith("default") and lines[1].endswith("the default namespace")
    assert lines[2].split()[:3] == ["ops", "0", "0"] and lines[2].endswith("-")
    assert render.render_namespaces(NamespaceList([])) == "(no namespaces)"
    assert listing.to_json()["namespaces"][0]["created_at"] == T0.isoformat()
    assert render.render_namespace_action(NamespaceAction("create", "ops", True)) == (
        "created namespace ops"
    )
    assert render.render_namespace_action(NamespaceAction("create", "ops", False)) == (
        "namespace ops already exists; nothing changed"
    )
    assert render.render_namespace_action(NamespaceAction("delete", "ops", True)) == (
        "deleted namespace ops"
    )
