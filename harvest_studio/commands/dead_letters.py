"""``dlq list|show|group|replay|discard``: dead letters, one at a time or in bulk by
filter (a fingerprint, a kind, a type, an age)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..client import DLQ_KINDS, AsyncClient, DeadLetter, DlqOutcome
from ..model.errors import UsageError
from ..model.limits import check_name
from .inputs import parse_time

SEARCHED = 10_000
"""the newest open letters a filter looks through"""
CHUNK = 1000
"""letters per replay or discard call (each one audit row naming its letters)"""


@dataclass(frozen=True)
class DlqFilter:
    """Which dead letters a bulk action takes: all of these that are given must match."""

    fingerprint: str | None = None
    kind: str | None = None
    workflow_type: str | None = None
    type_name: str | None = None
    since: datetime | str | None = None

    def given(self) -> bool:
        return any(v is not None for v in self.__dict__.values())

    def matches(self, letter: DeadLetter) -> bool:
        return self.fingerprint is None or letter.fingerprint.key.startswith(self.fingerprint)


@dataclass(frozen=True)
class DlqList:
    letters: list[DeadLetter]

    def to_json(self) -> dict[str, Any]:
        return {"dead_letters": [d.to_json() for d in self.letters]}


@dataclass(frozen=True)
class DlqDetail:
    letter: DeadLetter
    attempts: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        attempts = [{**a, "at": a["at"].isoformat()} for a in self.attempts]
        return {"dead_letter": self.letter.to_json(), "attempts": attempts}


@dataclass(frozen=True)
class DlqGroup:
    """Dead letters with one fingerprint: how many, since when, a sample."""

    key: str
    type: str
    message: str
    frame: str | None
    count: int
    first: datetime
    last: datetime
    kinds: list[str]
    workflow_types: list[str]
    sample: DeadLetter
    ids: list[str] = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "fingerprint": self.key, "type": self.type, "message": self.message,
            "frame": self.frame, "count": self.count, "first": self.first.isoformat(),
            "last": self.last.isoformat(), "kinds": self.kinds,
            "workflow_types": self.workflow_types, "sample": self.sample.to_json(),
            "ids": self.ids,
        }


@dataclass(frozen=True)
class DlqGroups:
    groups: list[DlqGroup]

    def to_json(self) -> dict[str, Any]:
        return {"groups": [g.to_json() for g in self.groups]}


@dataclass(frozen=True)
class DlqAction:
    """What ``replay`` / ``discard`` did (or, with ``dry_run``, would do: ``selected``)."""

    outcome: DlqOutcome | None
    selected: list[str]
    dry_run: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run, "selected": self.selected,
            "outcome": None if self.outcome is None else self.outcome.to_json(),
        }


async def _letters(client: AsyncClient, where: DlqFilter) -> list[DeadLetter]:
    if where.kind is not None and where.kind not in DLQ_KINDS:
        raise UsageError(f"unknown kind {where.kind!r}; use one of {', '.join(DLQ_KINDS)}")
    if where.fingerprint is not None and not (
        4 <= len(where.fingerprint) <= 12 and all(c in "0123456789abcdef"
                                                  for c in where.fingerprint)
    ):
        raise UsageError("a fingerprint is 4..12 hex digits (see `dlq group`)")
    check_name("a workflow type", where.workflow_type, optional=True)
    check_name("an activity or workflow type", where.type_name, optional=True)
    since = None if where.since is None else parse_time(where.since)
    letters = await client.dead_letters(
        kind=where.kind, workflow_type=where.workflow_type, type_name=where.type_name,
        since=since, limit=SEARCHED,
    )
    return [d for d in letters if where.matches(d)]


async def dlq_list(client: AsyncClient, where: DlqFilter = DlqFilter(),
                   *, limit: int = 100) -> DlqList:
    """Open dead letters, newest first."""
    if not 1 <= limit <= 10_000:
        raise UsageError("limit must be 1..10000")
    return DlqList((await _letters(client, where))[:limit])


async def dlq_show(client: AsyncClient, letter_id: str) -> DlqDetail:
    letter, attempts = await client.dead_letter(letter_id)
    return DlqDetail(letter, attempts)


async def dlq_group(client: AsyncClient, where: DlqFilter = DlqFilter()) -> DlqGroups:
    """Open dead letters folded by fingerprint, the biggest group first."""
    groups: dict[str, list[DeadLetter]] = {}
    for letter in await _letters(client, where):
        groups.setdefault(letter.fingerprint.key, []).append(letter)
    folded = []
    for key, members in groups.items():
        print_ = members[0].fingerprint
        folded.append(DlqGroup(
            key=key, type=print_.type, message=print_.message, frame=print_.frame,
            count=len(members), first=min(m.created_at for m in members),
            last=max(m.created_at for m in members),
            kinds=sorted({m.kind for m in members}),
            workflow_types=sorted({m.workflow_type for m in members}),
            sample=members[0], ids=[m.id for m in members],
        ))
    folded.sort(key=lambda g: (-g.count, g.key))
    return DlqGroups(folded)


async def _select(client: AsyncClient, ids: Sequence[str], where: DlqFilter,
                  everything: bool) -> list[str]:
    if ids and where.given():
        raise UsageError("give dead letter ids or a filter, not both")
    if ids:
        return list(ids)
    if not where.given() and not everything:
        raise UsageError("name dead letters (ids), a filter (--fingerprint, --kind, --type, "
                         "--workflow-type, --since), or --all")
    selected = [d.id for d in await _letters(client, where)]
    if not selected:
        raise UsageError("no open dead letter matches")
    return selected


async def dlq_replay(
    client: AsyncClient, ids: Sequence[str] = (), where: DlqFilter = DlqFilter(), *,
    everything: bool = False, note: str | None = None, dry_run: bool = False,
) -> DlqAction:
    """Replay dead letters by id or by filter (one audit row names every id it touched)."""
    selected = await _select(client, ids, where, everything)
    if dry_run:
        return DlqAction(None, selected, True)
    parts = [await client.replay_dead_letters(selected[i:i + CHUNK], note=note)
             for i in range(0, len(selected), CHUNK)]
    return DlqAction(_merged(parts), selected, False)


async def dlq_discard(
    client: AsyncClient, ids: Sequence[str] = (), where: DlqFilter = DlqFilter(), *,
    everything: bool = False, reason: str | None = None, dry_run: bool = False,
) -> DlqAction:
    """Discard dead letters by id or by filter, with a reason."""
    if not reason or not reason.strip():
        raise UsageError("discarding needs a reason (--reason)")
    selected = await _select(client, ids, where, everything)
    if dry_run:
        return DlqAction(None, selected, True)
    parts = [await client.discard_dead_letters(selected[i:i + CHUNK], reason=reason)
             for i in range(0, len(selected), CHUNK)]
    return DlqAction(_merged(parts), selected, False)


def _merged(parts: list[DlqOutcome]) -> DlqOutcome:
    merged = DlqOutcome(parts[0].action, [], {}, [])
    for part in parts:
        merged.done.extend(part.done)
        merged.new_runs.update(part.new_runs)
        merged.skipped.extend(part.skipped)
        merged.failed.update(part.failed)
    return merged
