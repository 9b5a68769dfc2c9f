"""Everything that talks SQL, and nothing outside ``store/`` builds SQL.

``connection`` finds the database (or starts the embedded server) and migrates it;
``schema`` applies the schema migrations; one module per table family holds its
statements (``registry``, ``namespaces``, ``runs``, ``claims``, ``decisions``,
``outcomes``, ``inbox``, ``queries``, ``timers``, ``reads``, ``flow``, ``audit``,
``tokens``, ``feeds``); ``filters`` compiles run
filter expressions to SQL. Callers use the names re-exported here.

Every statement is parameterised; callers pass plain values. Text arrays (JSON payloads
above all) are sent in binary (``%b``): the text form escapes every quote of every payload,
a tenth of the worker's CPU. Arrays of numbers stay in text: in binary psycopg picks int2,
int4 or int8 by the values, and each new combination of types is a new prepared statement
(parsing the decision statement again costs more than the escaping saved). Transactions are owned by
the caller unless a function says otherwise; functions that need several statements to be
atomic open their own ``conn.transaction()`` (a savepoint if one is already open).
"""

from __future__ import annotations

from ._sql import (
    FLOW_CHANGED,
    OPEN_STATUSES,
    QUERIES_CHANNEL,
    RUNS_CHANNEL,
    TASKS_CHANNEL,
    Row,
    is_transient,
    is_unique_violation,
    rolled_back,
)
from .audit import AuditEntry, append_audit, read_audit
from .claims import (
    claim_tasks,
    release_task,
    renew_leases,
)
from .clock import CLOCK_MOVED
from .clock import engine_now_async as engine_now
from .clock import pool_options as clock_pool_options
from .decisions import (
    ChildStart,
    Continuation,
    Decision,
    DecisionOutcome,
    NewActivity,
    block_run,
    commit_decisions,
    load_for_decisions,
    load_history_tails,
    load_inbox,
)
from .exports import EVENT_COLUMNS, RUN_COLUMNS, export_runs_and_events
from .feeds import run_changes, run_progress
from .filters import (
    RunFilter,
    compile_filter,
)
from .flow import (
    LIMIT_FIELDS,
    SCOPES,
    ThrottledClaim,
    admit_runs,
    change_flow_limit,
    claim_throttled,
    flow_limits,
    queue_overview,
)
from .inbox import (
    apply_parent_close_policies,
    close_runs,
    get_update,
    queue_event,
    record_update_outcomes,
    request_update,
    reset_run,
    set_paused,
)
from .namespaces import (
    create_namespace,
    delete_namespace,
    list_namespaces,
    namespace_exists,
)
from .outcomes import (
    ActivityOutcome,
    ActivityOutcomeResult,
    AttemptText,
    apply_activity_outcomes,
    heartbeat_activity,
)
from .queries import (
    answer_query,
    forget_query,
    get_query,
    run_last_seq,
    submit_query,
)
from .reads import (
    attempt_logs,
    chain_head,
    dead_letters,
    get_history,
    get_run,
    list_runs,
    run_activity_summary,
    run_chain,
    run_status,
    run_tree,
)
from .registry import (
    Registration,
    dag_types,
    register_types,
    registered_workflow,
    registered_workflow_names,
    set_worker_status,
    unserved_queues,
    upsert_worker,
    workflow_details,
    workflow_registration,
)
from .runs import (
    find_run_by_idempotency_key,
    insert_run,
    latest_run_for_id,
)
from .schedules import (
    claim_and_start_slot,
    claim_slot,
    delete_schedule,
    get_schedule,
    list_schedules,
    lock_due_schedules,
    mark_slot_started,
    next_fire_at,
    oldest_buffered_slot,
    read_log,
    slot_runs,
    start_slot_run,
    stop_run,
    sync_declared_schedule,
    unclaim_start,
    update_schedule,
    update_schedules,
    upsert_schedule,
)
from .schedules import log as log_schedule
from .schedules import log_entries as log_schedule_entries
from .schema import (
    MIGRATION_LOCK,
    Migration,
    applied_migrations,
    available_migrations,
    migrate,
)
from .timers import (
    fire_due_timers,
    lock_timed_out_activities,
    reclaim_expired_leases,
    seconds_to_next_timer,
    time_out_runs,
)
from .tokens import insert_token, list_tokens, revoke_token, token_by_secret

__all__ = [
    "CLOCK_MOVED",
    "EVENT_COLUMNS",
    "FLOW_CHANGED",
    "LIMIT_FIELDS",
    "MIGRATION_LOCK",
    "OPEN_STATUSES",
    "QUERIES_CHANNEL",
    "RUNS_CHANNEL",
    "RUN_COLUMNS",
    "SCOPES",
    "TASKS_CHANNEL",
    "ActivityOutcome",
    "ActivityOutcomeResult",
    "AttemptText",
    "AuditEntry",
    "ChildStart",
    "Continuation",
    "Decision",
    "DecisionOutcome",
    "Migration",
    "NewActivity",
    "Registration",
    "Row",
    "RunFilter",
    "ThrottledClaim",
    "admit_runs",
    "answer_query",
    "append_audit",
    "applied_migrations",
    "apply_activity_outcomes",
    "apply_parent_close_policies",
    "attempt_logs",
    "available_migrations",
    "block_run",
    "chain_head",
    "change_flow_limit",
    "claim_and_start_slot",
    "claim_slot",
    "claim_tasks",
    "claim_throttled",
    "clock_pool_options",
    "close_runs",
    "commit_decisions",
    "compile_filter",
    "create_namespace",
    "dag_types",
    "dead_letters",
    "delete_namespace",
    "delete_schedule",
    "engine_now",
    "export_runs_and_events",
    "find_run_by_idempotency_key",
    "fire_due_timers",
    "flow_limits",
    "forget_query",
    "get_history",
    "get_query",
    "get_run",
    "get_schedule",
    "get_update",
    "heartbeat_activity",
    "insert_run",
    "insert_token",
    "is_transient",
    "is_unique_violation",
    "latest_run_for_id",
    "list_namespaces",
    "list_runs",
    "list_schedules",
    "list_tokens",
    "load_for_decisions",
    "load_history_tails",
    "load_inbox",
    "lock_due_schedules",
    "lock_timed_out_activities",
    "log_schedule",
    "log_schedule_entries",
    "mark_slot_started",
    "migrate",
    "namespace_exists",
    "next_fire_at",
    "oldest_buffered_slot",
    "queue_event",
    "queue_overview",
    "read_audit",
    "read_log",
    "reclaim_expired_leases",
    "record_update_outcomes",
    "register_types",
    "registered_workflow",
    "registered_workflow_names",
    "release_task",
    "renew_leases",
    "request_update",
    "reset_run",
    "revoke_token",
    "rolled_back",
    "run_activity_summary",
    "run_chain",
    "run_changes",
    "run_last_seq",
    "run_progress",
    "run_status",
    "run_tree",
    "seconds_to_next_timer",
    "set_paused",
    "set_worker_status",
    "slot_runs",
    "start_slot_run",
    "stop_run",
    "submit_query",
    "sync_declared_schedule",
    "time_out_runs",
    "token_by_secret",
    "unclaim_start",
    "unserved_queues",
    "update_schedule",
    "update_schedules",
    "upsert_schedule",
    "upsert_worker",
    "workflow_details",
    "workflow_registration",
]
