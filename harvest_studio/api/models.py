"""The bodies the API accepts. Checks here are about shape; the command layer checks
meaning (names, ids, payloads) exactly as it does for the command line."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..client import ID_CONFLICT_POLICIES, ID_REUSE_POLICIES

Duration = float | str
"""seconds, or a text like ``30s``, ``5m``, ``2h``"""


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartSignal(Body):
    name: str = Field(min_length=1, max_length=200)
    payload: Any = None


class StartRun(Body):
    workflow: str = Field(min_length=1, max_length=200, description="workflow type name")
    args: list[Any] = Field(default_factory=list, description="the arguments, JSON values")
    id: str | None = Field(None, min_length=1, max_length=400, description="workflow id")
    id_reuse_policy: Literal[ID_REUSE_POLICIES] = "allow_duplicate"  # type: ignore[valid-type]
    id_conflict_policy: Literal[ID_CONFLICT_POLICIES] = "fail"  # type: ignore[valid-type]
    idempotency_key: str | None = Field(None, min_length=1, max_length=400)
    execution_timeout: Duration | None = None
    queue: str | None = Field(None, min_length=1, max_length=200)
    force: bool = Field(False, description="start even if no worker registered the type")
    search_attributes: dict[str, Any] | None = None
    memo: Any = None
    start_delay: Duration | None = None
    priority: int | None = Field(None, ge=-1000, le=1000)
    fairness_key: str | None = Field(None, min_length=1, max_length=400)
    signal: StartSignal | None = Field(
        None, description="signal-with-start: signal the open run of `id`, or start one "
                          "with this signal delivered first")


class Reason(Body):
    reason: str | None = Field(None, max_length=2000)


class SignalRun(Body):
    name: str = Field(min_length=1, max_length=200)
    payload: Any = None
    idempotency_key: str | None = Field(None, min_length=1, max_length=400)


class QueryRun(Body):
    name: str = Field(min_length=1, max_length=200)
    args: list[Any] = Field(default_factory=list)
    timeout: float = Field(5.0, gt=0, le=60)


class UpdateRun(Body):
    name: str = Field(min_length=1, max_length=200)
    args: list[Any] = Field(default_factory=list)
    update_id: str | None = Field(None, min_length=1, max_length=400)
    timeout: float = Field(30.0, gt=0, le=60)
    wait_for: Literal["completed", "admitted"] = "completed"


class ResetRun(Body):
    to_event: int | None = Field(None, ge=1, description="reset to just after this event")
    to: Literal["last_workflow_task", "first_activity"] | None = None
    reapply_signals: Literal["buffer", "drop"] = "buffer"
    dry_run: bool = False
    reason: str | None = Field(None, max_length=2000)


class NewToken(Body):
    name: str = Field(min_length=1, max_length=200)
    scope: Literal["read", "operate", "admin"]
    namespace: str | None = Field(None, min_length=1, max_length=63)


class NewNamespace(Body):
    name: str = Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$")
    description: str | None = Field(None, max_length=2000)


class Backfill(Body):
    start: str = Field(min_length=1, max_length=100, description="ISO time")
    end: str = Field(min_length=1, max_length=100, description="ISO time")


class NewSchedule(Body):
    name: str = Field(min_length=1, max_length=200)
    workflow: str = Field(min_length=1, max_length=200)
    args: list[Any] = Field(default_factory=list)
    cron: str | None = Field(None, max_length=200)
    every: Duration | None = None
    timezone: str | None = Field(None, max_length=100)
    overlap: Literal["skip", "buffer_one", "buffer_all", "allow_all", "cancel_other",
                     "terminate_other"] = "skip"
    catchup: str = Field("most_recent", max_length=100,
                         description="skip_all, most_recent, all, or window:<duration>")
    jitter: Duration | None = None
    start_at: str | None = Field(None, max_length=100)
    end_at: str | None = Field(None, max_length=100)
    max_runs: int | None = Field(None, ge=1)
    failure_limit: int | None = Field(None, ge=1)
    paused: bool = False
    note: str | None = Field(None, max_length=2000)
    replace: bool = False


class MarkNode(Body):
    state: Literal["succeeded", "skipped"] = "succeeded"
    result: Any = None
    reason: str | None = Field(None, max_length=2000)
