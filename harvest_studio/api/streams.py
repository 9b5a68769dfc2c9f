"""Server-sent events: a run's new history events, and runs of a namespace starting and
ending. A run has one poller however many follow it, so two hundred browsers on one busy
run cost one query every quarter second; each follower reads from the poller's window of
recent events (one that is behind the window reads its backlog from the database first).
Each namespace stream polls on its own, every half second."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from .. import commands
from ..client import TERMINAL_STATUSES, AsyncClient
from ..commands.render import to_json
from ..model.events import HistoryEvent
from .auth import Reader
from .errors import ERROR_RESPONSES
from .routes_runs import Ref

POLL = 0.25
"""seconds between a run feed's polls of the database"""
WINDOW = 2000
"""recent events a run feed keeps for its followers"""
PAGE = 500
CHANGES_PAGE = 1000
log = logging.getLogger("harvest_studio.api")
router = APIRouter(prefix="/api/v1", tags=["streams"], responses=ERROR_RESPONSES)


class RunFeed:
    """The recent events of one run, fetched by one poller; ``base`` is the seq just
    before the first event kept (followers at or after it read from here)."""

    def __init__(self, client: AsyncClient, run_id: str, base: int) -> None:
        self.client = client
        self.run_id = run_id
        self.base = base
        self.events: list[ServerSentEvent] = []
        """each event encoded once, however many followers send it"""
        self.seqs: list[int] = []
        self.status = "RUNNING"
        self.ended = False
        self.error: str | None = None
        self.subscribers = 0
        self.changed = asyncio.Condition()
        self.task: asyncio.Task[None] | None = None

    @property
    def last_seq(self) -> int:
        return self.seqs[-1] if self.seqs else self.base

    def after(self, position: int) -> list[ServerSentEvent] | None:
        """The kept events after ``position``; None if ``position`` is before the window."""
        if position < self.base:
            return None
        return self.events[bisect.bisect_right(self.seqs, position):]

    async def poll(self) -> None:
        while self.subscribers > 0 and not self.ended:
            try:
                changed = await self._fetch()
            except Exception as exc:  # say so to the followers, then stop
                log.warning("event feed of run %s failed: %s", self.run_id, exc)
                self.error, self.ended, changed = f"{type(exc).__name__}: {exc}", True, True
            if changed:
                async with self.changed:
                    self.changed.notify_all()
            if not self.ended:
                await asyncio.sleep(POLL)

    async def _fetch(self) -> bool:
        progress = await self.client.run_progress(self.run_id)
        if progress is None:
            self.ended = True
            return True
        status, last_seq = progress
        grew = False
        while self.last_seq < last_seq:
            page = await self.client.events_after(self.run_id, self.last_seq, PAGE)
            if not page:
                break
            self.events.extend(encoded(e) for e in page)
            self.seqs.extend(e.seq for e in page)
            grew = True
        if len(self.events) > WINDOW:
            drop = len(self.events) - WINDOW
            self.base = self.seqs[drop - 1]
            del self.events[:drop], self.seqs[:drop]
        self.status = status
        ended = status in TERMINAL_STATUSES and self.last_seq >= last_seq
        grew |= ended and not self.ended
        self.ended = ended
        return grew


class Feeds:
    """The live run feeds of one server."""

    def __init__(self) -> None:
        self.runs: dict[str, RunFeed] = {}

    @contextlib.asynccontextmanager
    async def run(self, client: AsyncClient, run_id: str, position: int
                  ) -> AsyncIterator[RunFeed]:
        feed = self.runs.get(run_id)
        if feed is None or (feed.ended and (feed.task is None or feed.task.done())):
            feed = self.runs[run_id] = RunFeed(client, run_id, position)
        feed.subscribers += 1
        if feed.task is None or feed.task.done():
            feed.task = asyncio.create_task(feed.poll())
        try:
            yield feed
        finally:
            feed.subscribers -= 1
            if feed.subscribers == 0 and self.runs.get(run_id) is feed:
                del self.runs[run_id]


def feeds_of(request: Request) -> Feeds:
    feeds: Feeds = request.app.state.feeds
    return feeds


def encoded(event: HistoryEvent) -> ServerSentEvent:
    return ServerSentEvent(id=str(event.seq), event="history",
                           raw_data=json.dumps(to_json(event), separators=(",", ":")))


