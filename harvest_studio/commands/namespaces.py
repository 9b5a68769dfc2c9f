"""``namespace create``, ``namespace list`` and ``namespace delete``."""

from __future__ import annotations

from ..client import AsyncClient
from ..model.errors import NamespaceNotFoundError, UsageError
from .errors import NamespaceMissingError
from .results import NamespaceAction, NamespaceInfo, NamespaceList


async def namespace_create(
    client: AsyncClient, name: str, description: str | None = None
) -> NamespaceAction:
    """Create a namespace; ``changed`` False if it already exists (its description is
    left as it was)."""
    created = await client.create_namespace(name, description)
    return NamespaceAction("create", name, created, description)


async def namespace_list(client: AsyncClient) -> NamespaceList:
    rows = await client.list_namespaces()
    return NamespaceList([
        NamespaceInfo(
            name=r["name"],
            description=r.get("description"),
            created_at=r.get("created_at"),
            runs=int(r.get("runs") or 0),
            running=int(r.get("running") or 0),
            retention_seconds=r.get("retention_seconds"),
        )
        for r in rows
    ])


async def namespace_delete(client: AsyncClient, name: str) -> NamespaceAction:
    """Delete a namespace without runs. Raises :class:`NamespaceMissingError` (no such
    namespace), :class:`~harvest_studio.NamespaceNotEmptyError`, or a
    :class:`~harvest_studio.UsageError` for ``default``."""
    if not name:
        raise UsageError("a namespace name is required")
    try:
        await client.delete_namespace(name)
    except NamespaceNotFoundError as exc:
        raise NamespaceMissingError(str(exc)) from None
    return NamespaceAction("delete", name, True)
