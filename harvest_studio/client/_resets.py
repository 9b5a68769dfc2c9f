"""Resets and reruns for :class:`AsyncClient`: fork a run from a point in its history, retry
its last failed activity, or start its workflow afresh."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from .. import store
from ..model import serde
from ..model.errors import UsageError, WorkflowAlreadyStartedError
from ..model.events import WorkflowResetFork
from ..model.reset_points import REAPPLY_MODES, last_failed_activity_point, plan, resolve_target
from .handles import AsyncRunHandle
from .info import ResetResult

if TYPE_CHECKING:
    from .async_client import AsyncClient


async def reset(
    client: AsyncClient,
    ref: str,
    *,
    to_event: int | None,
    to: str | None,
    reapply_signals: str,
    dry_run: bool,
    reason: str | None,
) -> ResetResult:
    """:meth:`AsyncClient.reset`."""
    if reapply_signals not in REAPPLY_MODES:
        raise UsageError(f"reapply_signals must be one of {REAPPLY_MODES}")
    info = await client.describe(ref)
    history = await client.history(info.run_id)
    boundary = resolve_target(history, to_event, to)
    reset_plan = plan(history, boundary)
    if dry_run or not reset_plan.valid:
        return ResetResult(reset_plan, None, applied=False)
    new_run_id = str(uuid.uuid4())
    fork = WorkflowResetFork(
        source_run_id=info.run_id, boundary=boundary, reason=reason,
        reapply_signals=reapply_signals,
    )
    signal_seqs = (
        [s["seq"] for s in reset_plan.later_signals] if reapply_signals == "buffer" else []
    )
    async with client.pool.connection() as conn:
        await store.reset_run(
            conn,
            source_run_id=info.run_id,
            new_run_id=new_run_id,
            boundary=boundary,
            fork_json=serde.dumps(fork.fields()),
            reason=reason,
            signal_seqs=signal_seqs,
        )
    return ResetResult(reset_plan, AsyncRunHandle(client, info.workflow_id, new_run_id), True)


async def retry_failed_activity(
    client: AsyncClient, ref: str, *, reason: str | None
) -> ResetResult:
    """:meth:`AsyncClient.retry_failed_activity`."""
    info = await client.describe(ref)
    boundary = last_failed_activity_point(await client.history(info.run_id))
    return await client.reset(info.run_id, to_event=boundary, reason=reason or "retry")


async def rerun(client: AsyncClient, ref: str) -> AsyncRunHandle:
    """:meth:`AsyncClient.rerun`."""
    info = await client.describe(ref)
    if info.status == "RUNNING":
        raise WorkflowAlreadyStartedError(
            f"run {ref} is still running; terminate or reset it instead",
            workflow_id=info.workflow_id,
            run_id=info.run_id,
        )
    return await client.start(
        info.workflow_type, *info.input, id=info.workflow_id, force=True,
        search_attributes=info.search_attributes, memo=info.memo,
    )