@router.get(
    "/runs/{ref}/events", response_class=EventSourceResponse,
    summary="A run's history as server-sent events (resume with Last-Event-ID)",
)
async def run_events(
    session: Reader,
    ref: Ref,
    request: Request,
    after_seq: Annotated[int, Query(ge=0, le=2**31)] = 0,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Each event is ``event: history`` with its seq as the id and the event as data; the
    stream closes with ``event: end`` (the run's final status) once the run ended, or
    ``event: error`` if the server could no longer read the run."""
    info = await session.call(commands.show, ref)
    position = after_seq
    if last_event_id is not None and last_event_id.isascii() and last_event_id.isdigit():
        position = max(position, int(last_event_id))
    async with feeds_of(request).run(session.client, info.run_id, position) as feed:
        while True:
            fresh = feed.after(position)
            if fresh is None:  # behind the feed's window: the backlog from the database
                page = await session.client.events_after(info.run_id, position, PAGE)
                fresh = [encoded(e) for e in page]
            for event in fresh:
                yield event
                position = int(event.id or 0)
            if feed.ended and position >= feed.last_seq:
                if feed.error is not None:
                    yield ServerSentEvent(event="error", data={"message": feed.error})
                else:
                    yield ServerSentEvent(event="end", data={"status": feed.status})
                return
            if fresh:
                continue
            async with feed.changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(feed.changed.wait(), timeout=15)
            if await request.is_disconnected():
                return


@router.get(
    "/stream/runs", response_class=EventSourceResponse,
    summary="Runs of the namespace starting and ending, as server-sent events",
)
async def run_changes(
    session: Reader,
    request: Request,
    workflow_type: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> AsyncIterator[ServerSentEvent]:
    """``event: run`` with the run's ids, type and status each time a run starts
    (``RUNNING``) or ends after the stream opened; a run that starts and ends between two
    polls shows both."""
    seen: OrderedDict[tuple[str, str], None] = OrderedDict()
    opened, _ = await session.client.run_changes(None)
    mark = opened
    while not await request.is_disconnected():
        since = mark
        while True:  # every change up to the watermark, a page at a time
            mark, rows = await session.client.run_changes(since)
            for event in _changes(rows, opened, workflow_type, seen):
                yield event
            if len(rows) < CHANGES_PAGE or rows[-1]["changed_at"] <= since:
                break
            since = rows[-1]["changed_at"]
        await asyncio.sleep(POLL * 2)


def _changes(rows: list[dict[str, Any]], opened: Any, workflow_type: str | None,
             seen: OrderedDict[tuple[str, str], None]) -> list[ServerSentEvent]:
    out = []
    for row in rows:
        if workflow_type is not None and row["workflow_type"] != workflow_type:
            continue
        changes = [("RUNNING", row["created_at"] >= opened)]
        if row["status"] != "RUNNING":
            changes.append((row["status"], row["changed_at"] >= opened))
        for status, fresh in changes:
            key = (row["run_id"], status)
            if not fresh or key in seen:
                continue
            seen[key] = None
            if len(seen) > 10_000:
                seen.popitem(last=False)
            data = {**row, "status": status}
            if status == "RUNNING":
                data["closed_at"] = None
                data["changed_at"] = row["created_at"]
            out.append(ServerSentEvent(event="run", data=to_json(data)))
    return out


FailedWithin = Annotated[
    float, Query(gt=0, le=366 * 86400, description="count runs failed in this many seconds")
]


@router.get("/run-counts", summary="Runs running, blocked, and failed lately")
async def run_counts(session: Reader, failed_within: FailedWithin = 86400.0) -> dict[str, Any]:
    """``running`` (not blocked), ``blocked`` (held back by non-determinism, quarantine or
    the like: they need a person) and ``failed`` in the last ``failed_within`` seconds."""
    return await session.client.run_counts(failed_within)


@router.get(
    "/stream/run-counts", response_class=EventSourceResponse,
    summary="Runs running, blocked, and failed lately, as server-sent events when they change",
)
async def run_count_changes(
    session: Reader, request: Request, failed_within: FailedWithin = 86400.0
) -> AsyncIterator[ServerSentEvent]:
    """``event: counts`` with the counts of ``GET /run-counts`` at once, then each time
    they change (checked every second)."""
    last: dict[str, int] | None = None
    while not await request.is_disconnected():
        counts = await session.client.run_counts(failed_within)
        if counts != last:
            last = counts
            yield ServerSentEvent(event="counts", data=counts)
        await asyncio.sleep(POLL * 4)
