"""The history explorer and run card widgets: Python side, plus one headless Chromium check."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

import harvest_studio as hs
from harvest_studio.commands.render import render_run
from harvest_studio.model import serde
from harvest_studio.model.events import HistoryEvent
from harvest_studio.studio.widgets.card import RunCard, run_card
from harvest_studio.studio.widgets.explorer import HistoryExplorer, explore
from harvest_studio.studio.widgets.lanes import compute_lanes
from harvest_studio.studio.widgets.live import FRONT_END, STATIC, front_end

from .headless_page import CHROMIUM, page_log

flaky = {"left": 1}


@hs.activity
def quick(ctx: hs.ActivityContext, x: int) -> int:
    return x * 2


@hs.activity(retry=hs.RetryPolicy(max_attempts=3, initial_interval=0.05, jitter=0.0))
def shaky(ctx: hs.ActivityContext, x: int) -> int:
    if flaky["left"] > 0:
        flaky["left"] -= 1
        raise RuntimeError("flaked")
    return x + 1


@hs.workflow
async def busy(ctx: hs.WorkflowContext, x: int) -> list[Any]:
    a, b = await ctx.gather(
        ctx.execute_activity(quick, x), ctx.execute_activity(quick, x + 1)
    )
    c = await ctx.execute_activity(shaky, a)
    await ctx.sleep(0.1)
    go = await ctx.wait_signal("go")
    return [a, b, c, go]


@hs.workflow
async def waits(ctx: hs.WorkflowContext) -> Any:
    return await ctx.wait_signal("go")


def wait_for(cond: Any, timeout: float = 15.0) -> None:
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def custom(widget: Any, content: dict[str, Any]) -> None:
    """What ``model.send(content)`` in the browser does."""
    widget._handle_custom_msg(content, [])


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Messages the widgets send to the front end."""
    out: list[dict[str, Any]] = []
    for cls in (HistoryExplorer, RunCard):
        monkeypatch.setattr(cls, "send", lambda self, msg, buffers=None: out.append(msg))
    return out


def test_lanes_for_parallel_retried_timer_signal(client: hs.Client, start_worker: Any) -> None:
    flaky["left"] = 1
    start_worker(workflows=[busy], activities=[quick, shaky])
    run = client.start(busy, 3, id="busy-1")
    wait_for(lambda: any(e.event_type == "TimerFired" for e in run.history()))
    run.signal("go", {"ok": True})
    assert run.result(timeout=20) == [6, 8, 7, {"ok": True}]

    explorer = explore(client, "busy-1")
    lanes = {lane["id"]: lane for lane in explorer.lanes}
    history = run.history()
    by_type: dict[str, list[Any]] = {}
    for e in history:
        by_type.setdefault(e.event_type, []).append(e)

    workflow = explorer.lanes[0]
    assert workflow["id"] == "workflow"
    kinds = [item[2] for item in workflow["items"]]
    assert kinds[0] == "start" and kinds[-1] == "close" and "decision" in kinds
    # the first decision scheduled both activities at once: one item spanning two seqs
    first = next(i for i in workflow["items"] if i[2] == "decision")
    assert first[5] - first[4] == 1 and first[3] == "2 commands"

    scheduled = by_type["ActivityScheduled"]
    assert len(scheduled) == 3
    quick_lanes = [lanes[f"a{e.seq}"] for e in scheduled[:2]]
    for lane in quick_lanes:
        assert lane["kind"] == "activity" and lane["meta"]["status"] == "completed"
        assert lane["meta"]["attempts"] == 1 and lane["meta"]["retries"] == 0
        assert [i[2] for i in lane["items"]] == ["scheduled", "ok"]
    # parallel: the two quick activities overlap in time (both scheduled before either ended)
    (s0, e0), (s1, e1) = [(lane["items"][0][0], lane["items"][-1][1]) for lane in quick_lanes]
    assert s0 <= e1 and s1 <= e0

    shaky_lane = lanes[f"a{scheduled[2].seq}"]
    meta = shaky_lane["meta"]
    assert meta["type"] == "shaky" and meta["attempts"] == 2 and meta["retries"] == 1
    assert meta["status"] == "completed" and "flaked" in meta["last_error"]
    assert [i[2] for i in shaky_lane["items"]] == ["scheduled", "failed", "backoff", "ok"]

    timer = by_type["TimerStarted"][0]
    timer_lane = lanes[f"t{timer.seq}"]
    assert timer_lane["meta"]["status"] == "fired"
    item = timer_lane["items"][0]
    assert item[4] == timer.seq and item[5] == by_type["TimerFired"][0].seq
    assert item[1] - item[0] >= 0.09

    signals = lanes["signals"]
    assert [(i[2], i[3]) for i in signals["items"]] == [("signal", "go")]
    assert "resets" not in lanes
    # times are relative to the run start, and items end after they start
    for lane in explorer.lanes:
        for t0, t1, *_ in lane["items"]:
            assert t0 >= 0 and (t1 is None or t1 >= t0)
    assert explorer.summary["status"] == "COMPLETED"
    assert explorer.summary["run_id"] == run.run_id
    assert set(explorer.event_types) >= {"ActivityScheduled", "TimerFired", "SignalReceived"}
    explorer.close()


