"""Schedules: slot times (cron in a timezone with DST, intervals, jitter), catch-up, and the
scheduler in real workers against PostgreSQL (overlap policies, outages, backfill,
trigger, pause, auto-pause)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import harvest_studio as hs
from harvest_studio.model.schedules import ScheduleSpec, kept_by_catchup

from .conftest import sql, wait_for

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")


def local(slots: list[datetime], zone: ZoneInfo) -> list[str]:
    return [s.astimezone(zone).strftime("%m-%d %H:%M %Z") for s in slots]


# ---------------------------------------------------------------------------------------
# slot times
# ---------------------------------------------------------------------------------------
def test_spring_forward_fires_once_after_the_gap() -> None:
    spec = ScheduleSpec.make(cron="0 2 * * *", timezone="Europe/Berlin")
    slots = spec.preview(datetime(2026, 3, 27, 12, tzinfo=BERLIN), 4)
    assert local(slots, BERLIN) == [
        "03-28 02:00 CET", "03-29 03:00 CEST", "03-30 02:00 CEST", "03-31 02:00 CEST"
    ]
    spec = ScheduleSpec.make(cron="30 2 * * *", timezone="America/New_York")
    slots = spec.preview(datetime(2026, 3, 7, 12, tzinfo=NEW_YORK), 3)
    assert local(slots, NEW_YORK) == ["03-08 03:00 EDT", "03-09 02:30 EDT", "03-10 02:30 EDT"]


def test_fall_back_fires_once_at_the_first_occurrence() -> None:
    spec = ScheduleSpec.make(cron="30 2 * * *", timezone="Europe/Berlin")
    slots = spec.preview(datetime(2026, 10, 24, 12, tzinfo=BERLIN), 3)
    assert local(slots, BERLIN) == ["10-25 02:30 CEST", "10-26 02:30 CET", "10-27 02:30 CET"]
    spec = ScheduleSpec.make(cron="30 1 * * *", timezone="America/New_York")
    slots = spec.preview(datetime(2026, 10, 31, 12, tzinfo=NEW_YORK), 2)
    assert local(slots, NEW_YORK) == ["11-01 01:30 EDT", "11-02 01:30 EST"]
    # a wildcard hour runs in both copies of the repeated hour: wall-clock time passes twice
    spec = ScheduleSpec.make(cron="0 * * * *", timezone="Europe/Berlin")
    slots = spec.preview(datetime(2026, 10, 25, 1, 30, tzinfo=BERLIN), 3)
    assert local(slots, BERLIN) == ["10-25 02:00 CEST", "10-25 02:00 CET", "10-25 03:00 CET"]


def test_aliases_intervals_windows_and_jitter() -> None:
    start = datetime(2026, 12, 1, 10, 7, tzinfo=UTC)
    assert ScheduleSpec.make(cron="@hourly").preview(start, 1) == [
        datetime(2026, 12, 1, 11, tzinfo=UTC)
    ]
    anchor = datetime(2026, 12, 1, 10, 0, 5, tzinfo=UTC)
    spec = ScheduleSpec.make(every="15m", anchor=anchor, end_at="2026-12-01T11:00:00+00:00")
    assert [s.strftime("%H:%M:%S") for s in spec.preview(start, 10)] == [
        "10:15:05", "10:30:05", "10:45:05"
    ]
    jittery = ScheduleSpec.make(every=60, jitter="30s")
    delays = [jittery.jitter_for("s", start + timedelta(minutes=i)) for i in range(50)]
    assert all(0 <= d < 30 for d in delays) and len(set(delays)) > 40
    assert delays == [jittery.jitter_for("s", start + timedelta(minutes=i)) for i in range(50)]


def test_catchup_policies_choose_missed_slots() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    slots = [now - timedelta(seconds=s) for s in (200, 170, 140, 110, 80, 50, 20)]
    on_time = slots[-2:]
    assert kept_by_catchup("skip_all", slots, now) == on_time
    assert kept_by_catchup("most_recent", slots, now) == on_time
    assert kept_by_catchup("most_recent", slots[:5], now) == [slots[4]]
    assert kept_by_catchup("all", slots, now) == slots
    assert kept_by_catchup("window:2m", slots, now) == [slots[3], slots[4], *on_time]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cron": "61 * * * *"}, "bad cron expression"),
        ({"cron": "* * *"}, "bad cron expression"),
        ({}, "exactly one of cron= and every="),
        ({"cron": "@daily", "every": 5}, "exactly one"),
        ({"every": "0.5s"}, "at least 1 second"),
        ({"every": 60, "timezone": "Mars/Olympus"}, "unknown timezone"),
        ({"every": 60, "start_at": "2026-01-01"}, "timezone-aware"),
        ({"every": 60, "start_at": "2026-02-01T00:00:00Z", "end_at": "2026-01-01T00:00:00Z"},
         "end_at must be after start_at"),
    ],
)
def test_bad_specs_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(hs.ScheduleError, match=message):
        ScheduleSpec.make(**options)


# ---------------------------------------------------------------------------------------
# the scheduler in workers
# ---------------------------------------------------------------------------------------
@hs.workflow
async def tick(ctx: hs.WorkflowContext, label: str) -> str:
    return label


@hs.workflow
async def linger(ctx: hs.WorkflowContext, seconds: float) -> float:
    await ctx.sleep(seconds)
    return seconds


@hs.workflow
async def always_fails(ctx: hs.WorkflowContext) -> None:
    raise hs.ApplicationError("scheduled failure")


WORKFLOWS = [tick, linger, always_fails]


def runs_of(url: str, schedule: str) -> list[tuple[Any, ...]]:
    return sql(
        url,
        "SELECT workflow_id, status, created_at, search_attributes->>'scheduled_at'"
        " FROM harvest.runs WHERE search_attributes->>'schedule' = %s ORDER BY created_at",
        (schedule,),
    )


def actions(client: hs.Client, name: str) -> Counter[str]:
    return Counter(entry.action for entry in client.schedule_log(name, limit=500))


def test_a_schedule_starts_runs_on_time_and_never_early(
    client: hs.Client, start_worker: Callable[..., hs.Worker], db_url: str
) -> None:
    start_worker(workflows=WORKFLOWS)
    info = client.create_schedule("beat", tick, "hello", every="1s")
    assert info.next_fire_at is not None and info.workflow_type == "tick"
    wait_for(lambda: len(runs_of(db_url, "beat")) >= 3, timeout=15)
    client.pause_schedule("beat", note="enough")
    for workflow_id, _, created_at, scheduled_at in runs_of(db_url, "beat"):
        slot = datetime.fromisoformat(scheduled_at)
        assert workflow_id == f"sched:beat:{scheduled_at}" and scheduled_at.endswith("Z")
        assert created_at >= slot  # never before its time
        assert (created_at - slot).total_seconds() < 2.0
    assert client.describe_schedule("beat").paused
    assert actions(client, "beat")["paused"] == 1


def test_overlap_policies(
    client: hs.Client, start_worker: Callable[..., hs.Worker], db_url: str
) -> None:
    policies = ["skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all"]
    for policy in policies:
        client.create_schedule(policy, linger, 2.2, every="1s", overlap=policy)
    start_worker(workflows=WORKFLOWS, tuning={"max_concurrent_tasks": 64})
    wait_for(lambda: all(actions(client, p)["started"] >= 2 for p in ("skip", "allow_all")),
             timeout=20)
    asyncio.run(asyncio.sleep(1.5))
    for policy in policies:
        client.pause_schedule(policy)
    statuses = {p: Counter(r[1] for r in runs_of(db_url, p)) for p in policies}
    log = {p: actions(client, p) for p in policies}
    assert log["skip"]["skipped_overlap"] >= 2 and statuses["skip"]["RUNNING"] <= 1
    assert log["buffer_one"]["buffered"] >= 1 and log["buffer_one"]["skipped_overlap"] >= 1
    assert client.describe_schedule("buffer_one").buffered <= 1
    assert log["buffer_all"]["buffered"] >= 2 and log["buffer_all"]["skipped_overlap"] == 0
    assert log["cancel_other"]["cancel_other"] >= 1
    wait_for(lambda: Counter(r[1] for r in runs_of(db_url, "cancel_other"))["CANCELLED"] >= 1)
    assert log["terminate_other"]["terminate_other"] >= 1
    assert statuses["terminate_other"]["TERMINATED"] >= 1
    assert statuses["allow_all"]["RUNNING"] >= 2  # runs overlap
    assert statuses["skip"]["RUNNING"] + statuses["skip"]["COMPLETED"] == log["skip"]["started"]


def _outage(url: str, name: str, seconds: float) -> None:
    """Make it look as if no scheduler ran for ``seconds``: the next slot is that far back."""
    sql(
        url,
        "UPDATE harvest.schedules SET next_slot = now() - make_interval(secs => %s),"
        " fire_at = now() - make_interval(secs => %s),"
        " spec = jsonb_set(spec, '{anchor}', to_jsonb(to_char((now() - make_interval(secs => %s))"
        " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')))"
        " WHERE name = %s",
        (seconds, seconds, seconds, name),
    )


@pytest.mark.parametrize(
    ("catchup", "started", "skipped"),
    [("skip_all", 2, 5), ("most_recent", 2, 5), ("all", 7, 0), ("window:2m", 4, 3)],
)
def test_catch_up_after_an_outage(
    client: hs.Client,
    start_worker: Callable[..., hs.Worker],
    db_url: str,
    catchup: str,
    started: int,
    skipped: int,
) -> None:
    client.create_schedule("daily", tick, "x", every="30s", catchup=catchup, overlap="allow_all")
    _outage(db_url, "daily", 200)  # slots 200, 170, ..., 20 s ago: 5 missed, 2 on time
    start_worker(workflows=WORKFLOWS)
    wait_for(lambda: sum(actions(client, "daily")[a] for a in ("started", "skipped_catchup"))
             >= 7, timeout=15)
    log = actions(client, "daily")
    assert (log["started"], log["skipped_catchup"]) == (started, skipped)
    assert len(runs_of(db_url, "daily")) == started
    caught = [e for e in client.schedule_log("daily") if e.detail and "caught up" in e.detail]
    assert len(caught) == started - 2


def test_backfill_is_idempotent_per_slot(client: hs.Client, db_url: str) -> None:
    client.create_schedule("hourly", tick, "b", cron="0 * * * *", paused=True)
    first = client.backfill_schedule("hourly", "2026-11-30T00:00:00Z", "2026-11-30T05:30:00Z")
    again = client.backfill_schedule("hourly", "2026-11-30T00:00:00Z", "2026-11-30T05:30:00Z")
    assert [h.run_id for h in first] == [h.run_id for h in again] and len(first) == 6
    assert [h.id for h in first][:2] == [
        "sched:hourly:2026-11-30T00:00:00Z", "sched:hourly:2026-11-30T01:00:00Z"
    ]
    assert len(runs_of(db_url, "hourly")) == 6
    assert actions(client, "hourly")["backfill"] == 6
    with pytest.raises(hs.ScheduleError, match="at most 1000 slots"):
        client.backfill_schedule("hourly", "2020-01-01T00:00:00Z", "2026-01-01T00:00:00Z")


def test_trigger_pause_resume_and_auto_pause(
    client: hs.Client, start_worker: Callable[..., hs.Worker], db_url: str
) -> None:
    start_worker(workflows=WORKFLOWS)
    client.create_schedule("manual", tick, "now", cron="0 0 1 1 *")
    run = client.trigger_schedule("manual")
    assert run.result(timeout=10) == "now" and run.id.startswith("sched:manual:")
    client.create_schedule("doomed", always_fails, every="1s", failure_limit=2)
    wait_for(lambda: client.describe_schedule("doomed").paused, timeout=20)
    info = client.describe_schedule("doomed")
    assert info.note == "paused after 2 consecutive failed runs"
    assert actions(client, "doomed")["auto_paused"] == 1
    failed = len(runs_of(db_url, "doomed"))
    asyncio.run(asyncio.sleep(1.5))
    assert len(runs_of(db_url, "doomed")) == failed  # paused: no new runs
    resumed = client.resume_schedule("doomed", note="fixed")
    assert not resumed.paused and resumed.consecutive_failures == 0


def test_schedule_input_errors(client: hs.Client) -> None:
    with pytest.raises(hs.ScheduleError, match="bad schedule name"):
        client.create_schedule("has:colon", tick, "a", every=60)
    with pytest.raises(hs.ScheduleError, match="overlap must be one of"):
        client.create_schedule("x", tick, "a", every=60, overlap="sometimes")
    with pytest.raises(hs.ScheduleError, match="catchup must be one of"):
        client.create_schedule("x", tick, "a", every=60, catchup="later")
    with pytest.raises(hs.UsageError, match="no workflow type 'nope'"):
        client.create_schedule("x", "nope", every=60)
    client.create_schedule("x", tick, "a", every=60)
    with pytest.raises(hs.UsageError, match="exists; pass replace=True"):
        client.create_schedule("x", tick, "b", every=60)
    assert client.create_schedule("x", tick, "b", every=60, replace=True).args == ["b"]
    assert [s.name for s in client.schedules()] == ["x"]
    assert client.delete_schedule("x") and client.schedules() == []
    with pytest.raises(hs.UsageError, match="no schedule 'x'"):
        client.trigger_schedule("x")


# ---------------------------------------------------------------------------------------
# schedules declared in code
# ---------------------------------------------------------------------------------------
@hs.activity(start_to_close="10s")
def stamp_day(ctx: hs.ActivityContext, day: str) -> str:
    return f"loaded {day}"


@hs.dag(every="1s", params={"day": str})
def every_second(d: hs.Dag, day: str) -> None:
    d.task(stamp_day, day)


@hs.dag(schedule="0 2 * * *", timezone="Europe/Berlin", catchup="most_recent",
        max_active_runs=1, params={"day": str})
def nightly_etl(d: hs.Dag, day: str) -> None:
    d.task(stamp_day, day)


def test_the_public_face_declares_a_nightly_schedule() -> None:
    declared = nightly_etl.schedule
    assert declared is not None and declared.name == "nightly_etl"
    assert declared.overlap == "buffer_all" and declared.catchup == "most_recent"
    assert declared.args == ("{slot_date}",)
    assert declared.spec.cron == "0 2 * * *" and declared.spec.timezone == "Europe/Berlin"
    with pytest.raises(hs.UsageError, match="max_active_runs can be 1"):
        hs.dag(every=60, max_active_runs=3)(lambda d: d.task(stamp_day, "x"))

    def typed(d: hs.Dag, n: int) -> None:
        d.task(stamp_day, n)

    with pytest.raises(hs.DagDefinitionError, match="give schedule_args"):
        hs.dag(every=60, params={"n": int})(typed)


def test_workers_keep_declared_schedules(
    client: hs.Client, start_worker: Callable[..., hs.Worker], db_url: str
) -> None:
    plain = hs.Schedule.make("ticker", "tick", ["declared"], every=3600)
    start_worker(workflows=[every_second, *WORKFLOWS], activities=[stamp_day],
                 schedules=[plain])
    start_worker(workflows=[every_second, *WORKFLOWS], activities=[stamp_day],
                 schedules=[plain])  # a second worker changes nothing
    wait_for(lambda: len(runs_of(db_url, "every_second")) >= 2, timeout=15)
    client.pause_schedule("every_second")
    assert [e.action for e in client.schedule_log("every_second")].count("created") == 1
    assert client.describe_schedule("ticker").args == ["declared"]
    run_id = sql(db_url, "SELECT run_id::text FROM harvest.runs"
                 " WHERE search_attributes->>'schedule' = 'every_second' LIMIT 1")[0][0]
    slot = client.describe(run_id).search_attributes["scheduled_at"]
    result = client.result(run_id, timeout=10)
    assert result["stamp_day"] == f"loaded {slot[:10]}"  # the slot's date, UTC here
    changed = hs.Schedule.make("ticker", "tick", ["changed"], every=1800)
    start_worker(workflows=WORKFLOWS, schedules=[changed])
    assert client.describe_schedule("ticker").args == ["changed"]
    assert [e.action for e in client.schedule_log("ticker")][:1] == ["updated"]


def test_max_runs_ends_a_schedule(
    client: hs.Client, start_worker: Callable[..., hs.Worker], db_url: str
) -> None:
    start_worker(workflows=WORKFLOWS)
    client.create_schedule("twice", tick, "t", every="1s", max_runs=2)
    wait_for(lambda: actions(client, "twice")["finished"] == 1, timeout=15)
    asyncio.run(asyncio.sleep(1.5))
    assert len(runs_of(db_url, "twice")) == 2
    assert client.describe_schedule("twice").next_fire_at is None
