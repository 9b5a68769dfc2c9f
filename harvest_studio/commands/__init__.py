"""The command layer: one function per user command, shared by every front end.

The ``harvest`` CLI, the ``%harvest`` magics and (later) the HTTP API are thin shells over
these functions. A command takes an :class:`~harvest_studio.AsyncClient` (or, for the ``db``
commands, a database URL) and plain arguments, checks its input before it touches the
database, and returns data: a result object from :mod:`.results` (each with ``to_json()``)
or an engine object (:class:`~harvest_studio.RunInfo`, :class:`~harvest_studio.RunPage`).
Commands never print; :mod:`.render` turns their results into text and JSON.

Errors are the typed :class:`~harvest_studio.HarvestError` family; front ends map
:class:`~harvest_studio.UsageError` subclasses to "usage" (CLI exit 2, HTTP 400) and the
rest to "failure".
"""

from __future__ import annotations

from .apps import (
    load_app,
)
from .db import (
    db_migrate,
    db_status,
)
from .errors import (
    AppLoadError,
    BadFilterValueError,
    BadTimeError,
    InvalidResetPointError,
    NamespaceMissingError,
    NoResetPointError,
)
from .flow import (
    LIMIT_FLAGS,
    activity_limit,
    activity_list,
    activity_pause,
    activity_resume,
    parse_limit_value,
    parse_limits,
    queue_limit,
    queue_list,
    queue_pause,
    queue_resume,
)
from .inputs import (
    REAPPLY_MODES,
    RESET_TARGETS,
    RUN_STATUSES,
    SIGNAL_WITH_KEY,
    SIGNAL_WITH_TERMINATE,
    check_call,
    check_filter,
    check_reset,
    check_search_attribute_name,
    check_signal,
    check_start_options,
    parse_json_args,
    parse_payload,
    parse_search_attributes,
    parse_time,
)
from .namespaces import (
    namespace_create,
    namespace_delete,
    namespace_list,
)
from .resets import (
    reset,
    retry,
)
from .results import (
    App,
    DbStatus,
    FlowAction,
    LimitList,
    NamespaceAction,
    NamespaceInfo,
    NamespaceList,
    QueryAnswer,
    QueueList,
    ResetReport,
    RunAction,
    RunChain,
    RunHistory,
    RunResult,
    RunTree,
    StartedRun,
    UpdateOutcome,
)
from .runs import (
    chain,
    children,
    history,
    list_runs,
    rerun,
    result,
    show,
    signal_with_start,
    start,
)
from .talking import (
    cancel,
    pause,
    query,
    resume,
    signal,
    terminate,
    update,
)

__all__ = [
    "LIMIT_FLAGS",
    "REAPPLY_MODES",
    "RESET_TARGETS",
    "RUN_STATUSES",
    "SIGNAL_WITH_KEY",
    "SIGNAL_WITH_TERMINATE",
    "App",
    "AppLoadError",
    "BadFilterValueError",
    "BadTimeError",
    "DbStatus",
    "FlowAction",
    "InvalidResetPointError",
    "LimitList",
    "NamespaceAction",
    "NamespaceInfo",
    "NamespaceList",
    "NamespaceMissingError",
    "NoResetPointError",
    "QueryAnswer",
    "QueueList",
    "ResetReport",
    "RunAction",
    "RunChain",
    "RunHistory",
    "RunResult",
    "RunTree",
    "StartedRun",
    "UpdateOutcome",
    "activity_limit",
    "activity_list",
    "activity_pause",
    "activity_resume",
    "cancel",
    "chain",
    "check_call",
    "check_filter",
    "check_reset",
    "check_search_attribute_name",
    "check_signal",
    "check_start_options",
    "children",
    "db_migrate",
    "db_status",
    "history",
    "list_runs",
    "load_app",
    "namespace_create",
    "namespace_delete",
    "namespace_list",
    "parse_json_args",
    "parse_limit_value",
    "parse_limits",
    "parse_payload",
    "parse_search_attributes",
    "parse_time",
    "pause",
    "query",
    "queue_limit",
    "queue_list",
    "queue_pause",
    "queue_resume",
    "rerun",
    "reset",
    "result",
    "resume",
    "retry",
    "show",
    "signal",
    "signal_with_start",
    "start",
    "terminate",
    "update",
]
