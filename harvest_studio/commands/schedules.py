"""``schedule create|list|show|preview|pause|resume|trigger|backfill|delete|log``: when to
start runs of a workflow or DAG. Workers' schedulers start them; these commands set them
up, look at them and start slots by hand.

Options arrive as typed text (a cron expression, ``"15m"``, ISO times, JSON arguments);
:func:`check_schedule` and :func:`check_preview` check them before anything touches the
database, and ``schedule preview`` of a spec that is not saved never touches it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ..client import AsyncClient, AsyncRunHandle, ScheduleInfo
from ..model.definitions import WorkflowDefinition
from ..model.errors import UsageError
from ..model.schedules import (
    MAX_SLOTS,
    ScheduleError,
    ScheduleSpec,
    check_catchup,
    check_overlap,
)
from .errors import BadTimeError
from .inputs import parse_json_args
from .schedule_results import (
    ScheduleAction,
    ScheduleList,
    ScheduleLog,
    SchedulePreview,
    ScheduleRun,
    ScheduleRuns,
)

# the client's rule for a schedule's name (``create_schedule`` checks it again)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")
PREVIEW_COUNT = 5


def parse_moment(text: datetime | str | None, what: str) -> datetime | None:
    """An aware datetime (UTC) from ISO-8601 text; naive text is local time. ``None``
    stays ``None``."""
    if text is None:
        return None
    if isinstance(text, datetime):
        moment = text
    else:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise BadTimeError(
                f"{what} must be an ISO-8601 time like 2026-03-27T12:00:00+01:00, got {text!r}"
            ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.astimezone(UTC)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ScheduleError(f"bad schedule name {name!r}: 1-100 letters, digits, '-_.'")
    return name


def _count(count: int, what: str = "--count") -> int:
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_SLOTS:
        raise UsageError(f"{what} must be between 1 and {MAX_SLOTS}, got {count!r}")
    return count


def check_schedule(
    name: str,
    workflow: WorkflowDefinition | str,
    args: Sequence[str] = (),
    *,
    cron: str | None = None,
    every: str | float | None = None,
    timezone: str | None = None,
    overlap: str = "skip",
    catchup: str = "most_recent",
    jitter: str | float | None = None,
    start_at: datetime | str | None = None,
    end_at: datetime | str | None = None,
    max_runs: int | None = None,
    failure_limit: int | None = None,
) -> dict[str, Any]:
    """Check a ``schedule create`` before the database is touched; returns the keyword
    arguments of :meth:`~harvest_studio.AsyncClient.create_schedule` (``args`` parsed
    from JSON, times as aware datetimes)."""
    check_name(name)
    if not workflow:
        raise UsageError("a schedule needs a workflow (--workflow W)")
    values = parse_json_args(args)
    fields: dict[str, Any] = {
        "cron": cron,
        "every": every,
        "timezone": timezone,
        "jitter": jitter,
        "start_at": parse_moment(start_at, "--start-at"),
        "end_at": parse_moment(end_at, "--end-at"),
    }
    ScheduleSpec.make(**fields)
    check_overlap(overlap)
    check_catchup(catchup)
    for value, what in ((max_runs, "--max-runs"), (failure_limit, "--failure-limit")):
        if value is not None and (isinstance(value, bool) or value < 1):
            raise ScheduleError(f"{what} must be an integer >= 1, got {value!r}")
    if isinstance(workflow, WorkflowDefinition):
        workflow.check_args(values)
    return {
        **fields,
        "name": name,
        "workflow": workflow,
        "args": values,
        "overlap": overlap,
        "catchup": catchup,
        "max_runs": max_runs,
        "failure_limit": failure_limit,
    }


async def schedule_create(
    client: AsyncClient,
    name: str,
    workflow: WorkflowDefinition | str,
    args: Sequence[str] = (),
    *,
    paused: bool = False,
    note: str | None = None,
    replace: bool = False,
    **options: Any,
) -> ScheduleAction:
    """Create (``replace``: or overwrite) the schedule ``name`` starting runs of
    ``workflow(*args)``; ``options`` are those of :func:`check_schedule`."""
    fields = check_schedule(name, workflow, args, **options)
    values = fields.pop("args")
    info = await client.create_schedule(
        fields.pop("name"),
        fields.pop("workflow"),
        *values,
        paused=paused,
        note=note,
        replace=replace,
        **fields,
    )
    return ScheduleAction("create", name, info)


async def schedule_list(client: AsyncClient) -> ScheduleList:
    return ScheduleList(await client.schedules())


async def schedule_show(client: AsyncClient, name: str) -> ScheduleInfo:
    return await client.describe_schedule(check_name(name))


async def schedule_pause(client: AsyncClient, name: str, note: str | None = None) -> ScheduleAction:
    """Stop starting runs (slots that pass meanwhile are not caught up on resume)."""
    return ScheduleAction("pause", name, await client.pause_schedule(check_name(name), note))


async def schedule_resume(
    client: AsyncClient, name: str, note: str | None = None
) -> ScheduleAction:
    """Start runs again from the next slot after now."""
    return ScheduleAction("resume", name, await client.resume_schedule(check_name(name), note))


async def schedule_delete(client: AsyncClient, name: str) -> ScheduleAction:
    """Delete a schedule; the runs it started and its log are kept."""
    if not await client.delete_schedule(check_name(name)):
        raise UsageError(f"no schedule {name!r} in namespace {client.namespace!r}")
    return ScheduleAction("delete", name)


def _slot_run(name: str, handle: AsyncRunHandle) -> ScheduleRun:
    # the workflow id of a slot's run is sched:{name}:{slot, ISO UTC}
    slot = datetime.fromisoformat(handle.workflow_id.removeprefix(f"sched:{name}:"))
    return ScheduleRun(slot, handle.workflow_id, handle.run_id or "")


async def schedule_trigger(client: AsyncClient, name: str) -> ScheduleRuns:
    """Start a run of the schedule now, whatever its overlap policy."""
    handle = await client.trigger_schedule(check_name(name))
    return ScheduleRuns("trigger", name, [_slot_run(name, handle)])


def check_backfill(start: datetime | str, end: datetime | str) -> tuple[datetime, datetime]:
    begin = parse_moment(start, "--from")
    finish = parse_moment(end, "--to")
    assert begin is not None and finish is not None
    if finish < begin:
        raise ScheduleError("a backfill's --to must not be before its --from")
    return begin, finish


async def schedule_backfill(
    client: AsyncClient, name: str, start: datetime | str, end: datetime | str
) -> ScheduleRuns:
    """Start the run of every slot from ``start`` to ``end`` that has none (at most 1000
    slots); a second backfill of the same window starts nothing new."""
    begin, finish = check_backfill(start, end)
    handles = await client.backfill_schedule(check_name(name), begin, finish)
    runs = [_slot_run(name, h) for h in handles]
    return ScheduleRuns("backfill", name, runs, begin, finish)


async def schedule_log(client: AsyncClient, name: str, limit: int = 50) -> ScheduleLog:
    """The schedule's decisions, newest first (kept after it is deleted)."""
    _count(limit, "--limit")
    return ScheduleLog(name, await client.schedule_log(check_name(name), limit))


