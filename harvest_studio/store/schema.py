"""Schema migrations: the ``harvest.schema_migrations`` table and the SQL files in
``store/migrations``, applied under a session advisory lock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from psycopg import AsyncConnection

from ..model.errors import SchemaError

MIGRATION_LOCK = 0x68617276  # "harv": session advisory lock key for migrations


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("harvest_studio.store.migrations").iterdir():
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.partition("_")
            found.append(Migration(int(version), rest.removesuffix(".sql"), entry.read_text()))
    return sorted(found, key=lambda m: m.version)


async def applied_migrations(conn: AsyncConnection[Any]) -> dict[int, datetime]:
    cur = await conn.execute("SELECT to_regclass('harvest.schema_migrations') IS NOT NULL")
    row = await cur.fetchone()
    if not row or not row[0]:
        return {}
    cur = await conn.execute("SELECT version, applied_at FROM harvest.schema_migrations")
    return {int(v): at for v, at in await cur.fetchall()}


async def migrate(conn: AsyncConnection[Any]) -> list[Migration]:
    """Apply pending migrations under a session advisory lock; returns what was applied.

    ``conn`` must be in autocommit mode. Concurrent callers wait for the lock, then find
    nothing left to do.
    """
    applied_now: list[Migration] = []
    await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        done = await applied_migrations(conn)
        known = available_migrations()
        newest = max((m.version for m in known), default=0)
        if done and max(done) > newest:
            raise SchemaError(
                f"database schema is at version {max(done)}, newer than this "
                f"harvest_studio ({newest}); upgrade the package"
            )
        for migration in known:
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute("CREATE SCHEMA IF NOT EXISTS harvest")
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS harvest.schema_migrations ("
                    " version integer PRIMARY KEY, name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
                await conn.execute(migration.sql.encode())  # type: ignore[arg-type]
                await conn.execute(
                    "INSERT INTO harvest.schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
            applied_now.append(migration)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied_now
