"""What only JupyterLab's Harvest extension asks for, under ``/harvest/lab``: the widgets'
ES module and stylesheet, explorers hosted by the server (opened, streamed, messaged,
closed), and where the tour notebook is. Not part of the public API (no OpenAPI)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import shutil
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Request, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, Field

from .._version import __version__
from ..api.auth import NAMESPACE_PATTERN, Operator, Reader
from ..store.connection import describe_url
from ..studio.widgets.live import STATIC, front_end
from .explorers import Explorers, ServedExplorer

router = APIRouter(prefix="/lab", include_in_schema=False)
KEEPALIVE = 15.0
DASHBOARD_URL = "HARVEST_DASHBOARD_URL"
"""where `harvest serve`'s dashboard runs, for the palette's command that opens it"""
TOUR = "00_tour.ipynb"
TOUR_COPY = "harvest_tour.ipynb"


def _explorers(request: Request) -> Explorers:
    explorers: Explorers = request.app.state.explorers
    return explorers


def _explorer(request: Request, key: Annotated[str, Path(max_length=100)]) -> ServedExplorer:
    """The explorer of the path (a dependency: a missing one is a 404 before any stream
    starts)."""
    found = _explorers(request).get(key)
    if found is None:
        raise HTTPException(404, "no such explorer (closed after a while unseen): "
                                 "open the run again")
    return found


Explorer = Annotated[ServedExplorer, Depends(_explorer)]


@router.get("/info")
async def info(request: Request, session: Reader) -> dict[str, Any]:
    """The server side as the extension sees it: versions, database, who is signed in,
    the dashboard to open (``HARVEST_DASHBOARD_URL``), and the explorers held open."""
    explorers = _explorers(request)
    return {"version": __version__, "database": describe_url(request.app.state.database_url),
            "user": session.caller.actor,
            "dashboard": os.environ.get(DASHBOARD_URL) or None,
            "explorers": explorers.count(), "listeners": explorers.listener_count()}


@router.get("/widget.js")
async def widget_module() -> Response:
    return Response(front_end(), media_type="text/javascript",
                    headers={"Cache-Control": "no-cache"})


@router.get("/widget.css")
async def widget_styles() -> Response:
    return Response((STATIC / "explorer.css").read_text(), media_type="text/css",
                    headers={"Cache-Control": "no-cache"})


class ExplorerRequest(BaseModel):
    run: str = Field(min_length=1, max_length=200, description="a run id or workflow id")
    namespace: str = Field("default", pattern=NAMESPACE_PATTERN)


@router.post("/explorers")
async def open_explorer(request: Request, body: ExplorerRequest, session: Operator
                        ) -> dict[str, Any]:
    """An explorer of the run, live while it runs: its key and its whole state."""
    served = await _explorers(request).open(body.run, body.namespace, session.caller.actor)
    return {"key": served.key, "state": await asyncio.to_thread(served.state)}


@router.get("/explorers/{key}/stream", response_class=EventSourceResponse)
async def explorer_stream(request: Request, served: Explorer, session: Reader
                          ) -> AsyncIterator[ServerSentEvent]:
    """``state`` (synced values that changed) and ``msg`` (the widget's messages), as a
    kernel's comm would carry them; the whole state first. ``resync``: this listener fell
    too far behind and should connect again."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    served.listeners.add(queue)
    try:
        state = await asyncio.to_thread(served.state)
        yield ServerSentEvent(event="state", data={"kind": "state", "state": state})
        while not await request.is_disconnected():
            try:
                frame = await asyncio.wait_for(queue.get(), KEEPALIVE)
            except TimeoutError:
                yield ServerSentEvent(comment="keepalive")
                continue
            yield ServerSentEvent(event=frame["kind"], data=frame)
    finally:
        served.listeners.discard(queue)
        served.idle_since = time.monotonic()


@router.post("/explorers/{key}/messages", status_code=204)
async def explorer_message(served: Explorer, session: Operator,
                           data: Annotated[dict[str, Any], Body()]) -> Response:
    """A comm message of the document: ``{"method": "update", "state": {...}}`` or
    ``{"method": "custom", "content": {...}}``."""
    if data.get("method") not in ("update", "custom"):
        raise HTTPException(422, "method must be 'update' or 'custom'")
    await asyncio.to_thread(served.receive, data)
    return Response(status_code=204)


@router.delete("/explorers/{key}", status_code=204)
async def close_explorer(request: Request, key: Annotated[str, Path(max_length=100)],
                         session: Reader) -> Response:
    await asyncio.to_thread(_explorers(request).discard, key)
    return Response(status_code=204)


@router.get("/tour")
async def tour(request: Request, session: Reader) -> dict[str, str]:
    """The tour notebook's path under the Jupyter root: the project's own, else a copy
    made there once (the user's edits to it are kept)."""
    root: pathlib.Path = request.app.state.root_dir
    for candidate in (root / "notebooks" / TOUR, root / TOUR, root / TOUR_COPY):
        if candidate.is_file():
            return {"path": candidate.relative_to(root).as_posix()}
    source = packaged_tour()
    if source is None:
        raise HTTPException(404, "this installation has no tour notebook")
    with contextlib.suppress(FileExistsError), (root / TOUR_COPY).open("xb") as out, \
            source.open("rb") as src:
        shutil.copyfileobj(src, out)
    return {"path": TOUR_COPY}


def packaged_tour() -> pathlib.Path | None:
    """The tour shipped in the wheel, or the repository's own in a source checkout."""
    here = pathlib.Path(__file__).parent
    for candidate in (here / TOUR, here.parent.parent / "notebooks" / TOUR):
        if candidate.is_file():
            return candidate
    return None
