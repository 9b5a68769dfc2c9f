"""The ASGI application of ``harvest serve``: the API under ``/api/v1`` (OpenAPI at
``/api/v1/openapi.json``), health checks, and error handling."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from .._version import __version__
from .auth import services_of
from .errors import install_error_handlers
from .routes_dead_letters import router as dead_letters_router
from .routes_operations import router as operations_router
from .routes_runs import router as runs_router
from .services import services_for
from .streams import Feeds
from .streams import router as streams_router

DESCRIPTION = """\
Harvest Studio's HTTP API: the command layer of the `harvest` command line and the
`%harvest` magics, over HTTP. Every route but the health checks needs a bearer token from
`harvest token create --scope read|operate|admin`; every mutation is recorded in the audit
trail. Errors are `{"code", "message"}` with the command line's codes.
"""


def document_scopes(router: APIRouter) -> None:
    """Write each route's scope into its OpenAPI operation (``x-harvest-scope``, and
    ``x-harvest-per-namespace``: whether a token bound to a namespace may use it there)."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        for dependency in route.dependant.dependencies:
            scope = getattr(dependency.call, "scope", None)
            if scope is not None:
                route.openapi_extra = {
                    **(route.openapi_extra or {}),
                    "x-harvest-scope": scope,
                    "x-harvest-per-namespace": dependency.call.per_namespace,  # type: ignore[union-attr]
                }


def create_app(database_url: str | None = None) -> FastAPI:
    """The application serving the database at ``database_url`` (default: as the command
    line finds it)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with services_for(database_url) as services:
            app.state.services = services
            app.state.feeds = Feeds()
            yield

    app = FastAPI(
        title="Harvest Studio",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for router in (runs_router, streams_router, operations_router, dead_letters_router):
        document_scopes(router)
        app.include_router(router)

    @app.get("/healthz", tags=["health"], summary="The server is up (no database check)")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["health"], summary="The server can reach its database",
             responses={503: {"description": "the database cannot be reached"}})
    async def readyz(request: Request) -> Any:
        services = services_of(request)
        try:
            client = await services.client("default")
            await client.namespace_exists("default")
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "reason": " ".join(str(exc).split())},
                                status_code=503)
        return {"status": "ready"}

    return app
