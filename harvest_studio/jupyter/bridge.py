"""Serve an ASGI application (the operations API) from Jupyter Server's Tornado, behind
Jupyter's own login.

Tornado hosts no ASGI application, and a proxy to a second server would lose Jupyter's user,
its XSRF check and the end of a closed event stream. So each request is handed over here:
the Tornado request becomes an ASGI ``http`` scope, the application's messages become
Tornado writes, flushed as they come for event streams, and a closed connection becomes
``http.disconnect``. The signed-in Jupyter user travels in the scope under
:data:`~harvest_studio.api.auth.JUPYTER_USER`, which no header can set.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from jupyter_server.base.handlers import JupyterHandler
from tornado.iostream import StreamClosedError

log = logging.getLogger("harvest_studio.jupyter")
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Message, Receive, Send], Awaitable[None]]
AUTH_RESOURCE = "harvest"
"""the resource Jupyter's authorizer is asked about (action ``read`` for GET, else
``write``)"""
HOP_BY_HOP = frozenset({b"content-length", b"transfer-encoding", b"connection"})
"""Tornado writes these itself"""


class AppUnavailableError(Exception):
    """The application could not be started (its database cannot be reached)."""


class AsgiBridge(JupyterHandler):  # type: ignore[misc]
    """Every method of every path under ``<base_url>/harvest/``, handed to the application
    that ``settings["harvest_app"]`` (a :class:`~harvest_studio.jupyter.extension.LazyApp`)
    holds."""

    _closed: asyncio.Event | None = None

    async def get(self, path: str) -> None:
        await self._forward()

    async def post(self, path: str) -> None:
        await self._forward()

    async def put(self, path: str) -> None:
        await self._forward()

    async def patch(self, path: str) -> None:
        await self._forward()

    async def delete(self, path: str) -> None:
        await self._forward()

    def on_connection_close(self) -> None:
        if self._closed is not None:
            self._closed.set()

    async def _forward(self) -> None:
        user = self.current_user
        if user is None:
            self._plain_error(403, "forbidden", "sign in to Jupyter first")
            return
        # Jupyter's authorizer has the last word (JupyterHub and collaboration set one up)
        action = "read" if self.request.method == "GET" else "write"
        allowed = self.authorizer.is_authorized(self, user, action, AUTH_RESOURCE)
        if inspect.isawaitable(allowed):  # an authorizer may answer asynchronously
            allowed = await allowed
        if not allowed:
            self._plain_error(403, "forbidden", f"Jupyter does not let {user.username} "
                                                f"{action} {AUTH_RESOURCE}")
            return
        self.settings["api_last_activity"] = datetime.now(UTC)
        try:
            app = await self.settings["harvest_app"].ready()
        except AppUnavailableError as exc:
            self._plain_error(503, "database_unavailable", str(exc))
            return
        # an Event, not a Future: a receive() cancelled while waiting must not cancel it
        self._closed = asyncio.Event()
        await _Exchange(self, app, self._scope(getattr(user, "username", str(user))),
                        self._closed).run()

    def _scope(self, username: str) -> Message:
        from ..api.auth import JUPYTER_USER  # (loaded with the application by now)

        request = self.request
        root = unquote(self.base_url.rstrip("/") + "/harvest")
        path = unquote(request.path)  # ASGI paths are decoded; raw_path keeps the bytes
        host, _, port = (request.host or "localhost").partition(":")
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": request.protocol,
            "path": path,
            "raw_path": request.path.encode("latin-1"),
            "root_path": root,
            "query_string": request.query.encode("latin-1"),
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1"))
                        for k, v in request.headers.get_all()],
            "client": (request.remote_ip or "", 0),
            "server": (host, int(port) if port.isdigit() else 80),
            JUPYTER_USER: username,
        }

    def _plain_error(self, status: int, code: str, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"code": code, "message": " ".join(message.split())}))


class _Exchange:
    """One request handed to the application and its answer written back."""

    def __init__(self, handler: AsgiBridge, app: AsgiApp, scope: Message,
                 closed: asyncio.Event) -> None:
        self.handler, self.app, self.scope, self.closed = handler, app, scope, closed
        self.body_sent = False
        self.started = False
        self.streaming = False
        self.finished = False

    async def run(self) -> None:
        try:
            await self.app(self.scope, self.receive, self.send)
        except Exception:
            log.exception("the Harvest API failed on %s %s", self.scope["method"],
                          self.scope["path"])
            if not self.started:
                self.handler._plain_error(500, "internal", "the Harvest API failed; "
                                          "the Jupyter server's log has the traceback")
            elif not self.finished:
                # half an answer must not look whole: drop the connection, no last chunk
                self.finished = True
                close = getattr(self.handler.request.connection, "close", None)
                if close is not None:
                    close()
            return
        if not self.finished and not self.closed.is_set():
            self.handler.finish()

    async def receive(self) -> Message:
        if not self.body_sent:
            self.body_sent = True
            return {"type": "http.request", "body": self.handler.request.body or b"",
                    "more_body": False}
        await self.closed.wait()  # nothing more to read: wait for the client to go away
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.closed.is_set() or self.finished:
            return
        handler = self.handler
        if message["type"] == "http.response.start":
            self.started = True
            handler.set_status(message["status"])
            seen: set[bytes] = set()
            for raw_name, raw_value in message.get("headers", []):
                name = bytes(raw_name).lower()
                if name in HOP_BY_HOP:
                    continue
                value = bytes(raw_value).decode("latin-1")
                if name == b"content-type" and value.startswith("text/event-stream"):
                    self.streaming = True
                # the application's first value replaces Tornado's default
                if name in seen:
                    handler.add_header(name.decode("latin-1"), value)
                else:
                    handler.set_header(name.decode("latin-1"), value)
                    seen.add(name)
            if self.streaming:
                await self._flush()
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            if body:
                handler.write(bytes(body))
            if message.get("more_body", False):
                await self._flush()
            else:
                self.finished = True
                handler.finish()

    async def _flush(self) -> None:
        try:
            await self.handler.flush()
        except StreamClosedError:
            self.closed.set()
