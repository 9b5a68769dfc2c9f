"""What the API server holds while it runs: one client per namespace (sharing nothing but
the database URL), opened on first use of a namespace that exists."""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..client import AsyncClient, Caller, TokenInfo, acting_as
from ..model.errors import NamespaceNotFoundError

T = TypeVar("T")
POOL_SIZE = 10
"""connections per namespace: enough for tens of concurrent requests"""
MAX_OPEN_NAMESPACES = 8
"""namespaces with an open pool at once; the least recently used one closes to make room"""


class Services:
    def __init__(self, url: str | None) -> None:
        self.url = url
        self._clients: OrderedDict[str, AsyncClient] = OrderedDict()
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        await self.client("default")

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), OrderedDict()
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)

    async def client(self, namespace: str) -> AsyncClient:
        """The client of ``namespace``; :class:`NamespaceNotFoundError` for a namespace that
        does not exist (no pool is opened for it)."""
        found = self._clients.get(namespace)
        if found is not None:
            self._clients.move_to_end(namespace)
            return found
        if namespace != "default" and not await (
                await self.client("default")).namespace_exists(namespace):
            raise NamespaceNotFoundError(f"no namespace {namespace!r}")
        async with self._lock:
            found = self._clients.get(namespace)
            if found is not None:
                return found
            client = AsyncClient(
                self.url, namespace=namespace, actor="api", front_end="api",
                max_connections=POOL_SIZE,
            )
            await client.open()
            self._clients[namespace] = client
            while len(self._clients) > MAX_OPEN_NAMESPACES:
                oldest = next(n for n in self._clients if n != "default")
                # (requests holding it finish: a closed pool only refuses new ones)
                await self._clients.pop(oldest).close()
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
