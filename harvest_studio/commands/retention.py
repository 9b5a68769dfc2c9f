"""``purge`` and ``namespace retention``: removing ended runs, archived first if asked."""

from __future__ import annotations

from datetime import datetime

from ..client import Archive, AsyncClient, PurgeReport
from ..model.durations import Duration
from ..model.errors import UsageError
from .inputs import parse_time
from .results import NamespaceAction


async def purge(
    client: AsyncClient,
    ended_before: datetime | str | None = None,
    *,
    all_namespaces: bool = False,
    archive: Archive | None = None,
    dry_run: bool = False,
) -> PurgeReport:
    """Remove runs that ended before ``ended_before`` (``"30d"`` = 30 days ago, or an ISO
    time) or, without it, those older than their namespace's retention; each batch goes to
    ``archive`` before it is deleted."""
    moment = None if ended_before is None else parse_time(ended_before)
    return await client.purge(moment, all_namespaces=all_namespaces, archive=archive,
                              dry_run=dry_run)


async def namespace_retention(
    client: AsyncClient, name: str, keep: Duration | None
) -> NamespaceAction:
    """Set (or with ``keep=None`` lift) how long a namespace keeps its ended runs."""
    if not name:
        raise UsageError("a namespace name is required")
    await client.set_retention(name, keep)
    return NamespaceAction("retention", name, True,
                           None if keep is None else f"keeps ended runs for {keep}")
