"""What the ``schedule`` commands return: frozen dataclasses, each with a ``to_json()``
method (the rest of the results are in :mod:`.results`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..client import ScheduleInfo, ScheduleLogEntry
from ..model.schedules import ScheduleSpec, slot_iso


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@dataclass(frozen=True)
class ScheduleList:
    """``schedule list``: every schedule of the namespace, by name."""

    schedules: list[ScheduleInfo]

    def to_json(self) -> dict[str, Any]:
        return {"schedules": [s.to_json() for s in self.schedules]}


@dataclass(frozen=True)
class ScheduleAction:
    """What ``create``, ``pause``, ``resume`` or ``delete`` did to a schedule; ``schedule``
    is how it stands now (None once deleted)."""

    action: str
    name: str
    schedule: ScheduleInfo | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "name": self.name,
            "schedule": None if self.schedule is None else self.schedule.to_json(),
        }


@dataclass(frozen=True)
class ScheduleRun:
    """One slot of a schedule and the run it has (workflow id ``sched:NAME:SLOT``)."""

    slot: datetime
    workflow_id: str
    run_id: str

    def to_json(self) -> dict[str, Any]:
        return {"slot": slot_iso(self.slot), "workflow_id": self.workflow_id, "run_id": self.run_id}


@dataclass(frozen=True)
class ScheduleRuns:
    """What ``trigger`` (one run, its slot now) or ``backfill`` (every slot from ``start``
    to ``end`` with its run; a slot that had one keeps it) started."""

    action: str
    name: str
    runs: list[ScheduleRun]
    start: datetime | None = None
    end: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"action": self.action, "name": self.name}
        if self.action == "backfill":
            data.update(start=_iso(self.start), end=_iso(self.end))
        data["runs"] = [r.to_json() for r in self.runs]
        return data


@dataclass(frozen=True)
class SchedulePreview:
    """``schedule preview``: the next ``slots`` of ``spec`` after ``after`` (aware, UTC).
    ``name`` is the saved schedule previewed (None: a spec not saved); ``fires`` when
    each slot fires with the schedule's jitter (empty without jitter)."""

    spec: ScheduleSpec
    after: datetime
    slots: list[datetime]
    name: str | None = None
    paused: bool = False
    fires: list[datetime] = field(default_factory=list)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.spec.timezone)

    def to_json(self) -> dict[str, Any]:
        rows = []
        for i, slot in enumerate(self.slots):
            row: dict[str, Any] = {
                "slot": slot_iso(slot),
                "local": slot.astimezone(self.zone).isoformat(),
            }
            if self.fires:
                row["fires_at"] = slot_iso(self.fires[i])
            rows.append(row)
        return {
            "name": self.name,
            "spec": self.spec.to_json(),
            "describe": self.spec.describe(),
            "timezone": self.spec.timezone,
            "after": _iso(self.after),
            "paused": self.paused,
            "slots": rows,
        }


@dataclass(frozen=True)
class ScheduleLog:
    """``schedule log``: a schedule's decisions, newest first."""

    name: str
    entries: list[ScheduleLogEntry]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "entries": [
                {
                    "at": _iso(e.at),
                    "action": e.action,
                    "slot": None if e.slot is None else slot_iso(e.slot),
                    "run_id": e.run_id,
                    "detail": e.detail,
                }
                for e in self.entries
            ],
        }