@hs.activity(start_to_close=0.4, retry=hs.RetryPolicy(max_attempts=1))
async def slow(ctx: hs.ActivityContext, seconds: float) -> float:
    import asyncio

    await asyncio.sleep(seconds)
    return seconds


@hs.workflow
async def slow_then_stuck(ctx: hs.WorkflowContext) -> str:
    # long enough that the explorer opens while it runs, even on a loaded machine
    await ctx.execute_activity(slow, 1.0, start_to_close=3)
    try:
        await ctx.execute_activity(slow, 5.0)  # past its start_to_close: times out
    except hs.ActivityError:
        pass
    return "done"


def test_attempts_are_drawn_when_they_ran_running_and_timed_out_ones_too(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[slow_then_stuck], activities=[slow])
    run = client.start(slow_then_stuck)
    wait_for(lambda: any(p.get("kind") == "activity" and p.get("state") == "RUNNING"
                         for p in run.describe().pending))
    explorer = explore(client, run.run_id)
    [running] = [lane for lane in explorer.lanes if lane["kind"] == "activity"]
    kinds = [(i[2], i[1]) for i in running["items"]]
    assert kinds[-1] == ("attempt", None)  # running now: open-ended, drawn to now
    explorer.close()
    assert run.result(timeout=20) == "done"
    explorer = explore(client, run.run_id)
    history = run.history()
    started = [e for e in history if e.event_type == "ActivityStarted"]
    ended = [e for e in history if e.event_type in ("ActivityCompleted", "ActivityTimedOut")]
    assert len(started) == len(ended) == 2
    origin = history[0].at
    first, second = [lane for lane in explorer.lanes if lane["kind"] == "activity"]
    for lane, start, end in zip((first, second), started, ended, strict=True):
        bar = lane["items"][-1]
        real_start = (datetime.fromisoformat(start.event.started_at) - origin).total_seconds()
        assert bar[0] == pytest.approx(real_start, abs=0.002)  # its start, not the write
        assert bar[1] == pytest.approx((end.at - origin).total_seconds(), abs=0.002)
        assert lane["items"][0][2] == "scheduled" and lane["items"][0][1] == bar[0]
    assert first["items"][-1][2] == "ok"
    assert first["items"][-1][1] - first["items"][-1][0] == pytest.approx(1.0, abs=0.15)
    assert second["items"][-1][2] == "timeout"  # drawn from its start to its deadline
    # to its deadline (times are kept to the millisecond at both ends)
    assert second["items"][-1][1] - second["items"][-1][0] >= 0.4 - 0.002
    explorer.close()


def test_lanes_of_an_empty_history() -> None:
    assert compute_lanes([]) == []


def _synthetic_run(client: hs.Client, db_url: str, events: int) -> str:
    """A run with ``events`` history rows inserted directly (no worker needed)."""
    run = client.start("synthetic", 0, id=f"syn-{uuid.uuid4().hex[:6]}", force=True)
    assert run.run_id is not None
    start = client.history(run.run_id)[0].at
    seqs, types, ats, payloads = [], [], [], []
    seq = 1
    while seq < events:
        seq += 1
        sched = seq
        seqs.append(seq)
        types.append("ActivityScheduled")
        ats.append(start + timedelta(milliseconds=seq))
        payloads.append(serde.dumps({"activity_type": "step", "args": [seq], "queue": "q"}))
        if seq < events:
            seq += 1
            seqs.append(seq)
            types.append("ActivityCompleted")
            ats.append(start + timedelta(milliseconds=seq))
            payloads.append(serde.dumps({"scheduled_seq": sched, "attempt": 1, "result": seq}))
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO harvest.history (run_id, seq, event_type, at, payload)"
            " SELECT %s, s, t, a, p::jsonb FROM unnest(%s::int[], %s::text[],"
            " %s::timestamptz[], %s::text[]) AS u(s, t, a, p)",
            (run.run_id, seqs, types, ats, payloads),
        )
        conn.execute("UPDATE harvest.runs SET last_seq = %s WHERE run_id = %s",
                     (events, run.run_id))
    return run.run_id


