"""Schedules as values: when a schedule's slots fall (cron in an IANA timezone, or a fixed
interval from an anchor), the per-slot jitter, and which missed slots a catch-up policy
keeps. No I/O: the scheduler in every worker and ``harvest schedule preview`` both use it.

Cron expressions are read by ``cronsim`` (five fields; the ``@hourly``-style aliases are
mapped to five fields here). Its daylight-saving behaviour is Debian cron's: a slot in the
hour a spring-forward skips fires once, at the first valid instant after the gap (a
``0 2 * * *`` schedule in Europe/Berlin fires at 03:00 that day); a slot in the hour a
fall-back repeats fires once, at its first occurrence. Expressions with a wildcard hour
(``*/30 * * * *``) fire in both copies of a repeated hour, as wall-clock time passes twice.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import serde
from .durations import Duration, optional_seconds, to_seconds
from .errors import UsageError

OVERLAP_POLICIES = (
    "skip",
    "buffer_one",
    "buffer_all",
    "cancel_other",
    "terminate_other",
    "allow_all",
)
CATCHUP_POLICIES = ("skip_all", "most_recent", "all")  # plus "window:<duration>"
ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MAX_SLOTS = 1000
"""most slots one catch-up, backfill or preview produces"""
LATE_AFTER = 60.0
"""a slot more than this many seconds past is *missed* (downtime), not merely due"""


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")
PLACEHOLDERS = ("{slot}", "{slot_local}", "{slot_date}")


class ScheduleError(UsageError):
    """A schedule that cannot be: a bad cron expression, interval, timezone or policy."""

    code = "bad_schedule"


@dataclass(frozen=True)
class ScheduleSpec:
    """When a schedule fires: ``cron`` (in ``timezone``) or ``every`` seconds from
    ``anchor``; ``jitter`` delays each slot's start by a fixed per-slot amount below it;
    no slot before ``start_at`` or after ``end_at``."""

    cron: str | None = None
    every: float | None = None
    anchor: datetime | None = None
    timezone: str = "UTC"
    jitter: float = 0.0
    start_at: datetime | None = None
    end_at: datetime | None = None

    @classmethod
    def make(
        cls,
        *,
        cron: str | None = None,
        every: Duration | None = None,
        anchor: datetime | str | None = None,
        timezone: str | None = None,
        jitter: Duration | None = None,
        start_at: datetime | str | None = None,
        end_at: datetime | str | None = None,
    ) -> ScheduleSpec:
        """A checked spec; :class:`ScheduleError` names what is wrong."""
        if (cron is None) == (every is None):
            raise ScheduleError("give exactly one of cron= and every=")
        zone = timezone or "UTC"
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(f"unknown timezone {zone!r} (use an IANA name)") from None
        seconds = None
        if every is not None:
            seconds = to_seconds(every)
            if not math.isfinite(seconds) or seconds < 1:
                raise ScheduleError(f"every= must be at least 1 second, got {every!r}")
        spec = cls(
            cron=None if cron is None else _check_cron(cron),
            every=seconds,
            anchor=aware_moment(anchor, "anchor"),
            timezone=zone,
            jitter=optional_seconds(jitter) or 0.0,
            start_at=aware_moment(start_at, "start_at"),
            end_at=aware_moment(end_at, "end_at"),
        )
        if spec.start_at and spec.end_at and spec.end_at <= spec.start_at:
            raise ScheduleError("end_at must be after start_at")
        return spec

    def to_json(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return None if moment is None else moment.isoformat()

        return {
            "cron": self.cron,
            "every": self.every,
            "anchor": iso(self.anchor),
            "timezone": self.timezone,
            "jitter": self.jitter,
            "start_at": iso(self.start_at),
            "end_at": iso(self.end_at),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScheduleSpec:
        return cls.make(
            cron=data.get("cron"),
            every=data.get("every"),
            anchor=data.get("anchor"),
            timezone=data.get("timezone"),
            jitter=data.get("jitter") or None,
            start_at=data.get("start_at"),
            end_at=data.get("end_at"),
        )

    def describe(self) -> str:
        if self.cron is not None:
            return f"cron {self.cron} ({self.timezone})"
        return f"every {self.every:g} s"

    # -- slots -----------------------------------------------------------------------------
    def slots_after(self, moment: datetime) -> Iterator[datetime]:
        """Slot times (aware, UTC) strictly after ``moment``, in order, within
        ``start_at``..``end_at``."""
        moment = max(moment, self.start_at - timedelta(microseconds=1)) if self.start_at else moment
        for slot in self._raw_after(moment):
            if self.end_at is not None and slot > self.end_at:
                return
            yield slot

    def _raw_after(self, moment: datetime) -> Iterator[datetime]:
        if self.cron is not None:
            from cronsim import CronSim  # imported here: the model stays importable without it

            local = moment.astimezone(ZoneInfo(self.timezone))
            for slot in CronSim(self.cron, local):
                yield slot.astimezone(UTC)
            return
        assert self.every is not None
        anchor = self.anchor or self.start_at or datetime(2000, 1, 1, tzinfo=UTC)
        step = timedelta(seconds=self.every)
        index = math.floor((moment - anchor) / step) + 1
        while True:
            yield (anchor + index * step).astimezone(UTC)
            index += 1

    def slots_between(
        self, start: datetime, end: datetime, limit: int = MAX_SLOTS
    ) -> list[datetime]:
        """Slots in ``[start, end]`` (at most ``limit``)."""
        out: list[datetime] = []
        for slot in self.slots_after(start - timedelta(microseconds=1)):
            if slot > end or len(out) >= limit:
                break
            out.append(slot)
        return out

    def preview(self, after: datetime, count: int) -> list[datetime]:
        out: list[datetime] = []
        for slot in self.slots_after(after):
            out.append(slot)
            if len(out) >= count:
                break
        return out

    def fire_at(self, schedule: str, slot: datetime | None) -> datetime | None:
        """When ``slot`` fires: the slot plus its jitter (``None`` for no slot)."""
        if slot is None:
            return None
        return slot + timedelta(seconds=self.jitter_for(schedule, slot))

    def jitter_for(self, schedule: str, slot: datetime) -> float:
        """The fixed delay of one slot: the same on every worker, below ``jitter``."""
        if self.jitter <= 0:
            return 0.0
        digest = hashlib.sha256(f"{schedule}|{slot.isoformat()}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 * self.jitter


def slot_iso(slot: datetime) -> str:
    """A slot time as the schedule's runs carry it: ISO 8601 in UTC with a ``Z``."""
    return slot.astimezone(UTC).isoformat().replace("+00:00", "Z")


