"""The rules replay applies to a history, apart from the replayer itself: which recorded
command an issued one matches, which events leave a decision owed, how an exception is
stored, and the errors replay raises."""

from __future__ import annotations

import traceback
from typing import Any

from ..model.errors import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    DagFailedError,
    HarvestError,
    NonDeterminismError,
    PayloadError,
    WorkflowCodeError,
)
from ..model.events import (
    INBOUND,
    ActivityCancelRequested,
    ActivityScheduled,
    ChildWorkflowCancelRequested,
    ChildWorkflowStarted,
    Event,
    HistoryEvent,
    MarkerRecorded,
    SideEffectRecorded,
    SignalReceived,
    TimerCancelled,
    UpdateCompleted,
    UpdateFailed,
    WorkflowStarted,
    role_of,
)


def undecided(event: Event) -> bool:
    """History written outside a workflow decision (the start, and signals sent with it):
    the commands that answer it are not recorded yet."""
    return isinstance(event, WorkflowStarted) or (
        isinstance(event, SignalReceived) and event.with_start
    )


class Diverged(BaseException):
    """Unwinds workflow code after a divergence (a BaseException so ``except Exception``
    in user code cannot swallow it)."""


class InstanceClosedError(HarvestError):
    code = "instance_closed"


class CommandInValidatorError(HarvestError):
    """An update validator tried to issue a command (sleep, an activity...): the update
    is rejected and nothing is written (validators do not run on replay)."""

    code = "command_in_validator"


def error_dict(exc: BaseException) -> dict[str, Any]:
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(exc))[-4000:],
    }


def describe(event: Event | None) -> dict[str, Any] | None:
    if event is None:
        return None
    data = event.fields()
    short: dict[str, Any] = {k: data[k] for k in ("activity_type", "name", "duration") if k in data}
    return {"type": event.type_name, **short}


def same_command(recorded: Event, issued: Event) -> bool:
    if type(recorded) is not type(issued):
        return False
    if isinstance(recorded, ActivityScheduled):
        return bool(recorded.activity_type == getattr(issued, "activity_type", None))
    if isinstance(recorded, ChildWorkflowStarted):
        return bool(recorded.workflow_type == getattr(issued, "workflow_type", None))
    if isinstance(recorded, TimerCancelled | ChildWorkflowCancelRequested):
        return bool(recorded.started_seq == getattr(issued, "started_seq", None))
    if isinstance(recorded, ActivityCancelRequested):
        return bool(recorded.scheduled_seq == getattr(issued, "scheduled_seq", None))
    if isinstance(recorded, UpdateCompleted | UpdateFailed):
        return bool(recorded.update_id == getattr(issued, "update_id", None))
    if isinstance(recorded, SideEffectRecorded | MarkerRecorded):
        return bool(recorded.name == getattr(issued, "name", None))
    return True


def is_start_signal(record: HistoryEvent) -> bool:
    return isinstance(record.event, SignalReceived) and record.event.with_start


def is_inbound(event: Event) -> bool:
    return role_of(event) == INBOUND


def command_divergence(
    recorded: HistoryEvent | None, issued: Event | None, next_seq: int
) -> NonDeterminismError:
    """The error of code whose command differs from the recorded one (``None``: the code
    issued nothing where history has a command, or history ends where the code issued one;
    ``next_seq`` is where a new event would go)."""
    seq = recorded.seq if recorded is not None else next_seq
    expected = describe(recorded.event if recorded else None)
    actual = describe(issued)
    if recorded is None:
        message = f"code issued {actual} at event {seq}, but history has nothing more there"
    elif issued is None:
        message = f"history has {expected} at event {seq}, but the code did not issue it"
    else:
        message = f"history has {expected} at event {seq}, but the code issued {actual}"
    return NonDeterminismError(message, seq=seq, expected=expected, actual=actual)


def inbound_divergence(record: HistoryEvent, seq: int) -> NonDeterminismError:
    """The error of history delivering a result (for event ``seq``) nobody waits on."""
    return NonDeterminismError(
        f"history delivers {record.event.type_name} for event {seq}, "
        "but the code is not waiting on it",
        seq=record.seq,
        expected=describe(record.event),
        actual=None,
    )


# what fails a run when workflow code lets it escape; anything else blocks the run
FAILURE_TYPES: tuple[type[Exception], ...] = (
    ApplicationError, ActivityError, ChildWorkflowError, PayloadError, DagFailedError,
)


def fails_run(exc: Exception, also: tuple[type[BaseException], ...] = ()) -> bool:
    """Whether ``exc`` escaping workflow code fails the run (an :class:`ApplicationError`,
    an activity's or child's failure not caught, a payload that does not fit, or a type the
    workflow lists in ``failure_exceptions``)."""
    return isinstance(exc, FAILURE_TYPES + also)


def code_error(exc: Exception, seq: int) -> WorkflowCodeError:
    """The error a run is blocked with when its code raised ``exc`` at event ``seq``."""
    return WorkflowCodeError(
        f"workflow code raised {type(exc).__name__}: {exc}", seq=seq, error=error_dict(exc)
    )
