"""Who a dashboard page acts for. A middleware authenticates the HttpOnly cookie while the
page's HTTP request is served (before Panel builds the page, in the same task), so the
token never has to reach the browser's scripts: Bokeh's session token, which does, is told
to leave that cookie out."""

from __future__ import annotations

import contextvars
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..api.auth import COOKIE, NAMESPACE_PATTERN, services_of
from ..api.services import Services
from ..client import AsyncClient, Caller, TokenInfo, acting_as
from ..model.errors import HarvestError, UsageError

T = TypeVar("T")
RECHECK = 60.0
"""seconds an open page reads on before it checks its token again"""
PAGES = ("runs", "run", "workers", "dlq", "schedules", "dags", "audit")
_PAGE_PATH = re.compile(r"^/ui/(" + "|".join(PAGES) + r")/?$")


@dataclass
class Viewer:
    """The person behind one dashboard page: their token (the secret stays on the server,
    to check again before each change), the namespace, and the client of it."""

    token: TokenInfo
    secret: str
    namespace: str
    services: Services
    checked_at: float = field(default_factory=time.monotonic)

    @property
    def can_operate(self) -> bool:
        return self.token.allows("operate", self.namespace)

    async def client(self) -> AsyncClient:
        return await self.services.client(self.namespace)

    async def read(self, command: Callable[..., Awaitable[T]], *args: Any, **kw: Any) -> T:
        """Run a reading command; an open page notices a revoked token within a minute."""
        if time.monotonic() - self.checked_at > RECHECK:
            default = await self.services.client("default")
            if await default.authenticate(self.secret) is None:
                raise UsageError("your token was revoked; log in again")
            self.checked_at = time.monotonic()
        return await command(await self.client(), *args, **kw)

    async def change(self, command: Callable[..., Awaitable[T]], *args: Any,
                     scope: str = "operate", **kw: Any) -> T:
        """Run a mutating command for this viewer, audited with front end ``ui``; the token
        is checked again first (it may have been revoked since the page opened)."""
        default = await self.services.client("default")
        token = await default.authenticate(self.secret)
        if token is None:
            raise UsageError("your token was revoked; log in again")
        if not token.allows(scope, self.namespace):
            raise UsageError(f"token {token.name!r} ({token.scope}) may not do this: it "
                             f"needs {scope}")
        caller = Caller(f"token:{token.name}", "ui", uuid.uuid4().hex)
        with acting_as(caller):
            return await command(await self.client(), *args, **kw)


_viewer: contextvars.ContextVar[Viewer | None] = contextvars.ContextVar(
    "harvest_dashboard_viewer", default=None)


def current_viewer() -> Viewer | None:
    """The viewer of the page being built now (None outside a page request)."""
    return _viewer.get()


class Identify:
    """ASGI middleware: a dashboard page is served only to a live token (else to the
    login), and the page is built knowing who views it. Every other request passes
    straight through (a plain ASGI wrapper: the API pays nothing for the dashboard)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope.get("method") != "GET"
                or not _PAGE_PATH.match(scope.get("path", ""))):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        viewer = await _viewer_of(request)
        if viewer is None:
            await RedirectResponse("/ui/login", status_code=303)(scope, receive, send)
            return
        marker = _viewer.set(viewer)
        try:
            await self.app(scope, receive, send)
        finally:
            _viewer.reset(marker)


async def _viewer_of(request: Request) -> Viewer | None:
    secret = request.cookies.get(COOKIE, "")
    namespace = request.query_params.get("namespace", "default")
    if not secret or not re.match(NAMESPACE_PATTERN, namespace):
        return None
    services = services_of(request)
    try:
        token = await (await services.client("default")).authenticate(secret)
    except HarvestError:
        return None
    if token is None or not token.allows("read", namespace):
        return None
    return Viewer(token, secret, namespace, services)
