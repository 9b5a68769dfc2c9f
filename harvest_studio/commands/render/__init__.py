"""Human renderings of command results, and :func:`to_json` / :func:`dumps` for any of them.

Plain text only (ASCII punctuation, no colour, no extra dependency), so the same strings
serve a terminal, a log file and a notebook cell. Times are shown in local time.
:mod:`.format` holds the shared formatters; :mod:`.runs`, :mod:`.history`,
:mod:`.actions`, :mod:`.flow`, :mod:`.dags` and :mod:`.schedules` render the results of
the commands (times of schedules also in the schedule's timezone and UTC). The one picture
is :mod:`.dag_graph`: a DAG's graph as SVG (Graphviz's ``dot`` when installed, else the
layered layout of :mod:`.dag_layout`).
"""

from __future__ import annotations

from .actions import (
    render_action,
    render_db_status,
    render_namespace_action,
    render_namespaces,
    render_query,
    render_reset,
    render_result,
    render_started,
    render_update,
)
from .dag_graph import (
    PALETTE,
    DagGraph,
    dag_svg,
)
from .dags import (
    describe_states,
    node_state,
    render_dag_list,
    render_dag_picture,
    render_dag_retry,
    render_dag_run,
    render_dag_runs,
    render_node_mark,
)
from .dead_letters import (
    dlq_groups_html,
    render_dlq_action,
    render_dlq_detail,
    render_dlq_groups,
    render_dlq_list,
)
from .flow import (
    describe_limits,
    render_flow_action,
    render_limits,
    render_queues,
)
from .format import (
    CELL_WIDTH,
    ELLIPSIS,
    compact,
    dumps,
    fmt_clock,
    fmt_duration,
    fmt_time,
    key_values,
    shorten,
    table,
    to_json,
)
from .history import (
    render_history,
    summarize,
)
from .operations import (
    render_audit,
    render_deliveries,
    render_hook_added,
    render_hooks,
    render_purge,
    render_token_created,
    render_token_revoked,
    render_tokens,
    render_worker_drained,
    render_workers,
)
from .runs import (
    render_chain,
    render_run,
    render_runs,
    render_tree,
    run_status,
    waiting_for_worker,
)
from .schedules import (
    render_preview,
    render_schedule,
    render_schedule_action,
    render_schedule_log,
    render_schedule_runs,
    render_schedules,
    zoned,
)

__all__ = [
    "CELL_WIDTH",
    "ELLIPSIS",
    "PALETTE",
    "DagGraph",
    "compact",
    "dag_svg",
    "describe_limits",
    "describe_states",
    "dlq_groups_html",
    "dumps",
    "fmt_clock",
    "fmt_duration",
    "fmt_time",
    "key_values",
    "node_state",
    "render_action",
    "render_audit",
    "render_chain",
    "render_dag_list",
    "render_dag_picture",
    "render_dag_retry",
    "render_dag_run",
    "render_dag_runs",
    "render_db_status",
    "render_deliveries",
    "render_dlq_action",
    "render_dlq_detail",
    "render_dlq_groups",
    "render_dlq_list",
    "render_flow_action",
    "render_history",
    "render_hook_added",
    "render_hooks",
    "render_limits",
    "render_namespace_action",
    "render_namespaces",
    "render_node_mark",
    "render_preview",
    "render_purge",
    "render_query",
    "render_queues",
    "render_reset",
    "render_result",
    "render_run",
    "render_runs",
    "render_schedule",
    "render_schedule_action",
    "render_schedule_log",
    "render_schedule_runs",
    "render_schedules",
    "render_started",
    "render_token_created",
    "render_token_revoked",
    "render_tokens",
    "render_tree",
    "render_update",
    "render_worker_drained",
    "render_workers",
    "run_status",
    "shorten",
    "summarize",
    "table",
    "to_json",
    "waiting_for_worker",
    "zoned",
]
