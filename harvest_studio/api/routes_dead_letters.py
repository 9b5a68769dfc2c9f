"""``/api/v1/dlq``: dead letters — list, groups by fingerprint, one letter, and replay or
discard by ids or by filter (each bulk action is one audit row naming every id)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import Field

from .. import commands
from ..commands.render import to_json
from .auth import Operator, Reader
from .errors import ERROR_RESPONSES
from .models import Body

router = APIRouter(prefix="/api/v1/dlq", tags=["dead letters"], responses=ERROR_RESPONSES)
Json = dict[str, Any]
Kind = Literal["quarantined", "failed_run"]
Fingerprint = Annotated[str | None, Query(min_length=4, max_length=12, pattern="^[0-9a-f]+$")]
Name = Annotated[str | None, Query(min_length=1, max_length=200)]
Since = Annotated[str | None, Query(max_length=100, description="an age like 1d, or ISO")]


class Selection(Body):
    ids: list[Annotated[str, Field(min_length=4, max_length=500)]] = Field(
        default_factory=list, max_length=1000, description="dl-N or run-<run id>")
    fingerprint: str | None = Field(None, min_length=4, max_length=12, pattern="^[0-9a-f]+$")
    kind: Kind | None = None
    workflow_type: str | None = Field(None, min_length=1, max_length=200)
    type: str | None = Field(None, min_length=1, max_length=200)
    since: str | None = Field(None, max_length=100)
    all: bool = Field(False, description="every open dead letter")
    dry_run: bool = Field(False, description="only say which letters would be acted on")

    def where(self) -> commands.DlqFilter:
        return commands.DlqFilter(self.fingerprint, self.kind, self.workflow_type, self.type,
                                  self.since)


class Replay(Selection):
    note: str | None = Field(None, max_length=2000)


class Discard(Selection):
    reason: str = Field(min_length=1, max_length=2000)


def _where(fingerprint: str | None, kind: Kind | None, workflow_type: str | None,
           type: str | None, since: str | None) -> commands.DlqFilter:
    return commands.DlqFilter(fingerprint, kind, workflow_type, type, since)


@router.get("", summary="Open dead letters, newest first")
async def dead_letters(
    session: Reader, fingerprint: Fingerprint = None, kind: Kind | None = None,
    workflow_type: Name = None, type: Name = None, since: Since = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> Json:
    where = _where(fingerprint, kind, workflow_type, type, since)
    result: Json = to_json(await session.call(commands.dlq_list, where, limit=limit))
    return result


@router.get("/groups", summary="Open dead letters folded by error fingerprint")
async def dead_letter_groups(
    session: Reader, fingerprint: Fingerprint = None, kind: Kind | None = None,
    workflow_type: Name = None, type: Name = None, since: Since = None,
) -> Json:
    where = _where(fingerprint, kind, workflow_type, type, since)
    result: Json = to_json(await session.call(commands.dlq_group, where))
    return result


@router.get("/{letter_id}", summary="One dead letter: the error, its attempts, heartbeat")
async def dead_letter(
    session: Reader, letter_id: Annotated[str, Path(min_length=4, max_length=500)]
) -> Json:
    result: Json = to_json(await session.call(commands.dlq_show, letter_id))
    return result


@router.post("/replay", summary="Replay dead letters by ids or by filter")
async def replay(session: Operator, body: Replay) -> Json:
    result: Json = to_json(await session.call(
        commands.dlq_replay, body.ids, body.where(), everything=body.all, note=body.note,
        dry_run=body.dry_run,
    ))
    return result


@router.post("/discard", summary="Discard dead letters by ids or by filter, with a reason")
async def discard(session: Operator, body: Discard) -> Json:
    result: Json = to_json(await session.call(
        commands.dlq_discard, body.ids, body.where(), everything=body.all,
        reason=body.reason, dry_run=body.dry_run,
    ))
    return result