# ---------------------------------------------------------------------------------------
# preview
# ---------------------------------------------------------------------------------------
def check_preview(
    name: str | None = None,
    *,
    cron: str | None = None,
    every: str | float | None = None,
    timezone: str | None = None,
    after: datetime | str | None = None,
    count: int = PREVIEW_COUNT,
) -> datetime | None:
    """Check a ``schedule preview`` (a saved NAME, or ``--cron`` / ``--every``); returns
    ``--from`` as an aware datetime."""
    given = [w for w, v in (("NAME", name), ("--cron", cron), ("--every", every)) if v]
    if len(given) != 1:
        raise UsageError(
            "give one of NAME, --cron EXPR or --every DURATION"
            + (f", not {' and '.join(given)}" if given else "")
        )
    if name and timezone is not None:
        raise UsageError("--timezone goes with --cron or --every; a saved schedule has its own")
    if name:
        check_name(name)
    _count(count)
    return parse_moment(after, "--from")


def preview_spec(
    *,
    cron: str | None = None,
    every: str | float | None = None,
    timezone: str | None = None,
    after: datetime | str | None = None,
    count: int = PREVIEW_COUNT,
) -> SchedulePreview:
    """The next ``count`` slots of a spec that is not saved, after ``after`` (default now).
    Touches no database."""
    moment = check_preview(cron=cron, every=every, timezone=timezone, after=after, count=count)
    spec = ScheduleSpec.make(cron=cron, every=every, timezone=timezone)
    start = moment or datetime.now(UTC)
    return SchedulePreview(spec, start, spec.preview(start, count))


async def schedule_preview(
    client: AsyncClient,
    name: str,
    *,
    after: datetime | str | None = None,
    count: int = PREVIEW_COUNT,
) -> SchedulePreview:
    """The next ``count`` slots of the saved schedule ``name``: from its next slot, or
    after ``after``."""
    moment = check_preview(name, after=after, count=count)
    info = await client.describe_schedule(name)
    spec = info.spec
    start = moment or _before_next_slot(info)
    slots = spec.preview(start, count)
    fires = [spec.fire_at(name, s) or s for s in slots] if spec.jitter > 0 else []
    return SchedulePreview(spec, start, slots, name, info.paused, fires)


def _before_next_slot(info: ScheduleInfo) -> datetime:
    """Just before the schedule's next slot (its next firing less its jitter); now when
    paused (resuming starts from the next slot after now) or when none is known."""
    now = datetime.now(UTC)
    fire = info.next_fire_at
    if info.paused or fire is None:
        return now
    spec, tick = info.spec, timedelta(microseconds=1)
    for slot in spec.slots_after(fire - timedelta(seconds=spec.jitter) - tick):
        if slot > fire:
            break
        if spec.fire_at(info.name, slot) == fire:
            return slot - tick
    return now
