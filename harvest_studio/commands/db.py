"""``db status`` and ``db migrate``: the schema state of a database, given its URL."""

from __future__ import annotations

from ..store.connection import describe_url, ensure_migrated, migration_status
from .results import DbStatus


async def db_status(url: str) -> DbStatus:
    """Which migrations are applied and which are pending (reads only)."""
    status = await migration_status(url)
    return DbStatus(describe_url(url), status["applied"], status["pending"])


async def db_migrate(url: str) -> DbStatus:
    """Apply pending migrations and report the resulting state."""
    done = await ensure_migrated(url)
    status = await migration_status(url)
    return DbStatus(
        describe_url(url),
        status["applied"],
        status["pending"],
        [{"version": m.version, "name": m.name} for m in done],
    )
