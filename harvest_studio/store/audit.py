"""The audit trail: the append-only ``harvest.audit_log`` table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ._sql import Row


@dataclass(frozen=True)
class AuditEntry:
    """One row to append: who did what to which target, through which front end, and
    how it ended (``ok`` or the error's code)."""

    namespace: str
    actor: str
    front_end: str
    action: str
    target_type: str | None
    target: str | None
    args_digest: str
    outcome: str
    detail: str | None = None
    touched: list[str] | None = None
    request_id: str | None = None


async def append_audit(conn: AsyncConnection[Any], entry: AuditEntry) -> int:
    cur = await conn.execute(
        "INSERT INTO harvest.audit_log (namespace, actor, front_end, action, target_type,"
        " target, args_digest, outcome, detail, touched, request_id)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING seq",
        (
            entry.namespace, entry.actor, entry.front_end, entry.action, entry.target_type,
            entry.target, entry.args_digest, entry.outcome, entry.detail,
            None if entry.touched is None else Jsonb(entry.touched), entry.request_id,
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def read_audit(
    conn: AsyncConnection[Any],
    *,
    namespace: str | None,
    targets: list[str] | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    before_seq: int | None = None,
    limit: int = 100,
) -> list[Row]:
    """Audit rows, newest first. ``targets`` matches any of the ids (a run's workflow id and
    run id); ``before_seq`` pages back from a row; ``action`` ending in ``.`` is a prefix."""
    where = ["TRUE"]
    params: dict[str, Any] = {"limit": limit}
    if namespace is not None:
        where.append("namespace = %(namespace)s")
        params["namespace"] = namespace
    if targets:
        where.append("(target = ANY(%(targets)s) OR touched ?| %(targets)s)")
        params["targets"] = targets
    if actor is not None:
        where.append("actor = %(actor)s")
        params["actor"] = actor
    if action is not None:
        if action.endswith("."):
            where.append("starts_with(action, %(action)s)")
        else:
            where.append("action = %(action)s")
        params["action"] = action
    if since is not None:
        where.append("at >= %(since)s")
        params["since"] = since
    if before_seq is not None:
        where.append("seq < %(before_seq)s")
        params["before_seq"] = before_seq
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT seq, at, namespace, actor, front_end, action, target_type, target, args_digest,"
        " outcome, detail, touched, request_id FROM harvest.audit_log"
        f" WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT %(limit)s",
        params,
    )
    return await cur.fetchall()
