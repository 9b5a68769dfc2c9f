"""Renderings of schedules: the list, one schedule, a preview of its slots (in its timezone
and in UTC), its log, and what ``create`` / ``pause`` / ``resume`` / ``delete`` /
``trigger`` / ``backfill`` did, as text (and the tables as HTML)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ...client import ScheduleInfo
from ...model.schedules import slot_iso
from ..schedule_results import (
    ScheduleAction,
    ScheduleList,
    ScheduleLog,
    SchedulePreview,
    ScheduleRuns,
)
from .format import compact, fmt_duration, fmt_time, key_values, shorten, table
from .html import esc, html_table

_LOCAL = "%Y-%m-%d %H:%M:%S %Z"


def zoned(moment: datetime | None, timezone: str) -> str:
    """``2026-03-29 03:00:00 CEST (2026-03-29T01:00:00Z)``: a time in a schedule's zone,
    and in UTC."""
    if moment is None:
        return "-"
    local = moment.astimezone(ZoneInfo(timezone)).strftime(_LOCAL)
    return f"{local} ({utc(moment)})"


def utc(moment: datetime) -> str:
    """``2026-03-29T01:00:00Z``: UTC to the second (a slot's exact time is
    :func:`~harvest_studio.model.schedules.slot_iso`)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status(info: ScheduleInfo) -> str:
    return "paused" if info.paused else "active"


def _next(info: ScheduleInfo) -> Any:
    return "-" if info.paused else info.next_fire_at


def render_schedules(listing: ScheduleList) -> str:
    rows = [
        (
            s.name,
            s.workflow_type,
            s.spec.describe(),
            _status(s),
            _next(s),
            s.runs_started,
            s.consecutive_failures,
        )
        for s in listing.schedules
    ]
    return table(
        ["NAME", "WORKFLOW", "WHEN", "STATUS", "NEXT FIRE", "RUNS", "FAILURES"],
        rows,
        empty="(no schedules)",
    )


def _window(info: ScheduleInfo) -> str | None:
    spec = info.spec
    if spec.start_at is None and spec.end_at is None:
        return None
    begin = zoned(spec.start_at, spec.timezone) if spec.start_at else "-"
    end = zoned(spec.end_at, spec.timezone) if spec.end_at else "-"
    return f"from {begin} until {end}"


def render_schedule(info: ScheduleInfo) -> str:
    """``harvest schedule show``: what it starts, when, its policies and where it stands."""
    spec = info.spec
    pairs: list[tuple[str, Any]] = [
        ("Schedule", info.name),
        ("Workflow", info.workflow_type),
        ("Args", compact(info.args, 200)),
        ("When", spec.describe()),
    ]
    if spec.every is not None and spec.anchor is not None:
        pairs.append(("Anchor", zoned(spec.anchor, spec.timezone)))
    if spec.jitter:
        pairs.append(("Jitter", f"up to {fmt_duration(spec.jitter)} per slot"))
    window = _window(info)
    if window:
        pairs.append(("Window", window))
    pairs += [("Overlap", info.overlap), ("Catch-up", info.catchup)]
    if info.max_runs is not None:
        pairs.append(("Max runs", info.max_runs))
    if info.failure_limit is not None:
        pairs.append(("Failure limit", f"pause after {info.failure_limit} failed runs in a row"))
    pairs.append(("Status", _status(info)))
    if info.note:
        pairs.append(("Note", info.note))
    if info.paused:
        pairs.append(("Next fire", "- (paused; resume starts from the next slot after then)"))
    else:
        pairs.append(("Next fire", zoned(info.next_fire_at, spec.timezone)))
    if info.last_slot is not None:
        run = f", run {info.last_run_id}" if info.last_run_id else ""
        pairs.append(("Last slot", zoned(info.last_slot, spec.timezone) + run))
    pairs += [
        ("Runs started", info.runs_started),
        ("Failed in a row", info.consecutive_failures),
    ]
    if info.buffered:
        pairs.append(("Buffered", info.buffered))
    pairs.append(("Created", fmt_time(info.created_at)))
    return key_values(pairs)


def render_schedule_action(action: ScheduleAction) -> str:
    """One line: ``created schedule nightly: tick, cron 0 2 * * * (Europe/Berlin); next
    fire ...``, ``paused schedule nightly (note: ...)``, ``deleted schedule nightly``."""
    info = action.schedule
    name = f"schedule {action.name}"
    if action.action == "delete" or info is None:
        return f"deleted {name} (the runs it started and its log are kept)"
    note = f" (note: {shorten(info.note, 80)})" if info.note else ""
    if action.action == "pause":
        return f"paused {name}{note}"
    upcoming = (
        "paused" if info.paused else f"next fire {zoned(info.next_fire_at, info.spec.timezone)}"
    )
    if action.action == "resume":
        return f"resumed {name}{note}; {upcoming}"
    args = f"({compact(info.args, 60)[1:-1]})" if info.args else "()"
    return f"created {name}: {info.workflow_type}{args}, {info.spec.describe()}; {upcoming}"


