"""Server-sent events: a run's new history events, and run status changes across a
namespace. Each run (and each namespace) has one poller however many subscribers it has,
so two hundred browsers on one busy run cost one query every quarter second."""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated

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
"""seconds between a feed's polls of the database"""
OVERLAP = timedelta(seconds=5)
"""a namespace feed looks back this far each poll: a run's created_at is its transaction's
start, which can be older than the moment it became visible"""
router = APIRouter(prefix="/api/v1", tags=["streams"], responses=ERROR_RESPONSES)


class RunFeed:
    """The events of one run, fetched by one poller and read by any number of subscribers
    (each with its own position in the list)."""

    def __init__(self, client: AsyncClient, run_id: str) -> None:
        self.client = client
        self.run_id = run_id
        self.events: list[HistoryEvent] = []
        self.status = "RUNNING"
        self.ended = False
        self.subscribers = 0
        self.changed = asyncio.Condition()
        self.task: asyncio.Task[None] | None = None

    async def poll(self) -> None:
        while self.subscribers > 0 and not self.ended:
            await self._fetch()
            if not self.ended:
                await asyncio.sleep(POLL)

    async def _fetch(self) -> None:
        progress = await self.client.run_progress(self.run_id)
        if progress is None:
            self.ended = True
        else:
            status, last_seq = progress
            seen = self.events[-1].seq if self.events else 0
            while seen < last_seq:
                page = await self.client.events_after(self.run_id, seen)
                if not page:
                    break
                self.events.extend(page)
                seen = page[-1].seq
            self.status = status
            self.ended = status in TERMINAL_STATUSES and seen >= last_seq
        async with self.changed:
            self.changed.notify_all()


class Feeds:
    """The live feeds of one server."""

    def __init__(self) -> None:
        self.runs: dict[str, RunFeed] = {}

    @contextlib.asynccontextmanager
    async def run(self, client: AsyncClient, run_id: str) -> AsyncIterator[RunFeed]:
        feed = self.runs.get(run_id)
        if feed is None or (feed.ended and feed.task is not None and feed.task.done()):
            feed = self.runs[run_id] = RunFeed(client, run_id)
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
    stream closes with ``event: end`` (the run's final status) once the run ended."""
    info = await session.call(commands.show, ref)
    position = after_seq
    if last_event_id is not None and last_event_id.isdigit():
        position = max(position, int(last_event_id))
    async with feeds_of(request).run(session.client, info.run_id) as feed:
        while True:
            fresh = [e for e in feed.events if e.seq > position]
            for event in fresh:
                yield ServerSentEvent(id=str(event.seq), event="history", data=to_json(event))
                position = event.seq
            if feed.ended and not any(e.seq > position for e in feed.events):
                yield ServerSentEvent(event="end", data={"status": feed.status})
                return
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
    """``event: run`` with the run's ids, type and status, each time a run starts or ends
    after the stream opened."""
    seen: OrderedDict[tuple[str, str], None] = OrderedDict()
    opened, _ = await session.client.run_changes(None)
    mark = opened
    while not await request.is_disconnected():
        now, rows = await session.client.run_changes(mark - OVERLAP)
        for row in rows:
            if workflow_type is not None and row["workflow_type"] != workflow_type:
                continue
            # a run that started and ended between two polls still shows both
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
                yield ServerSentEvent(event="run", data=to_json(data))
        mark = now
        await asyncio.sleep(POLL * 2)
