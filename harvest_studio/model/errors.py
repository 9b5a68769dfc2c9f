"""Typed errors. Every error a user can provoke has a stable ``code``.

The CLI maps :class:`UsageError` subclasses to exit code 2 and everything else to 1; the
HTTP API (later) maps ``code`` to a 4xx body.
"""

from __future__ import annotations

from typing import Any


class HarvestError(Exception):
    """Base class of every error Harvest Studio raises on purpose."""

    code = "harvest_error"

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": str(self)}


class UsageError(HarvestError):
    """The caller asked for something malformed (bad JSON, bad duration, bad option)."""

    code = "usage_error"


class PayloadError(UsageError):
    """A workflow or activity argument/result cannot be stored as JSON."""

    code = "bad_payload"


class PayloadTooLargeError(PayloadError):
    code = "payload_too_large"


class DurationError(UsageError):
    code = "bad_duration"


class UnknownWorkflowError(UsageError):
    """No worker ever registered this workflow type (pass ``force=True`` to start anyway)."""

    code = "unknown_workflow"


class WorkflowAlreadyStartedError(HarvestError):
    """The id reuse policy rejected a start because a run with this id exists."""

    code = "workflow_already_started"

    def __init__(self, message: str, *, workflow_id: str, run_id: str | None = None) -> None:
        super().__init__(message)
        self.workflow_id = workflow_id
        self.run_id = run_id


class RunNotFoundError(HarvestError):
    code = "run_not_found"


class RunNotRunningError(HarvestError):
    """The operation needs a running run, and this one has ended."""

    code = "run_not_running"


class QueryError(HarvestError):
    """The query handler raised, or the run's history could not be replayed."""

    code = "query_failed"


class UnknownQueryError(QueryError):
    """The workflow registered no handler under that name."""

    code = "unknown_query"


class UpdateRejectedError(HarvestError):
    """The update's validator (or a missing handler) refused it; nothing was written."""

    code = "update_rejected"


class UpdateFailedError(HarvestError):
    """The update was admitted but its handler raised."""

    code = "update_failed"


class UpdateTimeoutError(HarvestError, TimeoutError):
    code = "update_timeout"


class QueryTimeoutError(HarvestError, TimeoutError):
    """No worker answered the query in time (is a worker serving this workflow type?)."""

    code = "query_timeout"


class NamespaceNotFoundError(UsageError):
    code = "namespace_not_found"


class NamespaceNotEmptyError(HarvestError):
    """Only a namespace without runs can be deleted."""

    code = "namespace_not_empty"


class RunTimeoutError(HarvestError, TimeoutError):
    """Waiting for a run's result took longer than the caller allowed."""

    code = "result_timeout"


class WorkflowFailedError(HarvestError):
    """The run ended in a non-successful state; ``status`` and ``error`` say how."""

    code = "workflow_failed"

    def __init__(self, message: str, *, status: str, error: dict[str, Any] | None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error


class DagFailedError(HarvestError):
    """Raised by a DAG run whose nodes failed (a run of the DAG ends FAILED with it):
    ``failed`` maps each node that failed the run to its state."""

    code = "dag_failed"

    def __init__(self, message: str, failed: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.failed = dict(failed or {})


class ActivityError(HarvestError):
    """Raised inside a workflow when an activity failed for good (retries exhausted,
    a non-retryable error, or a non-retried timeout).

    ``error_type`` is the failing exception's class name (or ``"TimeoutError"``),
    ``timeout_type`` names which of the four timeouts fired, if any.
    """

    code = "activity_failed"

    def __init__(
        self,
        message: str,
        *,
        activity_type: str,
        error_type: str,
        attempt: int,
        timeout_type: str | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.activity_type = activity_type
        self.error_type = error_type
        self.attempt = attempt
        self.timeout_type = timeout_type
        self.details = details


class ChildWorkflowError(HarvestError):
    """Raised in a parent when a child run ended other than COMPLETED."""

    code = "child_workflow_failed"

    def __init__(
        self, message: str, *, run_id: str, status: str, error: dict[str, Any] | None
    ) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.status = status
        self.error = error


class NonRetryableError(HarvestError):
    """Raise from an activity to stop retries at once, whatever the retry policy says."""

    code = "non_retryable"


class NonDeterminismError(HarvestError):
    """Replayed workflow code no longer matches the run's history.

    The run is not failed: it is marked *blocked* with this description and retried with
    backoff until compatible code runs again.
    """

    code = "non_determinism"

    def __init__(self, message: str, *, seq: int, expected: Any, actual: Any) -> None:
        super().__init__(message)
        self.fingerprints: dict[str, Any] | None = None
        self.seq = seq
        self.expected = expected
        self.actual = actual

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": str(self),
            "seq": self.seq,
            "expected": self.expected,
            "actual": self.actual,
        }


class ApplicationError(HarvestError):
    """Raise it to fail on purpose: from workflow code it fails the run (any other
    unexpected exception blocks the run instead, so a bug can be fixed); from an activity,
    with ``non_retryable=True``, it stops retries. ``details`` (JSON) travel with it."""

    code = "application_error"

    def __init__(self, message: str, *, details: Any = None, non_retryable: bool = False
                 ) -> None:
        super().__init__(message)
        self.details = details
        self.non_retryable = non_retryable


class WorkflowCodeError(HarvestError):
    """Workflow code raised an exception that does not fail the run (see
    :class:`ApplicationError`): the run is *blocked* with it and retried with backoff, so
    deploying fixed code lets it go on from where it was."""

    code = "workflow_code_error"

    def __init__(self, message: str, *, seq: int, error: dict[str, Any]) -> None:
        super().__init__(message)
        self.seq = seq
        self.error = error
        self.fingerprints: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": str(self), "seq": self.seq, "error": self.error}


class SchemaError(HarvestError):
    code = "schema_error"


class DatabaseError(HarvestError):
    """The database refused an operation for a reason retrying does not cure (a bug on our
    side, or a value the checks before it missed); nothing of it was written."""

    code = "database_error"


class DatabaseUnavailableError(HarvestError):
    """The database could not be reached or kept failing (a restart, a lost connection, a
    pool with no free connection) after the client's retries. Safe operations were retried;
    for one that is not (``signal`` without an idempotency key, ``start`` without an id or
    idempotency key) the message says it may or may not have taken effect."""

    code = "database_unavailable"
