"""Lanes built incrementally are the lanes built at once; what was handed out never changes
afterwards; a live patch of a lane carries only its changed tail; thinning and grouping
keep big runs small."""

from __future__ import annotations

import copy
from typing import Any

import harvest_studio as hs
from harvest_studio.studio.widgets.explorer import _lane_patch
from harvest_studio.studio.widgets.groups import concurrency, group_lanes, thin_points
from harvest_studio.studio.widgets.lanes import LaneBuilder, compute_lanes

from .test_explorer import busy, flaky, quick, shaky, wait_for


def test_fed_in_pieces_equals_built_at_once(client: hs.Client, start_worker: Any) -> None:
    flaky["left"] = 1
    start_worker(workflows=[busy], activities=[quick, shaky])
    run = client.start(busy, 3)
    wait_for(lambda: any(e.event_type == "TimerFired" for e in run.history()))
    run.signal("go", 1)
    run.result(timeout=20)
    history = run.history()
    whole = compute_lanes(history)
    builder = LaneBuilder()
    handed: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []
    for cut in range(0, len(history), 3):
        builder.feed(history[cut:cut + 3])
        lanes = builder.lanes()
        # after every piece, the same lanes as built at once from what came so far
        assert lanes == compute_lanes(history[:cut + 3])
        handed.append((lanes, copy.deepcopy(lanes)))
    assert builder.lanes() == whole
    # lanes handed out earlier were not changed by later events
    assert all(given == kept for given, kept in handed)


def test_a_lane_patch_sends_the_changed_tail() -> None:
    old = {"id": "workflow", "items": [[0, 0, "start"], [1, 1, "decision"]], "meta": {}}
    new = {"id": "workflow", "items": [[0, 0, "start"], [1, 1, "decision"], [2, 2, "close"]],
           "meta": {}}
    assert _lane_patch(old, new) == {"id": "workflow", "items": [[2, 2, "close"]],
                                     "splice": 2, "meta": {}}
    changed_first = {**new, "items": [[0, 0, "begin"], *new["items"][1:]]}
    assert _lane_patch(old, changed_first) == changed_first
    assert _lane_patch(None, new) == new


def test_points_are_merged_in_stable_bins() -> None:
    lane = {"id": "workflow", "kind": "workflow", "label": "workflow", "meta": {},
            "items": [[i / 100, i / 100, "decision", "1 command", i, i] for i in range(5000)]}
    thin = thin_points(lane, now=50.0, limit=100)
    assert len(thin["items"]) <= 200
    assert sum(int(it[3].split()[0]) if it[3][0].isdigit() and "decisions" in it[3] else 1
               for it in thin["items"]) == 5000
    longer = {**lane, "items": [*lane["items"], [50.0, 50.0, "decision", "1 command", 5000,
                                                5000]]}
    again = thin_points(longer, now=50.0, limit=100)
    # the same bins: what was there stays, the new point opens a bin of its own
    assert again["items"][:len(thin["items"])] == thin["items"]
    assert len(again["items"]) == len(thin["items"]) + 1


def test_groups_count_and_profile() -> None:
    lanes = [{"id": f"a{i}", "kind": "activity", "label": f"step #{i}",
              "meta": {"seq": i, "type": "step", "attempts": 1, "retries": 0, "timeouts": 0,
                       "status": "completed"},
              "items": [[i, i + 0.5, "scheduled", "", i, i], [i + 0.5, i + 2.5, "ok", "", i, i]]}
             for i in range(30)]
    [group] = group_lanes(lanes, now=40.0)
    meta = group["meta"]
    assert group["label"] == "step \u00d730" and meta["count"] == 30
    assert meta["statuses"] == {"completed": 30} and meta["peak"] == 2
    assert meta["durations"]["p50"] == 2.5 and sum(meta["histogram"]["counts"]) == 30
    assert group_lanes(lanes[:24], now=40.0) == lanes[:24]  # few enough stay lanes
    profile, peak = concurrency([(0.0, 1.0), (0.5, 2.0)], 0.0, 2.0, bins=4)
    assert peak == 2 and [n for _, n in profile] == [1, 2, 1, 1]


def test_a_signal_not_yet_handled_is_listed(client: hs.Client, start_worker: Any) -> None:
    from harvest_studio.commands import render
    from harvest_studio.commands.render.pending import waits
    from harvest_studio.studio.widgets.lanes import run_summary

    worker = start_worker(workflows=[busy], activities=[quick, shaky])
    run = client.start(busy, 1)
    wait_for(lambda: any(e.event_type == "TimerFired" for e in run.history()))
    wait_for(lambda: bool(client.describe(run.id).waiting))
    worker.stop()  # nobody takes the signal from the inbox now
    run.signal("go", 5)
    info = client.describe(run.id)
    assert [w["what"] for w in waits(info) if w["kind"] == "inbox"] == [
        "signal go received, not yet handled"]
    assert "not yet handled" in render.render_run(info)
    summary = run_summary(info, run.history())
    assert any(w["kind"] == "inbox" for w in summary["waiting_on"])
