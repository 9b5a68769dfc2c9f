"""The client layer: :class:`AsyncClient` starts, talks to, resets and looks at runs;
:class:`Client` (from :func:`connect`) is its sync face for scripts and notebooks; run handles
(:class:`AsyncRunHandle`, :class:`RunHandle`) stand for one run. It reaches the database only
through ``store``; the notebook views of a run are registered in :mod:`.sync_client` from above.
"""

from __future__ import annotations

from ._audit import FRONT_ENDS, AuditRecord, Caller, acting_as
from ._dead_letters import (
    DLQ_KINDS,
    DeadLetter,
    DeadLetterNotFoundError,
    DlqOutcome,
)
from ._flow import KEEP, FlowLimit, Keep, QueueInfo
from ._hooks import (
    DELIVERY_STATES,
    HOOK_EVENTS,
    NewWebhook,
    Webhook,
    WebhookNameTakenError,
    WebhookNotFoundError,
)
from ._operations import (
    TOKEN_SCOPES,
    NewToken,
    TokenInfo,
    TokenNameTakenError,
    TokenNotFoundError,
    WorkerInfo,
    WorkerNotFoundError,
)
from ._retention import PURGE_BATCH, Archive, PurgeReport
from ._schedules import ScheduleInfo, ScheduleLogEntry
from .async_client import AsyncClient
from .handles import AsyncRunHandle, AsyncUpdateHandle
from .info import (
    ID_CONFLICT_POLICIES,
    ID_REUSE_POLICIES,
    MAX_ID_LENGTH,
    TERMINAL_STATUSES,
    AttemptLog,
    DagRunInfo,
    DagTypeInfo,
    ResetResult,
    RunInfo,
    RunPage,
)
from .sync_client import (
    Client,
    RunHandle,
    RunViews,
    UpdateHandle,
    connect,
    run_views,
    set_run_views,
)

__all__ = [
    "DELIVERY_STATES",
    "DLQ_KINDS",
    "FRONT_ENDS",
    "HOOK_EVENTS",
    "ID_CONFLICT_POLICIES",
    "ID_REUSE_POLICIES",
    "KEEP",
    "MAX_ID_LENGTH",
    "PURGE_BATCH",
    "TERMINAL_STATUSES",
    "TOKEN_SCOPES",
    "Archive",
    "AsyncClient",
    "AsyncRunHandle",
    "AsyncUpdateHandle",
    "AttemptLog",
    "AuditRecord",
    "Caller",
    "Client",
    "DagRunInfo",
    "DagTypeInfo",
    "DeadLetter",
    "DeadLetterNotFoundError",
    "DlqOutcome",
    "FlowLimit",
    "Keep",
    "NewToken",
    "NewWebhook",
    "PurgeReport",
    "QueueInfo",
    "ResetResult",
    "RunHandle",
    "RunInfo",
    "RunPage",
    "RunViews",
    "ScheduleInfo",
    "ScheduleLogEntry",
    "TokenInfo",
    "TokenNameTakenError",
    "TokenNotFoundError",
    "UpdateHandle",
    "Webhook",
    "WebhookNameTakenError",
    "WebhookNotFoundError",
    "WorkerInfo",
    "WorkerNotFoundError",
    "acting_as",
    "connect",
    "run_views",
    "set_run_views",
]
