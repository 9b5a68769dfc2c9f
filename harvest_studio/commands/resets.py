"""Reset a run to an earlier point, or retry it from its last failed activity; both return
a :class:`ResetReport` of what they found and did."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..client import AsyncClient, ResetResult, RunInfo
from ..model import reset_points
from ..model.errors import UsageError
from ..model.events import ActivityScheduled, HistoryEvent
from .errors import NoResetPointError
from .inputs import check_reset
from .results import ResetReport


async def reset(
    client: AsyncClient,
    ref: str,
    *,
    to_event: int | None = None,
    to: str | None = None,
    reapply_signals: str = "buffer",
    dry_run: bool = False,
    reason: str | None = None,
) -> ResetReport:
    """Reset a run to a completed boundary: ``to_event`` (an event number) or ``to``
    (``last_workflow_task`` or ``first_activity``).

    With ``dry_run``, or when the boundary is not valid, nothing is written and the report
    names the nearest valid points (``applied`` False). A named target the run does not
    have raises :class:`NoResetPointError`.
    """
    check_reset(to_event, to, reapply_signals)
    info = await client.describe(ref)
    history = await client.history(info.run_id)
    if to is not None:
        _check_named_target(history, to)
    outcome = await client.reset(
        info.run_id, to_event=to_event, to=to, reapply_signals=reapply_signals,
        dry_run=dry_run, reason=reason,
    )
    return _report("reset", info, history, outcome, reapply_signals, dry_run)


def _check_named_target(history: Sequence[HistoryEvent], to: str) -> None:
    if not reset_points.valid_points(history):
        raise NoResetPointError("this run has no valid reset point (work is open at every "
                                "point of its history)")
    if to == "first_activity" and not any(
        isinstance(e.event, ActivityScheduled) for e in history
    ):
        raise NoResetPointError("this run never scheduled an activity")


async def retry(client: AsyncClient, ref: str, *, reason: str | None = None) -> ResetReport:
    """Retry a run from its last activity that failed for good: a reset to the point just
    before the decision that scheduled it, so the code running now schedules it again.

    Raises :class:`NoResetPointError` if the run has no such activity (or no valid point
    before it).
    """
    info = await client.describe(ref)
    history = await client.history(info.run_id)
    try:
        reset_points.last_failed_activity_point(history)
    except UsageError as exc:
        raise NoResetPointError(str(exc)) from None
    outcome = await client.retry_failed_activity(info.run_id, reason=reason)
    return _report("retry", info, history, outcome, "buffer", False)


def _report(
    action: str,
    info: RunInfo,
    history: Sequence[HistoryEvent],
    outcome: ResetResult[Any],
    reapply_signals: str,
    dry_run: bool,
) -> ResetReport:
    plan = outcome.plan
    boundary = history[plan.boundary - 1].event_type if plan.boundary <= len(history) else "?"
    return ResetReport(
        action=action,
        run_id=info.run_id,
        workflow_id=info.workflow_id,
        workflow_type=info.workflow_type,
        status=info.status,
        boundary=plan.boundary,
        boundary_event=boundary,
        valid=plan.valid,
        reason=plan.reason,
        nearest_valid_before=plan.nearest_valid_before,
        nearest_valid_after=plan.nearest_valid_after,
        valid_points=plan.valid_points,
        later_signals=len(plan.later_signals),
        reapply_signals=reapply_signals,
        dry_run=dry_run,
        applied=outcome.applied,
        new_run_id=outcome.new_run_id,
    )
