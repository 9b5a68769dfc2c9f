"""Namespaces: the ``harvest.namespaces`` table."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from ._sql import Row


async def create_namespace(
    conn: AsyncConnection[Any], name: str, description: str | None
) -> bool:
    cur = await conn.execute(
        "INSERT INTO harvest.namespaces (name, description) VALUES (%s, %s)"
        " ON CONFLICT DO NOTHING",
        (name, description),
    )
    return cur.rowcount == 1


async def list_namespaces(conn: AsyncConnection[Any]) -> list[Row]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT n.name, n.description, n.created_at, n.retention_seconds,"
        " (SELECT count(*) FROM harvest.runs r WHERE r.namespace = n.name) AS runs,"
        " (SELECT count(*) FROM harvest.runs r WHERE r.namespace = n.name"
        "   AND r.status = 'RUNNING') AS running"
        " FROM harvest.namespaces n ORDER BY n.name"
    )
    return await cur.fetchall()


async def namespace_exists(conn: AsyncConnection[Any], name: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM harvest.namespaces WHERE name = %s", (name,))
    return await cur.fetchone() is not None


async def delete_namespace(conn: AsyncConnection[Any], name: str) -> str:
    """Delete an empty namespace: ``"deleted"``, ``"not_found"`` or ``"not_empty"``."""
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT 1 FROM harvest.namespaces WHERE name = %s FOR UPDATE", (name,)
        )
        if await cur.fetchone() is None:
            return "not_found"
        cur = await conn.execute(
            "SELECT 1 FROM harvest.runs WHERE namespace = %s LIMIT 1", (name,)
        )
        if await cur.fetchone() is not None:
            return "not_empty"
        await conn.execute("DELETE FROM harvest.registry WHERE namespace = %s", (name,))
        await conn.execute("DELETE FROM harvest.workers WHERE namespace = %s", (name,))
        await conn.execute("DELETE FROM harvest.namespaces WHERE name = %s", (name,))
    return "deleted"