def test_windowing_keeps_synced_events_bounded(
    client: hs.Client, db_url: str, sent: list[dict[str, Any]]
) -> None:
    run_id = _synthetic_run(client, db_url, 10_000)
    explorer = HistoryExplorer(client, run_id, window_size=500)
    assert len(explorer.history) == 10_000
    state = explorer.get_state()
    assert len(state["events"]) == 500
    # it opens at the tail
    assert explorer.window == {"start": 9501, "end": 10000, "offset": 9500, "total": 10000,
                               "last": 10000}
    # workflow + the 5,000 activities of one type as one group lane
    workflow, group = explorer.lanes
    assert workflow["kind"] == "workflow"
    assert group["kind"] == "group" and group["label"] == "step \u00d75,000"
    assert group["meta"]["count"] == 5000
    assert group["meta"]["statuses"] == {"completed": 4999, "scheduled": 1}
    assert HistoryExplorer(client, run_id, group_at=10**6).lanes.__len__() == 1 + 5000

    custom(explorer, {"type": "range", "start": 1000, "request": 7})
    assert sent[-1]["type"] == "range" and sent[-1]["request"] == 7
    assert sent[-1]["start"] == 1000 and sent[-1]["end"] == 1499
    assert [e["seq"] for e in explorer.events] == list(range(1000, 1500))

    custom(explorer, {"type": "range", "start": 20, "end": 29})
    assert [e["seq"] for e in explorer.events] == list(range(20, 30))

    custom(explorer, {"type": "range", "around": 5000})
    assert explorer.window["start"] == 4750 and len(explorer.events) == 500

    custom(explorer, {"type": "range", "t0": 2.0})  # 1 ms per seq in the synthetic history
    assert 1995 <= explorer.events[0]["seq"] <= 2005 and len(explorer.events) == 500

    custom(explorer, {"type": "range", "offset": 9900})
    assert explorer.window["end"] == 10000 and len(explorer.events) == 500

    # the filter applies before the window
    explorer.type_filter = ["ActivityCompleted"]
    assert explorer.window["total"] == 4999
    assert {e["type"] for e in explorer.events} == {"ActivityCompleted"}
    assert len(explorer.events) == 500
    explorer.type_filter = []
    assert explorer.window["total"] == 10000
    explorer.close()


def test_selection_syncs_both_ways(client: hs.Client, db_url: str) -> None:
    run_id = _synthetic_run(client, db_url, 3000)
    explorer = HistoryExplorer(client, run_id, window_size=100)
    assert explorer.window["start"] == 2901
    # the browser sets selected_seq (a click on a row or a bar)
    explorer.set_state({"selected_seq": 42})
    assert explorer.selected_seq == 42
    assert explorer.selected is not None and explorer.selected.seq == 42
    assert explorer.selected_event is not None
    assert explorer.selected_event["type"] == "ActivityScheduled"
    assert explorer.selected_event["data"]["args"] == [42]
    # selecting outside the window recenters it so the table shows the row
    assert explorer.window["start"] <= 42 <= explorer.window["end"]
    # and the kernel can select too; the state the front end gets carries it
    explorer.selected_seq = 7
    assert explorer.get_state()["selected_seq"] == 7
    explorer.selected_seq = None
    assert explorer.selected_event is None
    explorer.close()


def last(sent: list[dict[str, Any]]) -> dict[str, Any]:
    """The last answer to a request (live patches left out)."""
    return [m for m in sent if m["type"] != "patch"][-1]


