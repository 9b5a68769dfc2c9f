"""What the API server holds while it runs: one client per namespace (sharing nothing but
the database URL), opened on first use of a namespace that exists."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..client import AsyncClient, Caller, TokenInfo, acting_as
from ..model.errors import NamespaceNotFoundError

T = TypeVar("T")
POOL_SIZE = 16
"""connections per namespace: enough for tens of concurrent requests"""


class Services:
    def __init__(self, url: str | None) -> None:
        self.url = url
        self._clients: dict[str, AsyncClient] = {}
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        await self.client("default")

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)

    async def client(self, namespace: str) -> AsyncClient:
        """The client of ``namespace``; :class:`NamespaceNotFoundError` for a namespace that
        does not exist (no pool is opened for it)."""
        found = self._clients.get(namespace)
        if found is not None:
            return found
        async with self._lock:
            found = self._clients.get(namespace)
            if found is not None:
                return found
            if namespace != "default":
                known = {n["name"] for n in await (await self.client("default")).list_namespaces()}
                if namespace not in known:
                    raise NamespaceNotFoundError(f"no namespace {namespace!r}")
            client = AsyncClient(
                self.url, namespace=namespace, actor="api", front_end="api",
                max_connections=POOL_SIZE,
            )
            await client.open()
            self._clients[namespace] = client
            return client


@dataclass(frozen=True)
class Session:
    """One authenticated request: its token, its namespace's client, and the caller the
    audit trail records its mutations for."""

    token: TokenInfo
    client: AsyncClient
    caller: Caller

    async def call(self, command: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Run a command of the command layer on this namespace, audited for this caller."""
        with acting_as(self.caller):
            return await command(self.client, *args, **kwargs)


@contextlib.asynccontextmanager
async def services_for(url: str | None) -> AsyncIterator[Services]:
    services = Services(url)
    try:
        await services.open()
        yield services
    finally:
        await services.close()