def render_schedule_runs(runs: ScheduleRuns) -> str:
    if runs.action == "trigger":
        (run,) = runs.runs
        return f"triggered schedule {runs.name}: workflow id {run.workflow_id}, run id {run.run_id}"
    head = (
        f"backfill of schedule {runs.name} from {slot_iso(runs.start or runs.runs[0].slot)} to "
        f"{slot_iso(runs.end or runs.runs[-1].slot)}: {len(runs.runs)} slot(s), each with its "
        "run (a slot that had a run keeps it)"
        if runs.runs
        else f"backfill of schedule {runs.name}: no slot in that window"
    )
    if not runs.runs:
        return head
    rows = [(slot_iso(r.slot), r.workflow_id, r.run_id) for r in runs.runs]
    return head + "\n" + table(["SLOT (UTC)", "WORKFLOW ID", "RUN ID"], rows, max_width=None)


def _preview_head(preview: SchedulePreview) -> str:
    what = f"schedule {preview.name}, " if preview.name else ""
    paused = " (paused)" if preview.paused else ""
    after = zoned(preview.after, preview.spec.timezone)
    n = len(preview.slots)
    return f"{what}{preview.spec.describe()}{paused}: {n} slot(s) after {after}"


def _preview_rows(preview: SchedulePreview) -> list[list[str]]:
    zone = preview.zone
    rows = []
    for i, slot in enumerate(preview.slots):
        row = [str(i + 1), slot.astimezone(zone).strftime(f"%a {_LOCAL}"), slot_iso(slot)]
        if preview.fires:
            row.append(utc(preview.fires[i]))
        rows.append(row)
    return rows


def _preview_headers(preview: SchedulePreview) -> list[str]:
    headers = ["#", f"SLOT ({preview.spec.timezone})", "UTC"]
    return headers + (["FIRES (UTC, with jitter)"] if preview.fires else [])


def render_preview(preview: SchedulePreview) -> str:
    """``harvest schedule preview``: the next slots, each in the schedule's zone and UTC."""
    body = table(
        _preview_headers(preview),
        _preview_rows(preview),
        max_width=None,
        empty="(no slot: the schedule has ended)",
    )
    return _preview_head(preview) + "\n" + body


def render_schedule_log(log: ScheduleLog) -> str:
    rows = [
        (e.at, e.action, slot_iso(e.slot) if e.slot else None, e.run_id, e.detail)
        for e in log.entries
    ]
    return table(
        ["AT", "ACTION", "SLOT (UTC)", "RUN ID", "DETAIL"],
        rows,
        max_width=[None, None, None, None, 80],
        empty=f"(nothing logged for schedule {log.name})",
    )


# ---------------------------------------------------------------------------------------
# HTML (the notebook)
# ---------------------------------------------------------------------------------------
def _cells(values: Sequence[Any]) -> list[str]:
    return [esc("-" if v is None else v) for v in values]


def schedules_html(listing: ScheduleList) -> str:
    rows = [
        [
            f"<code>{esc(s.name)}</code>",
            *_cells(
                [
                    s.workflow_type,
                    s.spec.describe(),
                    _status(s),
                    fmt_time(s.next_fire_at) if not s.paused else None,
                    s.runs_started,
                    s.consecutive_failures,
                ]
            ),
        ]
        for s in listing.schedules
    ]
    return html_table(
        ["NAME", "WORKFLOW", "WHEN", "STATUS", "NEXT FIRE", "RUNS", "FAILURES"],
        rows,
        empty="(no schedules)",
    )


def preview_html(preview: SchedulePreview) -> str:
    head = f"<div><strong>{esc(_preview_head(preview))}</strong></div>"
    rows = [_cells(r) for r in _preview_rows(preview)]
    body = html_table(_preview_headers(preview), rows, empty="(no slot: the schedule has ended)")
    return f'<div class="harvest-output">{head}{body}</div>'


def schedule_log_html(log: ScheduleLog) -> str:
    rows = [
        _cells([fmt_time(e.at), e.action, slot_iso(e.slot) if e.slot else None, e.run_id, e.detail])
        for e in log.entries
    ]
    return html_table(
        ["AT", "ACTION", "SLOT (UTC)", "RUN ID", "DETAIL"],
        rows,
        empty=f"(nothing logged for schedule {log.name})",
    )