def test_actions_call_the_client_and_report(
    client: hs.Client, start_worker: Any, sent: list[dict[str, Any]]
) -> None:
    start_worker(workflows=[waits], activities=[])
    run = client.start(waits, id="w-signal")
    explorer = HistoryExplorer(client, "w-signal")

    custom(explorer, {"type": "signal", "name": "go", "payload": {"n": 1}, "request": 1})
    assert last(sent) == {"type": "result", "action": "signal", "request": 1, "ok": True,
                        "value": {"queued": True}}
    assert run.result(timeout=15) == {"n": 1}

    custom(explorer, {"type": "signal", "name": "", "request": 2})
    assert last(sent)["type"] == "error" and last(sent)["action"] == "signal"

    # the run has ended: cancel and terminate report the client's error
    custom(explorer, {"type": "cancel"})
    assert last(sent)["type"] == "error" and last(sent)["error"] == "RunNotRunningError"
    custom(explorer, {"type": "bogus"})
    assert last(sent)["type"] == "error" and "unknown message" in last(sent)["message"]

    client.start(waits, id="w-cancel")
    explorer2 = HistoryExplorer(client, "w-cancel")
    custom(explorer2, {"type": "cancel", "reason": "test"})
    assert last(sent)["type"] == "result" and last(sent)["value"] == {"requested": True}
    wait_for(lambda: client.describe("w-cancel").status == "CANCELLED")

    client.start(waits, id="w-term")
    explorer3 = HistoryExplorer(client, "w-term")
    custom(explorer3, {"type": "terminate", "reason": "test"})
    assert last(sent)["type"] == "result" and last(sent)["value"] == {"terminated": True}
    assert client.describe("w-term").status == "TERMINATED"
    assert explorer3.summary["status"] == "TERMINATED"  # refreshed after the action
    for w in (explorer, explorer2, explorer3):
        w.close()


def test_reset_needs_a_preview_of_the_same_event(
    client: hs.Client, start_worker: Any, sent: list[dict[str, Any]]
) -> None:
    flaky["left"] = 0
    start_worker(workflows=[busy], activities=[quick, shaky])
    run = client.start(busy, 1, id="busy-reset")
    wait_for(lambda: any(e.event_type == "TimerFired" for e in run.history()))
    explorer = HistoryExplorer(client, "busy-reset")
    point = next(e.seq for e in run.history() if e.event_type == "TimerFired")

    custom(explorer, {"type": "reset", "seq": point})  # no preview yet
    assert last(sent)["type"] == "error" and "preview" in last(sent)["message"]
    assert client.describe("busy-reset").status == "RUNNING"

    explorer.selected_seq = point
    custom(explorer, {"type": "reset_preview"})  # defaults to the selected event
    assert last(sent)["type"] == "result" and last(sent)["action"] == "reset_preview"
    assert last(sent)["value"]["valid"] is True and last(sent)["value"]["boundary"] == point
    assert last(sent)["value"]["applied"] is False
    assert explorer.reset_preview is not None and explorer.reset_preview["valid"]

    custom(explorer, {"type": "reset", "seq": point - 1})  # a different event
    assert last(sent)["type"] == "error"

    custom(explorer, {"type": "reset", "seq": point, "request": 8})  # no reason
    assert last(sent)["type"] == "error" and "needs a reason" in last(sent)["message"]
    custom(explorer, {"type": "reset", "seq": point, "reason": "r", "reapply_signals": "x"})
    assert last(sent)["type"] == "error" and "reapply_signals" in last(sent)["message"]
    assert client.describe("busy-reset").status == "RUNNING"

    custom(explorer, {"type": "reset", "seq": point, "request": 9, "reason": "try again"})
    reply = last(sent)
    assert reply["type"] == "result" and reply["request"] == 9
    assert reply["value"]["applied"] is True and reply["value"]["new_run_id"]
    assert explorer.reset_preview is None
    assert client.describe(run.run_id or "").status == "TERMINATED"
    # a second reset needs a fresh preview
    custom(explorer, {"type": "reset", "seq": point, "reason": "again"})
    assert last(sent)["type"] == "error"
    new = client.handle(reply["value"]["new_run_id"])
    new.signal("go", 1)
    assert new.result(timeout=20)[-1] == 1
    explorer.close()