def slot_workflow_id(schedule: str, slot: datetime) -> str:
    """The workflow id of a slot's run: ``sched:{schedule}:{slot ISO UTC}``."""
    return f"sched:{schedule}:{slot_iso(slot)}"


def _check_cron(expression: str) -> str:
    from cronsim import CronSim, CronSimError

    text = ALIASES.get(expression.strip().lower(), expression.strip())
    try:
        CronSim(text, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        raise ScheduleError(f"bad cron expression {expression!r}: {exc}") from None
    return text


def aware_moment(value: datetime | str | None, what: str) -> datetime | None:
    """An aware datetime (in UTC) from a datetime or ISO string; :class:`ScheduleError`."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        moment = None
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ScheduleError(
            f"{what} must be a timezone-aware datetime or ISO string, got {value!r}"
        )
    return moment.astimezone(UTC)


def check_overlap(policy: str) -> str:
    if policy not in OVERLAP_POLICIES:
        raise ScheduleError(f"overlap must be one of {', '.join(OVERLAP_POLICIES)}, got {policy!r}")
    return policy


def check_catchup(policy: str) -> str:
    if policy in CATCHUP_POLICIES:
        return policy
    if policy.startswith("window:"):
        to_seconds(policy.removeprefix("window:"))
        return policy
    raise ScheduleError(
        f"catchup must be one of {', '.join(CATCHUP_POLICIES)} or window:<duration>, got {policy!r}"
    )


def kept_by_catchup(policy: str, slots: list[datetime], now: datetime) -> list[datetime]:
    """Of the due ``slots`` (in order), those a catch-up policy fires. A slot at most
    :data:`LATE_AFTER` seconds old is on time and always fires; the policy decides about
    older (missed) ones: ``skip_all`` none, ``most_recent`` the newest, ``all`` every one,
    ``window:<d>`` those within ``d`` of now."""
    late = [s for s in slots if (now - s).total_seconds() > LATE_AFTER]
    on_time = [s for s in slots if s not in late]
    if policy == "all":
        kept = late
    elif policy == "most_recent":
        kept = late[-1:] if not on_time else []
    elif policy.startswith("window:"):
        window = to_seconds(policy.removeprefix("window:"))
        kept = [s for s in late if (now - s).total_seconds() <= window]
    else:
        kept = []
    return kept + on_time


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ScheduleError(f"bad schedule name {name!r}: 1-100 letters, digits, '-_.'")
    return name


def check_count(value: int | None, what: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ScheduleError(f"{what} must be an int >= 1, got {value!r}")
    return value


@dataclass(frozen=True)
class ScheduleDeclaration:
    """A schedule as code declares it (``hs.Schedule(...)``, or ``@hs.dag(schedule=...)``):
    a worker that serves it creates or updates it when it starts."""

    name: str
    workflow_type: str
    args: tuple[Any, ...]
    spec: ScheduleSpec
    overlap: str = "skip"
    catchup: str = "most_recent"
    max_runs: int | None = None
    failure_limit: int | None = None

    def __post_init__(self) -> None:
        check_name(self.name)
        check_overlap(self.overlap)
        check_catchup(self.catchup)
        check_count(self.max_runs, "max_runs")
        check_count(self.failure_limit, "failure_limit")

    @classmethod
    def make(
        cls,
        name: str,
        workflow_type: str,
        args: Sequence[Any] = (),
        *,
        cron: str | None = None,
        every: Duration | None = None,
        anchor: datetime | str | None = None,
        timezone: str | None = None,
        jitter: Duration | None = None,
        start_at: datetime | str | None = None,
        end_at: datetime | str | None = None,
        overlap: str = "skip",
        catchup: str = "most_recent",
        max_runs: int | None = None,
        failure_limit: int | None = None,
    ) -> ScheduleDeclaration:
        """A checked declaration; :class:`ScheduleError` names what is wrong."""
        check_name(name)
        if not isinstance(workflow_type, str) or not workflow_type:
            raise ScheduleError(f"a schedule needs a workflow type, got {workflow_type!r}")
        spec = ScheduleSpec.make(
            cron=cron, every=every, anchor=anchor, timezone=timezone, jitter=jitter,
            start_at=start_at, end_at=end_at,
        )
        serde.dumps(list(args), what="schedule arguments")
        return cls(name, workflow_type, tuple(args), spec, overlap, catchup, max_runs,
                   failure_limit)

    def definition_fields(self) -> dict[str, Any]:
        """The columns that say what the schedule is (not where it stands)."""
        return {
            "workflow_type": self.workflow_type,
            "args": list(self.args),
            "spec": self.spec.to_json(),
            "overlap": self.overlap,
            "catchup": self.catchup,
            "max_runs": self.max_runs,
            "failure_limit": self.failure_limit,
        }

    def fresh_state(self, now: datetime) -> dict[str, Any]:
        """Where a new (or redefined) schedule starts: its first slot after ``now``."""
        first = next(iter(self.spec.slots_after(now)), None)
        return {
            "next_slot": first,
            "fire_at": self.spec.fire_at(self.name, first),
            "last_slot": None,
            "last_run_id": None,
            "counted_run_id": None,
            "runs_started": 0,
            "consecutive_failures": 0,
            "buffered": 0,
        }


def fill_placeholders(args: list[Any], slot: datetime, timezone: str) -> list[Any]:
    """A slot's run arguments: in string arguments, ``{slot}`` becomes the slot in ISO UTC,
    ``{slot_local}`` in ISO in the schedule's timezone, ``{slot_date}`` its local date."""
    local = slot.astimezone(ZoneInfo(timezone))
    values = {
        "{slot}": slot_iso(slot),
        "{slot_local}": local.isoformat(),
        "{slot_date}": local.date().isoformat(),
    }

    def fill(value: Any) -> Any:
        if not isinstance(value, str) or "{" not in value:
            return value
        for token, text in values.items():
            value = value.replace(token, text)
        return value

    return [fill(a) for a in args]
