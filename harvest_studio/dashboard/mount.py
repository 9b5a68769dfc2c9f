"""Putting the dashboard into the API's application: the login routes, the middleware that
tells each page who views it, and the Panel pages under ``/ui``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from ..api.auth import COOKIE
from .identity import Identify
from .login import CSRF_COOKIE
from .login import router as login_router

TITLE = "Harvest Studio"


def mount_dashboard(app: FastAPI) -> None:
    """Serve the dashboard from ``app`` under ``/ui`` (Panel is imported here: the
    ``dashboard`` extra)."""
    import panel as pn
    from panel.io.fastapi import add_applications

    from .ops_pages import audit_page, dags_page, dlq_page, schedules_page, workers_page
    from .runs_pages import run_page, runs_page

    pn.config.design = None  # plain pages: no design system fetching web fonts
    app.include_router(login_router)
    app.add_middleware(Identify)
    pages: dict[str, Any] = {
        "/ui/runs": runs_page, "/ui/run": run_page, "/ui/workers": workers_page,
        "/ui/dlq": dlq_page, "/ui/schedules": schedules_page, "/ui/dags": dags_page,
        "/ui/audit": audit_page,
    }
    # the API token stays an HttpOnly cookie: never copied into Bokeh's session token,
    # which the page's scripts can read
    add_applications(pages, app=app, title=TITLE, exclude_cookies=[COOKIE, CSRF_COOKIE])
    for route in app.routes:  # the pages and their assets are not part of the API
        if isinstance(route, APIRoute) and not route.path.startswith(("/api/", "/healthz",
                                                                      "/readyz")):
            route.include_in_schema = False
    app.openapi_schema = None