def test_refresh_and_live_polling(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[waits], activities=[])
    run = client.start(waits, id="w-live")
    explorer = HistoryExplorer(client, "w-live")
    before = explorer.summary["events"]
    explorer.live = True
    assert explorer._poller is not None and explorer._poller.alive
    explorer.stop_live()
    assert explorer._poller is None and not explorer.live

    explorer.start_live(interval=0.1)
    run.signal("go", "x")
    run.result(timeout=15)
    wait_for(lambda: explorer.summary["status"] == "COMPLETED")
    assert explorer.summary["events"] > before
    assert explorer.window["end"] == explorer.summary["last_seq"]  # the tail was followed
    wait_for(lambda: not explorer.live)  # polling stops once the run has ended
    explorer.live = True  # nothing to follow: switches itself off
    assert not explorer.live
    explorer.close()


def test_run_card(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[waits], activities=[])
    run = client.start(waits, id="w-card")
    card = run_card(client, "w-card", interval=0.1)
    assert isinstance(card, RunCard)
    assert card.view == "card"
    assert card.summary["status"] == "RUNNING" and card.summary["workflow_id"] == "w-card"
    assert card.live
    run.signal("go", 1)
    run.result(timeout=15)
    wait_for(lambda: card.summary["status"] == "COMPLETED")
    wait_for(lambda: not card.live)
    assert "w-card" in repr(card)
    bundle = card._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in (
        bundle[0] if isinstance(bundle, tuple) else bundle
    )
    card.close()


def test_esm_is_vendored_and_offline() -> None:
    css = STATIC / "explorer.css"
    parts = [STATIC / name for name in FRONT_END]
    assert css.is_file() and all(part.is_file() for part in parts)
    text = front_end()
    # the widgets ship exactly these files, joined (anywidget reads them at class creation)
    assert str(HistoryExplorer._esm) == text and str(RunCard._esm) == text
    assert str(HistoryExplorer._css) == css.read_text()
    imports = re.findall(r"^\s*import\b.*$|\bimport\s*\(", text, flags=re.M)
    assert not imports  # dependency-free: no static or dynamic imports at all
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in text
    assert text.count("export default") == 1 and parts[-1].read_text().rstrip().endswith(
        "export default { render };")
    assert all(len(part.read_text().splitlines()) < 600 for part in parts)


def test_importing_the_package_does_not_import_anywidget() -> None:
    import sys

    code = "import sys, harvest_studio; print('anywidget' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_selected_time_is_relative(client: hs.Client, db_url: str) -> None:
    run_id = _synthetic_run(client, db_url, 20)
    explorer = HistoryExplorer(client, run_id)
    assert explorer.events[0]["t"] == 0.0 and explorer.events[-1]["t"] == pytest.approx(0.020)
    assert datetime.fromisoformat(explorer.summary["started_at"]).tzinfo is not None
    assert explorer.summary["started_at"] <= datetime.now(UTC).isoformat()
    explorer.close()


@hs.workflow
async def approval(ctx: hs.WorkflowContext) -> Any:
    await ctx.execute_activity(shaky, 1)  # fails once, then succeeds: an error retried away
    return await ctx.wait_signal("approve", timeout="7d", default="nobody")


_CARD_PAGE = """<!doctype html><html><head><style>%(css)s</style></head><body>
<div id="el" style="width:700px"></div><pre id="log"></pre>
<script type="module">
const state = %(state)s; const subs = {};
const model = {
  get: (k) => state[k], set: (k, v) => { state[k] = v; }, save_changes() {}, send() {},
  on: (n, f) => (subs[n] = subs[n] || []).push(f), off() {},
};
const mod = await import(URL.createObjectURL(new Blob([%(js)s], {type: "text/javascript"})));
const el = document.getElementById("el");
mod.default.render({model, el});
const lines = [...el.querySelectorAll(".hs-card-line")].map((l) => ({
  text: l.textContent, red: getComputedStyle(l).color === "rgb(207, 34, 46)"}));
document.getElementById("log").textContent = JSON.stringify(lines);
</script></body></html>"""


