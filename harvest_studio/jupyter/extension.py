"""The Jupyter server extension ``harvest_studio.jupyter``: the operations API and the Lab
extension's routes under ``<base_url>/harvest/``, behind Jupyter's own login, on the
database the notebooks use (``HARVEST_DATABASE_URL``, else the embedded server of the
project holding the Jupyter root)."""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_server.extension.application import ExtensionApp

from .bridge import AppUnavailableError, AsgiBridge

if TYPE_CHECKING:  # FastAPI, the API and the widgets load on the first request, not here:
    from fastapi import FastAPI  # every Jupyter server with the package pays this import

    from .explorers import Explorers

log = logging.getLogger("harvest_studio.jupyter")
RETRY_AFTER = 2.0
"""seconds a failed start is remembered (requests meanwhile get its 503 at once)"""


SWEEP_SECONDS = 30.0
"""how often the server looks for idle explorers"""


def lab_app(url: str, root_dir: Path) -> FastAPI:
    """The API of ``harvest serve`` with the Lab extension's routes beside it."""
    from ..api import create_app
    from .explorers import Explorers
    from .routes import router

    app = create_app(url)
    app.state.database_url = url
    app.state.root_dir = root_dir
    app.state.explorers = Explorers(url)
    app.include_router(router)
    return app


class LazyApp:
    """The application, made and started on the first request: the Jupyter server starts
    at once even when the database is slow to come up or down. While it cannot be
    reached, requests are answered 503 at once for :data:`RETRY_AFTER` seconds (one
    attempt at a time, not one per waiting request); then the next request tries again."""

    def __init__(self, root_dir: Path) -> None:
        self.root_dir = root_dir
        self._app: FastAPI | None = None
        self._lifespan: AbstractAsyncContextManager[Any] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._failure: tuple[float, str] | None = None
        self._closed = False

    async def ready(self) -> FastAPI:
        if self._app is not None:
            return self._app
        async with self._lock:
            if self._closed:
                raise AppUnavailableError("the Jupyter server is stopping")
            if self._app is None:
                if self._failure and time.monotonic() - self._failure[0] < RETRY_AFTER:
                    raise AppUnavailableError(self._failure[1])
                await self._start()
        assert self._app is not None
        return self._app

    async def _start(self) -> None:
        from ..store.connection import database_url

        try:
            url = await asyncio.to_thread(database_url, None, start=self.root_dir)
            app = lab_app(url, self.root_dir)
            lifespan = app.router.lifespan_context(app)
            await lifespan.__aenter__()
        except Exception as exc:
            message = "Harvest cannot reach its database: " + " ".join(str(exc).split())
            self._failure = (time.monotonic(), message)
            raise AppUnavailableError(message) from exc
        self._app, self._lifespan, self._failure = app, lifespan, None
        self._sweeper = asyncio.create_task(_sweep_forever(app.state.explorers))

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            app, lifespan, self._app, self._lifespan = self._app, self._lifespan, None, None
        if self._sweeper is not None:
            self._sweeper.cancel()
        if app is not None:
            await asyncio.to_thread(app.state.explorers.close)
        if lifespan is not None:
            await lifespan.__aexit__(None, None, None)


async def _sweep_forever(explorers: Explorers) -> None:
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        try:
            await asyncio.to_thread(explorers.sweep)
        except Exception:  # a widget that fails to close must not end the sweeping
            log.warning("closing idle explorers failed", exc_info=True)


class HarvestExtension(ExtensionApp):  # type: ignore[misc]
    """Loaded by Jupyter Server from ``jupyter_server_config.d/harvest_studio.jupyter.json``
    (installed with the package)."""

    name = "harvest_studio.jupyter"
    description = "Harvest Studio inside Jupyter: the operations API under /harvest/"
    load_other_extensions = True

    def initialize_settings(self) -> None:
        assert self.serverapp is not None
        root = Path(self.serverapp.root_dir).expanduser().resolve()
        self.settings["harvest_app"] = LazyApp(root)

    def initialize_handlers(self) -> None:
        self.handlers.append((r"/harvest/(.*)", AsgiBridge))

    async def stop_extension(self) -> None:
        await self.settings["harvest_app"].close()
