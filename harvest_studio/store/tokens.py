"""API tokens: the ``harvest.api_tokens`` table (secrets are kept only as SHA-256)."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from ._sql import Row

_COLUMNS = "token_id, name, scope, namespace, created_at, created_by, last_used_at, revoked_at"
LAST_USED_GRAIN = 60
"""seconds: a token's last-used time is written at most this often (reads stay reads)"""


async def insert_token(
    conn: AsyncConnection[Any],
    *,
    token_id: str,
    name: str,
    scope: str,
    namespace: str | None,
    secret_sha256: bytes,
    created_by: str,
) -> Row:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "INSERT INTO harvest.api_tokens (token_id, name, scope, namespace, secret_sha256,"
        f" created_by) VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
        (token_id, name, scope, namespace, secret_sha256, created_by),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def list_tokens(conn: AsyncConnection[Any], *, include_revoked: bool = False) -> list[Row]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"SELECT {_COLUMNS} FROM harvest.api_tokens"
        + ("" if include_revoked else " WHERE revoked_at IS NULL")
        + " ORDER BY created_at, token_id"
    )
    return await cur.fetchall()


async def revoke_token(conn: AsyncConnection[Any], ref: str) -> Row | None:
    """Revoke the live token whose id or name is ``ref``; None when there is none."""
    cur = conn.cursor(row_factory=dict_row)
    for column in ("token_id", "name"):  # one token: by id if one has it, else by name
        await cur.execute(
            "UPDATE harvest.api_tokens SET revoked_at = clock_timestamp()"
            f" WHERE revoked_at IS NULL AND {column} = %s RETURNING {_COLUMNS}",
            (ref,),
        )
        row = await cur.fetchone()
        if row is not None:
            return row
    return None


async def token_by_secret(conn: AsyncConnection[Any], secret_sha256: bytes) -> Row | None:
    """The live token with this secret, its last-used time brought up to date (at most once
    a minute, so a busy client does not write on every request)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"SELECT {_COLUMNS} FROM harvest.api_tokens"
        " WHERE secret_sha256 = %s AND revoked_at IS NULL",
        (secret_sha256,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    await conn.execute(
        "UPDATE harvest.api_tokens SET last_used_at = clock_timestamp() WHERE token_id = %s"
        " AND (last_used_at IS NULL"
        f"      OR last_used_at < clock_timestamp() - interval '{LAST_USED_GRAIN} seconds')",
        (row["token_id"],),
    )
    return row
