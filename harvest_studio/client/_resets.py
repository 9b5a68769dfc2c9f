"""Resets and reruns for :class:`AsyncClient`: fork a run from a point in its history, retry
its last failed activity, or start its workflow afresh."""

from __future__ import annotations

import uuid

from .. import store
from ..model import serde
from ..model.errors import UsageError, WorkflowAlreadyStartedError
from ..model.events import WorkflowResetFork
from ..model.reset_points import REAPPLY_MODES, last_failed_activity_point, plan, resolve_target
from ._audit import audited
from ._retry import retried
from ._starting import StartingClient
from .handles import AsyncRunHandle
from .info import ResetResult


class ResettingClient(StartingClient):
    """Resets (to a point in a run's history), retries of a failed activity, reruns."""

    @audited("run.reset", "run", "ref", unless="dry_run")
    @retried(False)
    async def reset(
        self,
        ref: str,
        *,
        to_event: int | None = None,
        to: str | None = None,
        reapply_signals: str = "buffer",
        dry_run: bool = False,
        reason: str | None = None,
    ) -> ResetResult[AsyncRunHandle]:
        """Make a new run from this run's history up to a boundary, and let the code running
        now take it from there.

        The boundary is ``to_event`` (an inbound event number) or ``to`` =
        ``"last_workflow_task"`` / ``"first_activity"``. It must be a completed point (no
        activity, timer or child in flight); otherwise, and always with ``dry_run``, nothing
        is written and the result names the nearest valid points. Signals recorded after the
        boundary are re-delivered in their original order (``reapply_signals="buffer"``) or
        dropped (``"drop"``). A running source ends TERMINATED with a ``WorkflowReset`` event.
        """
        if reapply_signals not in REAPPLY_MODES:
            raise UsageError(f"reapply_signals must be one of {REAPPLY_MODES}")
        info = await self.describe(ref)
        history = await self.history(info.run_id)
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
        async with self.pool.connection() as conn:
            await store.reset_run(
                conn,
                source_run_id=info.run_id,
                new_run_id=new_run_id,
                boundary=boundary,
                fork_json=serde.dumps(fork.fields()),
                reason=reason,
                signal_seqs=signal_seqs,
            )
        return ResetResult(reset_plan, AsyncRunHandle(self, info.workflow_id, new_run_id), True)

    @audited("run.retry", "run", "ref")
    async def retry_failed_activity(
        self, ref: str, *, reason: str | None = None
    ) -> ResetResult[AsyncRunHandle]:
        """Reset to just before the decision that scheduled the last activity that failed
        for good, so the code running now schedules it again."""
        info = await self.describe(ref)
        boundary = last_failed_activity_point(await self.history(info.run_id))
        return await self.reset(info.run_id, to_event=boundary, reason=reason or "retry")

    @audited("run.rerun", "run", "ref")
    async def rerun(self, ref: str) -> AsyncRunHandle:
        """Start a fresh run of an ended run's workflow with its original input and id."""
        info = await self.describe(ref)
        if info.status == "RUNNING":
            raise WorkflowAlreadyStartedError(
                f"run {ref} is still running; terminate or reset it instead",
                workflow_id=info.workflow_id,
                run_id=info.run_id,
            )
        return await self.start(
            info.workflow_type, *info.input, id=info.workflow_id, force=True,
            search_attributes=info.search_attributes, memo=info.memo,
        )
