"""Talking to a run: signal, cancel, terminate, pause, resume, query and update."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from ..client import AsyncClient
from ..model.errors import UsageError
from .inputs import check_call, check_signal
from .results import QueryAnswer, RunAction, UpdateOutcome


async def signal(
    client: AsyncClient,
    ref: str,
    name: str,
    payload: Any = None,
    idempotency_key: str | None = None,
) -> RunAction:
    """Send signal ``name`` with a JSON ``payload`` to a running run.

    A repeated ``idempotency_key`` is a no-op (``changed`` False). Raises
    :class:`~harvest_studio.RunNotFoundError`, :class:`~harvest_studio.RunNotRunningError`
    (the run has ended) or, before anything is written, :class:`~harvest_studio.PayloadError`.
    """
    check_signal(name, payload, idempotency_key)
    info = await client.describe(ref)
    sent = await client.signal(info.run_id, name, payload, idempotency_key=idempotency_key)
    return RunAction(
        "signal", info.run_id, info.workflow_id, info.workflow_type, sent,
        signal=name, idempotency_key=idempotency_key, paused=info.paused,
    )


async def cancel(client: AsyncClient, ref: str, reason: str | None = None) -> RunAction:
    """Ask a running run to cancel: its code sees ``asyncio.CancelledError``, may compensate,
    and the run ends CANCELLED. ``changed`` is False if cancellation was already requested."""
    info = await client.describe(ref)
    asked = await client.cancel(info.run_id, reason)
    return RunAction(
        "cancel", info.run_id, info.workflow_id, info.workflow_type, asked,
        reason=reason, paused=info.paused,
    )


async def terminate(client: AsyncClient, ref: str, reason: str | None = None) -> RunAction:
    """End a running run at once (TERMINATED); none of its code runs."""
    info = await client.describe(ref)
    await client.terminate(info.run_id, reason)
    return RunAction(
        "terminate", info.run_id, info.workflow_id, info.workflow_type, True, reason=reason
    )


async def pause(client: AsyncClient, ref: str, reason: str | None = None) -> RunAction:
    """Hold a running run's workflow tasks until ``resume``; ``changed`` is False if it
    was already paused."""
    info = await client.describe(ref)
    done = await client.pause(info.run_id, reason)
    return RunAction(
        "pause", info.run_id, info.workflow_id, info.workflow_type, done,
        reason=reason, paused=True,
    )


async def resume(client: AsyncClient, ref: str, reason: str | None = None) -> RunAction:
    """Undo ``pause``; ``changed`` is False if the run was not paused."""
    info = await client.describe(ref)
    done = await client.resume(info.run_id, reason)
    return RunAction(
        "resume", info.run_id, info.workflow_id, info.workflow_type, done,
        reason=reason, paused=False,
    )


async def query(
    client: AsyncClient, ref: str, name: str, args: Sequence[Any] = (), *, timeout: float = 5.0
) -> QueryAnswer:
    """Ask a run (running or ended) query ``name`` with ``args``; writes nothing.

    Raises :class:`~harvest_studio.UnknownQueryError`, :class:`~harvest_studio.QueryError`
    (the handler raised) or :class:`~harvest_studio.QueryTimeoutError` (no worker serving
    the type answered), and before anything else
    :class:`~harvest_studio.PayloadError` for arguments that are not JSON.
    """
    check_call("query", name, args, timeout)
    info = await client.describe(ref)
    value = await client.query(info.run_id, name, *args, timeout=timeout)
    return QueryAnswer(
        info.run_id, info.workflow_id, info.workflow_type, info.status, name, list(args), value
    )


async def update(
    client: AsyncClient,
    ref: str,
    name: str,
    args: Sequence[Any] = (),
    *,
    update_id: str | None = None,
    timeout: float = 30.0,
    wait_for: str = "completed",
) -> UpdateOutcome:
    """Send update ``name`` with ``args`` to a running run and wait for its result.

    Raises :class:`~harvest_studio.UpdateRejectedError` (the validator refused it, no
    handler, or the run has ended; nothing is written),
    :class:`~harvest_studio.UpdateFailedError` (the handler raised) or
    :class:`~harvest_studio.UpdateTimeoutError`. A repeated ``update_id`` returns the first
    outcome without applying the update again. With ``wait_for="admitted"`` it returns
    once the run admitted the update (``stage`` ``admitted``, no result yet).
    """
    check_call("update", name, args, timeout)
    if update_id is not None and not update_id:
        raise UsageError("an update id must not be empty")
    chosen = update_id or str(uuid.uuid4())
    info = await client.describe(ref)
    value = await client.update(info.run_id, name, *args, update_id=chosen, timeout=timeout,
                                wait_for=wait_for)
    if wait_for == "admitted":
        return UpdateOutcome(info.run_id, info.workflow_id, info.workflow_type, name, chosen,
                             list(args), None, stage="admitted")
    return UpdateOutcome(
        info.run_id, info.workflow_id, info.workflow_type, name, chosen, list(args), value
    )
