"""Webhooks: subscriptions (``harvest.webhooks``), finding the run ends and SLA misses they
want (into ``webhook_deliveries``), and claiming due deliveries."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from ._sql import Row
from .feeds import visible_watermark

_HOOK_COLUMNS = ("id, namespace, name, url, events, workflow_type, sla_seconds, created_at,"
                 " created_by")

_ENQUEUE_ENDS = """
INSERT INTO harvest.webhook_deliveries (webhook_id, run_id, event, payload)
SELECT w.id, r.run_id, 'run.' || lower(r.status),
       jsonb_build_object('event', 'run.' || lower(r.status), 'namespace', r.namespace,
           'run_id', r.run_id, 'workflow_id', r.workflow_id,
           'workflow_type', r.workflow_type, 'status', r.status, 'started_at', r.created_at,
           'ended_at', r.closed_at, 'error', r.error)
FROM harvest.webhooks w
JOIN harvest.runs r ON r.namespace = w.namespace
    AND r.closed_at >= w.cursor_at AND r.closed_at < %(mark)s AND r.status <> 'RUNNING'
WHERE w.namespace = %(ns)s
  AND (w.workflow_type IS NULL OR r.workflow_type = w.workflow_type)
  AND ('run.ended' = ANY(w.events) OR 'run.' || lower(r.status) = ANY(w.events))
ON CONFLICT (webhook_id, run_id, event) DO NOTHING
"""

# runs still running past the SLA, and runs that ended later than it (before a pass saw)
_ENQUEUE_SLA = """
INSERT INTO harvest.webhook_deliveries (webhook_id, run_id, event, payload)
SELECT w.id, r.run_id, 'run.sla_missed',
       jsonb_build_object('event', 'run.sla_missed', 'namespace', r.namespace,
           'run_id', r.run_id, 'workflow_id', r.workflow_id,
           'workflow_type', r.workflow_type, 'status', r.status, 'started_at', r.created_at,
           'sla_seconds', w.sla_seconds)
FROM harvest.webhooks w
JOIN harvest.runs r ON r.namespace = w.namespace
    AND r.created_at >= w.created_at - make_interval(secs => w.sla_seconds)
WHERE w.namespace = %(ns)s AND w.sla_seconds IS NOT NULL
  AND 'run.sla_missed' = ANY(w.events)
  AND (w.workflow_type IS NULL OR r.workflow_type = w.workflow_type)
  AND ((r.status = 'RUNNING'
        AND r.created_at < clock_timestamp() - make_interval(secs => w.sla_seconds))
       OR (r.closed_at >= w.cursor_at AND r.closed_at < %(mark)s
           AND r.closed_at - r.created_at > make_interval(secs => w.sla_seconds)))
