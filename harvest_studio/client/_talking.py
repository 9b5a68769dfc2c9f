"""Talking to runs for :class:`AsyncClient`: signals, queries, updates, cancel, terminate,
pause and resume."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from .. import store
from ..model import serde
from ..model.errors import (
    QueryError,
    QueryTimeoutError,
    RunNotFoundError,
    RunNotRunningError,
    UnknownQueryError,
    UpdateFailedError,
    UpdateRejectedError,
    UpdateTimeoutError,
    UsageError,
)
from ..model.events import CancelRequested, SignalReceived

if TYPE_CHECKING:
    from .async_client import AsyncClient


async def _queue(
    client: AsyncClient, ref: str, event: Any, *, dedupe_key: str | None, what: str
) -> bool:
    run_id = await client._run_id(ref)
    async with client.pool.connection() as conn:
        status = await store.queue_event(
            conn, run_id, event.type_name, serde.dumps(event.fields(), what=what),
            dedupe_key=dedupe_key,
        )
    if status == "not_running":
        raise RunNotRunningError(f"run {ref} has ended; it cannot take a {what}")
    return status == "queued"


async def signal(
    client: AsyncClient, ref: str, name: str, payload: Any, *, idempotency_key: str | None
) -> bool:
    """:meth:`AsyncClient.signal`."""
    if not name or not isinstance(name, str):
        raise UsageError("a signal needs a name")
    event = SignalReceived(name=name, payload=payload, idempotency_key=idempotency_key)
    key = None if idempotency_key is None else f"signal:{idempotency_key}"
    return await _queue(client, ref, event, dedupe_key=key, what="signal")


async def query(client: AsyncClient, ref: str, name: str, *args: Any, timeout: float) -> Any:
    """:meth:`AsyncClient.query`."""
    if not name:
        raise UsageError("a query needs a name")
    args_json = serde.dumps(list(args), what="query arguments")
    run_id = await client._run_id(ref)
    async with client.pool.connection() as conn:
        query_id = await store.submit_query(conn, run_id, name, args_json)
    if query_id is None:
        raise RunNotFoundError(f"no run {ref!r}")
    async def answered() -> tuple[bool, Any, str | None]:
        async with client.pool.connection() as conn:
            row = await store.get_query(conn, query_id)
        return row is not None and row["status"] != "PENDING", row, None

    try:
        row = await client._wait_for(
            f"q:{query_id}",
            answered,
            timeout=timeout,
            interval=0.5,
            expired=lambda: QueryTimeoutError(
                f"no worker answered query {name!r} on run {ref} within {timeout}s"
            ),
        )
    finally:
        async with client.pool.connection() as conn:
            await store.forget_query(conn, query_id)
    if row["status"] == "ANSWERED":
        return row["result"]
    error = row["error"] or {}
    if error.get("code") == "unknown_query":
        raise UnknownQueryError(str(error.get("message")))
    raise QueryError(f"{error.get('type', error.get('code'))}: {error.get('message')}")


async def update(
    client: AsyncClient, ref: str, name: str, *args: Any, update_id: str | None, timeout: float
) -> Any:
    """:meth:`AsyncClient.update`."""
    if not name:
        raise UsageError("an update needs a name")
    args_json = serde.dumps(list(args), what="update arguments")
    update_id = update_id or str(uuid.uuid4())
    run_id = await client._run_id(ref)
    async with client.pool.connection() as conn:
        await store.request_update(conn, run_id, update_id, name, args_json)
    return await _wait_update(client, run_id, update_id, timeout)


async def update_result(client: AsyncClient, ref: str, update_id: str, timeout: float) -> Any:
    """:meth:`AsyncClient.update_result`."""
    return await _wait_update(client, await client._run_id(ref), update_id, timeout)


async def _wait_update(client: AsyncClient, run_id: str, update_id: str, timeout: float) -> Any:
    last: dict[str, Any] = {}

    async def settled() -> tuple[bool, Any, str | None]:
        async with client.pool.connection() as conn:
            row = await store.get_update(conn, run_id, update_id)
        if row is None:
            raise UsageError(f"no update {update_id!r} on run {run_id}")
        last.update(row)
        return row["status"] in ("COMPLETED", "FAILED", "REJECTED"), row, None

    row = await client._wait_for(
        f"u:{run_id}",
        settled,
        timeout=timeout,
        interval=0.5,
        expired=lambda: UpdateTimeoutError(
            f"update {update_id} is {last.get('status')} after {timeout}s"
        ),
    )
    error = row["error"] or {}
    if row["status"] == "REJECTED":
        raise UpdateRejectedError(f"update {row['name']!r} rejected: {error.get('message')}")
    if row["status"] == "FAILED":
        raise UpdateFailedError(
            f"update {row['name']!r} failed: {error.get('type')}: {error.get('message')}"
        )
    return row["result"]


async def cancel(client: AsyncClient, ref: str, reason: str | None) -> bool:
    """:meth:`AsyncClient.cancel`."""
    event = CancelRequested(reason=reason)
    return await _queue(client, ref, event, dedupe_key="cancel", what="cancel request")


async def terminate(client: AsyncClient, ref: str, reason: str | None) -> None:
    """:meth:`AsyncClient.terminate`."""
    run_id = await client._run_id(ref)
    async with client.pool.connection() as conn:
        ended = await store.close_runs(
            conn,
            [run_id],
            status="TERMINATED",
            event_type="WorkflowTerminated",
            payload_json=serde.dumps({"reason": reason}),
            error_json=serde.dumps(
                {"type": "Terminated", "message": reason or "terminated on request"}
            ),
        )
    if not ended:
        raise RunNotRunningError(f"run {ref} has already ended")


async def set_paused(client: AsyncClient, ref: str, paused: bool, reason: str | None) -> bool:
    """:meth:`AsyncClient.pause` and :meth:`AsyncClient.resume`."""
    run_id = await client._run_id(ref)
    async with client.pool.connection() as conn:
        status = await store.set_paused(conn, run_id, paused=paused, reason=reason)
    if status == "not_running":
        raise RunNotRunningError(f"run {ref} has ended")
    return status == "done"