@pytest.mark.browser
@pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
    reason="needs /usr/bin/chromium (installed by .ci/run; never skipped in CI)",
)
def test_the_card_says_what_the_run_waits_for_and_keeps_retried_errors_quiet(
    client: hs.Client, start_worker: Any, tmp_path: Path
) -> None:
    flaky["left"] = 1
    start_worker(workflows=[approval], activities=[shaky])
    run = client.start(approval)
    wait_for(lambda: bool(run.describe().waiting))
    [wait] = run.describe().waiting
    assert wait["kind"] == "signal" and wait["name"] == "approve" and wait["timer_seq"]

    def seen(card: RunCard) -> list[dict[str, Any]]:
        state = {k: v for k, v in card.get_state().items() if not k.startswith("_")}
        page = tmp_path / "card.html"
        page.write_text(_CARD_PAGE % {"css": (STATIC / "explorer.css").read_text(),
                                      "state": json.dumps(state),
                                      "js": json.dumps(front_end())})
        result: list[dict[str, Any]] = page_log(page, tmp_path)
        return result

    card = run_card(client, run.run_id, live=False)
    lines = seen(card)
    waiting = [line["text"] for line in lines if "approve" in line["text"]]
    assert len(waiting) == 1
    assert waiting[0].startswith("waiting for signal approve, times out in 6 d 23 h (")
    assert not any(line["red"] for line in lines)  # the retried failure is no error of the run
    assert any(line["text"] == "1 failed attempt retried" for line in lines)
    assert "Waiting      waiting for signal approve, times out in 6 d 23 h" in render_run(
        run.describe())  # `harvest show` says it too
    run.signal("approve", "ada")
    assert run.result(timeout=20) == "ada"
    assert run.describe().waiting == ()
    card.refresh()
    done = seen(card)
    assert not any("waiting" in line["text"] for line in done)
    assert not any(line["red"] for line in done)
    card.close()


def test_summary_of_a_blocked_run_with_pending_work() -> None:
    from harvest_studio.client import RunInfo
    from harvest_studio.model.events import ActivityFailed, WorkflowStarted
    from harvest_studio.studio.widgets.lanes import run_summary

    at = datetime(2026, 1, 1, tzinfo=UTC)
    info = RunInfo(
        run_id="r", workflow_id="w", workflow_type="t", namespace="default", queue="q",
        status="RUNNING", input=[], result=None, error=None, events=2, created_at=at,
        closed_at=None, fingerprint=None,
        blocked={"kind": "nondeterminism", "message": "expected a timer", "seq": 5},
        pending=(
            {"kind": "activity", "type_name": "charge", "state": "RUNNING", "activity_seq": 4,
             "retry_attempt": 2, "worker_id": "w1", "last_error": None},
            {"kind": "timer", "seq": 6, "fires_at": at + timedelta(seconds=30)},
        ),
    )
    history = [
        HistoryEvent(1, at, WorkflowStarted("t", "w", "default", "q", [])),
        HistoryEvent(2, at + timedelta(seconds=2),
                     ActivityFailed(4, 1, {"type": "IOError", "message": "down"}, True)),
    ]
    summary = run_summary(info, history)
    assert summary["blocked_reason"] == "nondeterminism: expected a timer (at event 5)"
    assert summary["blocked_t"] == 2.0  # past the last event: drawn at the end
    assert summary["pending_activities"] == [
        {"seq": 4, "type": "charge", "state": "RUNNING", "attempt": 2, "worker": "w1",
         "last_error": None}
    ]
    assert summary["pending_timers"] == [{"seq": 6, "fires_at": "2026-01-01T00:00:30+00:00"}]
    # the failure was retried: the run has no error of its own, the card counts it
    assert summary["last_error"] is None and summary["retried_errors"] == 1
    assert [w["what"] for w in summary["waiting_on"]] == [
        "timer (event 6)", "activity charge running (attempt 2) on w1"]
    json.dumps(summary)  # all plain JSON


def test_options_at_creation(client: hs.Client, db_url: str) -> None:
    run_id = _synthetic_run(client, db_url, 2000)
    explorer = explore(client, run_id, window_size=50, type_filter=["ActivityScheduled"],
                       selected_seq=10)
    assert explorer.window["total"] == 1000  # seq 2, 4, ... 2000
    assert {e["type"] for e in explorer.events} == {"ActivityScheduled"}
    assert explorer.selected_event is not None and explorer.selected_event["seq"] == 10
    assert explorer.window["start"] <= 10 <= explorer.window["end"]
    assert "HistoryExplorer" in repr(explorer)
    explorer.close()


def test_run_handle_shows_its_card_and_opens_the_explorer(client: hs.Client) -> None:
    run = client.start("anything", force=True)
    bundle = run._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"].startswith("<run ")
    explorer = run.explore()
    try:
        assert isinstance(explorer, HistoryExplorer)
    finally:
        explorer.close()
    run.terminate()