ON CONFLICT (webhook_id, run_id, event) DO NOTHING
"""


async def insert_webhook(conn: AsyncConnection[Any], **fields: Any) -> Row:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "INSERT INTO harvest.webhooks (namespace, name, url, secret, events, workflow_type,"
        " sla_seconds, created_by) VALUES (%(namespace)s, %(name)s, %(url)s, %(secret)s,"
        " %(events)s, %(workflow_type)s, %(sla_seconds)s, %(created_by)s)"
        f" RETURNING {_HOOK_COLUMNS}",
        fields,
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def list_webhooks(conn: AsyncConnection[Any], namespace: str) -> list[Row]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"SELECT {_HOOK_COLUMNS},"
        " (SELECT count(*) FROM harvest.webhook_deliveries d WHERE d.webhook_id = w.id"
        "   AND d.state = 'pending') AS pending,"
        " (SELECT count(*) FROM harvest.webhook_deliveries d WHERE d.webhook_id = w.id"
        "   AND d.state = 'failed') AS failed"
        " FROM harvest.webhooks w WHERE namespace = %s ORDER BY name",
        (namespace,),
    )
    return await cur.fetchall()


async def delete_webhook(conn: AsyncConnection[Any], namespace: str, name: str) -> bool:
    cur = await conn.execute(
        "DELETE FROM harvest.webhooks WHERE namespace = %s AND name = %s", (namespace, name)
    )
    return cur.rowcount == 1


async def list_deliveries(
    conn: AsyncConnection[Any], namespace: str, name: str | None, state: str | None,
    limit: int,
) -> list[Row]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT d.id, w.name AS webhook, d.run_id::text AS run_id, d.event, d.state,"
        " d.attempts, d.last_status, d.last_error, d.created_at, d.next_attempt_at,"
        " d.delivered_at FROM harvest.webhook_deliveries d"
        " JOIN harvest.webhooks w ON w.id = d.webhook_id"
        " WHERE w.namespace = %(ns)s AND (%(name)s::text IS NULL OR w.name = %(name)s)"
        " AND (%(state)s::text IS NULL OR d.state = %(state)s)"
        " ORDER BY d.id DESC LIMIT %(limit)s",
        {"ns": namespace, "name": name, "state": state, "limit": limit},
    )
    return await cur.fetchall()


async def has_webhooks(conn: AsyncConnection[Any], namespace: str) -> bool:
    cur = await conn.execute(
        "SELECT EXISTS (SELECT 1 FROM harvest.webhooks WHERE namespace = %s)", (namespace,)
    )
    row = await cur.fetchone()
    return bool(row and row[0])


async def enqueue_deliveries(conn: AsyncConnection[Any], namespace: str) -> int:
    """Queue a delivery for each run end and SLA miss a subscription wants (once each),
    then move the subscriptions' cursors. Any number of workers may do this at once."""
    async with conn.transaction():
        # ends are taken up to the watermark (see feeds): none is missed for having been
        # committed late, and none is looked at twice
        mark = await visible_watermark(conn)
        params = {"ns": namespace, "mark": mark}
        ended = await conn.execute(_ENQUEUE_ENDS, params)
        late = await conn.execute(_ENQUEUE_SLA, params)
        await conn.execute(
            "UPDATE harvest.webhooks SET cursor_at = greatest(cursor_at, %s)"
            " WHERE namespace = %s",
            (mark, namespace),
        )
    return ended.rowcount + late.rowcount


async def claim_deliveries(
    conn: AsyncConnection[Any], namespace: str, limit: int, lease_seconds: float
) -> list[Row]:
    """Take due deliveries for one attempt each: they are pushed ``lease_seconds`` into the
    future, so a worker that dies mid-attempt leaves them to be tried again later."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "UPDATE harvest.webhook_deliveries d SET attempts = d.attempts + 1,"
        " next_attempt_at = clock_timestamp() + make_interval(secs => %(lease)s)"
        " FROM harvest.webhooks w WHERE d.id IN ("
        "   SELECT d2.id FROM harvest.webhook_deliveries d2"
        "   JOIN harvest.webhooks w2 ON w2.id = d2.webhook_id"
        "   WHERE d2.state = 'pending' AND d2.next_attempt_at <= clock_timestamp()"
        "     AND w2.namespace = %(ns)s"
        "   ORDER BY d2.next_attempt_at LIMIT %(limit)s FOR UPDATE OF d2 SKIP LOCKED)"
        " AND w.id = d.webhook_id"
        " RETURNING d.id, d.event, d.payload, d.attempts, w.url, w.secret, w.name",
        {"ns": namespace, "limit": limit, "lease": lease_seconds},
    )
    return await cur.fetchall()


async def record_delivery(
    conn: AsyncConnection[Any], delivery_id: int, *, attempt: int, delivered: bool,
    status: int | None, error: str | None, retry_in: float | None,
) -> None:
    """The outcome of attempt ``attempt``: delivered, to be tried again in ``retry_in``
    seconds, or (``retry_in`` None, not delivered) failed for good. An attempt that
    outlived its claim (another worker took the delivery since) changes nothing."""
    state = "delivered" if delivered else ("pending" if retry_in is not None else "failed")
    await conn.execute(
        "UPDATE harvest.webhook_deliveries SET state = %s, last_status = %s,"
        " last_error = %s, delivered_at = CASE WHEN %s THEN clock_timestamp() END,"
        " next_attempt_at = clock_timestamp() + make_interval(secs => %s)"
        " WHERE id = %s AND attempts = %s AND state = 'pending'",
        (state, status, error, delivered, retry_in or 0.0, delivery_id, attempt),
    )
