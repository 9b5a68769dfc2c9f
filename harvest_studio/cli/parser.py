"""The argparse parser of ``harvest``: global options (accepted before or after the
subcommand) and one subparser per command, each bound to its handler."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn

from .. import commands
from .._version import __version__
from ..client import ID_CONFLICT_POLICIES, ID_REUSE_POLICIES, KEEP
from ..commands.argtypes import nonnegative_int, positive_int, seconds
from ..commands.render.dag_graph import ENGINES
from ..model.schedules import OVERLAP_POLICIES
from .common import PROG, CommandLineError
from .handlers_analysis import _cmd_export, _cmd_lint, _cmd_replay_check
from .handlers_dags import (
    _cmd_dag_graph,
    _cmd_dag_list,
    _cmd_dag_mark,
    _cmd_dag_retry,
    _cmd_dag_runs,
    _cmd_dag_show,
)
from .handlers_flow import (
    _cmd_flow_limit,
    _cmd_flow_list,
    _cmd_flow_pause,
    _cmd_flow_resume,
    _cmd_workflow_limit,
)
from .handlers_operations import _cmd_db_stop, _cmd_namespace_retention
from .handlers_ops import (
    _cmd_db_migrate,
    _cmd_db_status,
    _cmd_demo,
    _cmd_namespace_create,
    _cmd_namespace_delete,
    _cmd_namespace_list,
    _cmd_query,
    _cmd_run_action,
    _cmd_signal,
    _cmd_update,
    _cmd_worker,
)
from .handlers_runs import (
    _cmd_chain,
    _cmd_children,
    _cmd_history,
    _cmd_list,
    _cmd_rerun,
    _cmd_reset,
    _cmd_result,
    _cmd_retry,
    _cmd_show,
    _cmd_start,
)
from .handlers_schedules import (
    _cmd_schedule_backfill,
    _cmd_schedule_create,
    _cmd_schedule_delete,
    _cmd_schedule_list,
    _cmd_schedule_log,
    _cmd_schedule_pause,
    _cmd_schedule_preview,
    _cmd_schedule_show,
    _cmd_schedule_trigger,
)
from .parser_operations import operations_commands
from .studio import _cmd_studio


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        where = self.prog.partition(" ")[2]
        prefix = f"{where}: " if where else ""
        raise CommandLineError(f"{prefix}{message} (see `{self.prog} --help`)")


class _IntermixedParser(_Parser):
    """A subcommand whose JSON arguments may follow its options (``schedule create NAME
    --workflow W --every 1h '"x"'``): positionals and options are parsed intermixed."""

    _intermixing = False

    def parse_known_args(  # type: ignore[override]
        self, args: Any = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._intermixing:  # parse_known_intermixed_args calls back in here
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options every command takes; repeated on subcommands so they may come after."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--database-url",
        metavar="URL",
        default=default(None),
        help="PostgreSQL URL (default: $HARVEST_DATABASE_URL, else the project's embedded one)",
    )
    parser.add_argument(
        "--namespace", default=default("default"), help="namespace (default: default)"
    )
    parser.add_argument(
        "--json", action="store_true", default=default(False), help="print JSON"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Harvest Studio: durable workflows on PostgreSQL.",
        epilog="Exit codes: 0 ok, 1 failure, 2 usage error. Try `harvest demo`.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _global_options(parser, suppress=False)
    common = _Parser(add_help=False)
    _global_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help: str, handler: Callable[[argparse.Namespace], int],
                on: Any = sub) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = on.add_parser(
            name, help=help, description=help, parents=[common]
        )
        p.set_defaults(handler=handler)
        return p

    db = sub.add_parser("db", help="database schema", description="database schema")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    command("migrate", "apply pending migrations", _cmd_db_migrate, db_sub)
    command("status", "show applied and pending migrations", _cmd_db_status, db_sub)
    command("stop", "stop the project's embedded PostgreSQL (the next command starts it)",
            _cmd_db_stop, db_sub)

    p = command("worker", "serve the workflows and activities of a module", _cmd_worker)
    p.add_argument("module", metavar="MODULE", help="importable module, e.g. app.workflows")
    p.add_argument("--queue", action="append", metavar="Q",
                   help="queue to serve (repeatable; default: the queues the definitions use)")
    p.add_argument("--concurrency", type=positive_int, metavar="N",
                   help="tasks run at once (default 32)")
    p.add_argument("--log-level", default="INFO",
                   choices=["DEBUG", "INFO", "WARNING", "ERROR"])

    p = command("start", "start a workflow run", _cmd_start)
    p.add_argument("workflow", metavar="WORKFLOW", help="workflow type name")
    p.add_argument("args", nargs="*", default=[], metavar="ARGS_JSON",
                   help="arguments, each one JSON value: 42 '\"ada\"' '{\"a\": 1}'")
    p.add_argument("--id", help="workflow id (default: the run id)")
    p.add_argument("--id-reuse-policy", choices=ID_REUSE_POLICIES, default="allow_duplicate",
                   help="when the id was used before: allow_duplicate (default), "
                        "allow_duplicate_failed_only, reject_duplicate; "
                        "terminate_if_running also ends an open run of the id first")
    p.add_argument("--id-conflict-policy", choices=ID_CONFLICT_POLICIES, default="fail",
                   help="while a run of the id is open: fail (default, exit 1) or "
                        "use_existing (print the open run, start nothing)")
    p.add_argument("--idempotency-key", help="a repeated key returns the first run")
    p.add_argument("--search-attribute", action="append", metavar="KEY=JSON",
                   help="indexed attribute for `list --query`, e.g. customer='\"acme\"' "
                        "amount=150 (repeatable)")
    p.add_argument("--memo", metavar="JSON", help="a JSON value stored with the run")
    p.add_argument("--start-delay", type=seconds, metavar="DURATION",
                   help="hold the first workflow task back this long, e.g. 10m")
    p.add_argument("--execution-timeout", metavar="DURATION", help="e.g. 30s, 5m, 2h")
    p.add_argument("--queue", help="queue of the workflow tasks (default: the registered one)")
    p.add_argument("--priority", type=int, metavar="N",
                   help="-1000..1000, higher is claimed first within the queue (default 0)")
    p.add_argument("--fairness-key", metavar="KEY",
                   help="runs of different keys (tenants) take turns in the queue")
    p.add_argument("--force", action="store_true",
                   help="start even if no worker ever registered this workflow type")
    p.add_argument("--wait", action="store_true", help="wait for the run to end")
    p.add_argument("--timeout", type=seconds, metavar="DURATION",
                   help="with --wait: give up waiting after this long (exit 1)")
    p.add_argument("--signal", metavar="NAME",
                   help="signal-with-start (needs --id): signal the open run of the id, "
                        "else start one with this signal delivered first")
    p.add_argument("--signal-payload", metavar="JSON", help="with --signal: its JSON payload")

    p = command("result", "wait for a run to end and print its result", _cmd_result)
    p.add_argument("ref", metavar="REF", help="run id or workflow id")
    p.add_argument("--timeout", type=seconds, metavar="DURATION")

    p = command("list", "list runs, newest first", _cmd_list)
    p.add_argument("--type", help="workflow type")
    p.add_argument("--status", action="append",
                   help=f"{', '.join(commands.RUN_STATUSES)} (any case; repeatable or "
                        "comma-separated)")
    p.add_argument("--since", metavar="TIME", help="started at/after: ISO-8601 or an age (2h)")
    p.add_argument("--until", metavar="TIME", help="started before: ISO-8601 or an age")
    p.add_argument("--workflow-id", help="runs of this workflow id")
    p.add_argument("--blocked", action="store_true", help="only blocked runs")
    p.add_argument("--query", metavar="FILTER",
                   help='filter on search attributes and built-in fields, e.g. '
                        '\'customer = "acme" AND amount > 100\'')
    p.add_argument("--limit", type=positive_int, default=50)
    p.add_argument("--page-token", help="from the previous page")

    p = command("show", "show one run: status, blocked reason, pending work, error", _cmd_show)
    p.add_argument("ref", metavar="REF", help="run id or workflow id")

    p = command("history", "show a run's event history", _cmd_history)
    p.add_argument("ref", metavar="REF", help="run id or workflow id")
    p.add_argument("--after-seq", type=nonnegative_int, default=0, metavar="N")
    p.add_argument("--limit", type=positive_int, metavar="N")

    p = command("signal", "send a signal to a running run", _cmd_signal)
    p.add_argument("ref", metavar="REF", help="run id or workflow id")
    p.add_argument("name", metavar="NAME", help="signal name")
    p.add_argument("payload", nargs="?", metavar="PAYLOAD_JSON",
                   help="one JSON value (default: null)")
    p.add_argument("--idempotency-key", metavar="K",
                   help="a repeated key is ignored (exit 0, says duplicate)")

    for name, help in (
        ("cancel", "ask a running run to cancel (its code may compensate; ends CANCELLED)"),
        ("terminate", "end a running run at once (no code runs; ends TERMINATED)"),
        ("pause", "hold a running run's workflow tasks until `harvest resume`"),
        ("resume", "let a paused run continue"),
    ):
        p = command(name, help, _cmd_run_action)
        p.add_argument("ref", metavar="REF", help="run id or workflow id")
        p.add_argument("--reason", help="recorded in the run's history")

    p = command("query", "ask a run a question its query handler answers (writes nothing)",
                _cmd_query)
    p.add_argument("ref", metavar="REF", help="run id or workflow id")
    p.add_argument("name", metavar="NAME", help="query name")
    p.add_argument("args", nargs="*", default=[], metavar="ARGS_JSON",
                   help="arguments, each one JSON value")
    p.add_argument("--timeout", type=seconds, default=5.0, metavar="DURATION",
                   help="give up if no worker answers within this long (default 5s; exit 1)")

    p = command("update", "send a running run an update and print its result", _cmd_update)
    p.add_argument("ref", metavar="REF", help="run id or workflow id")
    p.add_argument("name", metavar="NAME", help="update name")
    p.add_argument("args", nargs="*", default=[], metavar="ARGS_JSON",
                   help="arguments, each one JSON value")
    p.add_argument("--update-id", metavar="ID",
                   help="a repeated id returns the first outcome instead of updating again")
    p.add_argument("--timeout", type=seconds, default=30.0, metavar="DURATION",
                   help="give up waiting for the result after this long (default 30s; exit 1)")
    p.add_argument("--wait-for", choices=("completed", "admitted"), default="completed",
                   help="completed (default): print the handler's result; admitted: return "
                        "once the run admitted the update")

    p = command("reset", "make a new run from a run's history up to a completed point",
                _cmd_reset)
    p.add_argument("ref", metavar="REF", help="run id or workflow id")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--to-event", type=positive_int, metavar="N",
                        help="keep history up to and including event N (an inbound event)")
    target.add_argument("--to", choices=commands.RESET_TARGETS,
                        help="last_workflow_task: the last valid point; first_activity: the "
                             "last valid point before the first activity was scheduled")
    p.add_argument("--reapply-signals", choices=commands.REAPPLY_MODES, default="buffer",
                   help="signals recorded after the point: buffer (re-deliver, default) or drop")
    p.add_argument("--dry-run", action="store_true",
                   help="only say whether the point is valid and where the valid ones are")
    p.add_argument("--reason", help="recorded in both runs' history")

    p = command("retry", "reset a run to just before its last failed activity, so it runs "
                         "again", _cmd_retry)
    p.add_argument("ref", metavar="REF", help="run id or workflow id")
    p.add_argument("--reason", help="recorded in both runs' history (default: retry)")

    p = command("rerun", "start a fresh run of an ended run with its input and id", _cmd_rerun)
    p.add_argument("ref", metavar="REF", help="run id or workflow id")

    p = command("children", "show a run and its child runs as a tree", _cmd_children)
    p.add_argument("ref", metavar="REF", help="run id or workflow id")

    p = command("chain", "show the continue-as-new chain of a run, oldest first", _cmd_chain)
    p.add_argument("ref", metavar="REF", help="run id or workflow id")

    ns = sub.add_parser("namespace", help="namespaces", description="namespaces")
    ns_sub = ns.add_subparsers(dest="namespace_command", metavar="ACTION", required=True)
    p = command("create", "create a namespace", _cmd_namespace_create, ns_sub)
    p.add_argument("name", metavar="NAME", help="1-63 letters, digits, '-', '_' or '.'")
    p.add_argument("--description", help="shown by `harvest namespace list`")
    command("list", "list namespaces with their run counts", _cmd_namespace_list, ns_sub)
    p = command("retention", "keep a namespace's ended runs this long (`harvest purge` removes "
                             "older ones)", _cmd_namespace_retention, ns_sub)
    p.add_argument("name", metavar="NAME")
    p.add_argument("keep", metavar="DURATION|forever", help="e.g. 30d; forever lifts it")
    p = command("delete", "delete a namespace that has no runs", _cmd_namespace_delete, ns_sub)
    p.add_argument("name", metavar="NAME")

    for scope, about, listing, pausing, resuming in (
        ("queue", "queues: what they hold, pause and resume, rate limits and caps",
         "list queues with their ready, delayed and running tasks and their limits",
         "stop workers claiming from a queue (running attempts finish; queries are still "
         "answered)",
         "let workers claim from a paused queue again"),
        ("activity", "activity types: pause and resume, rate limits and caps",
         "list the limits on activity types",
         "hold new attempts of an activity type, in every queue (running ones finish)",
         "let attempts of a paused activity type start again"),
    ):
        group = sub.add_parser(scope, help=about, description=about)
        actions = group.add_subparsers(dest=f"{scope}_command", metavar="ACTION", required=True)
        command("list", listing, _cmd_flow_list, actions)
        for name, help, handler in (("pause", pausing, _cmd_flow_pause),
                                    ("resume", resuming, _cmd_flow_resume)):
            p = command(name, help, handler, actions)
            p.add_argument("name", metavar="NAME", help=f"{scope} name")
        p = command("limit", f"set or lift the rate limit and concurrency cap of {scope} NAME "
                             "across all workers (flags not given are kept)",
                    _cmd_flow_limit, actions)
        p.add_argument("name", metavar="NAME", help=f"{scope} name")
        p.add_argument("--rate", metavar="R|none", default=KEEP,
                       help="activity attempts started per second, e.g. 5 or 0.5; none "
                            "lifts it")
        p.add_argument("--burst", metavar="B|none", default=KEEP,
                       help="attempts that may start at once after a quiet spell (default: "
                            "one second's worth, at least 1); none lifts it")
        p.add_argument("--max-concurrent", metavar="N|none", default=KEEP,
                       help="attempts running at once across all workers (0 holds them "
                            "all); none lifts the cap")
        if scope == "queue":
            p.add_argument("--max-workflows", metavar="N|none", default=KEEP,
                           help="runs on the queue in progress at once; later ones wait at "
                                "their start (0 holds them all); none lifts it")

    about = "workflow types: how many runs may be in progress at once"
    group = sub.add_parser("workflow", help=about, description=about)
    actions = group.add_subparsers(dest="workflow_command", metavar="ACTION", required=True)
    command("list", "list the limits on workflow types", _cmd_flow_list, actions)
    p = command("limit", "set or lift how many runs of workflow type NAME may be in progress "
                         "at once, across all workers", _cmd_workflow_limit, actions)
    p.add_argument("name", metavar="NAME", help="workflow type")
    p.add_argument("--max-workflows", metavar="N|none", default=KEEP, required=True,
                   help="runs in progress at once; later ones wait at their start (0 holds "
                        "them all); none lifts the limit")

    _dag_commands(sub, command)
    _schedule_commands(sub, command)
    p = command("export", "write run histories out: the analysis tables as Parquet "
                          "partitioned by day, or each run's history as JSON", _cmd_export)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--parquet", metavar="DIR",
                      help="the analysis tables as Parquet, into a directory that does not "
                           "exist yet (or is empty)")
    what.add_argument("--histories", metavar="DIR",
                      help="one JSON file per run (DIR/<workflow>/<run id>.json), for "
                           "replay-check --histories and its pytest helper")
    p.add_argument("--type", action="append", metavar="WORKFLOW",
                   help="with --histories: only runs of this workflow type (repeatable)")
    p.add_argument("--since", metavar="WHEN",
                   help="runs created, open or closed since then: a duration back (7d) or an "
                        "ISO time (default: all)")
    p.add_argument("--all-namespaces", action="store_true",
                   help="every namespace (default: --namespace)")
    p = command("lint", "check workflow code for what breaks replay (wall clock, random, "
                        "I/O, ...): exit 0 clean, 1 findings, 2 usage", _cmd_lint)
    p.add_argument("targets", nargs="+", metavar="PATH|MODULE",
                   help="files, directories (searched recursively) or importable modules")
    p = command("replay-check", "replay the stored runs of a module's workflows against its "
                                "code as it is now: exit 1 if any would diverge",
                _cmd_replay_check)
    p.add_argument("module", metavar="MODULE", help="the module defining the workflows")
    p.add_argument("--since", metavar="WHEN",
                   help="runs started since then: an age (7d) or an ISO time (default: all)")
    p.add_argument("--type", action="append", metavar="WORKFLOW",
                   help="only this workflow type (repeatable; default: every one the module "
                        "defines)")
    p.add_argument("--sample", type=positive_int, metavar="N",
                   help="at most N runs per workflow type, chosen at random")
    p.add_argument("--histories", metavar="DIR",
                   help="replay the files `harvest export --histories` wrote instead of the "
                        "database's runs")
    command("demo", "run the onboarding demo with an in-process worker", _cmd_demo)
    p = command("studio", "open the studio: JupyterLab on the project's notebooks with the "
                          "Harvest sidebar, on the project's database", _cmd_studio)
    p.add_argument("--no-browser", action="store_true",
                   help="only print the address (for a server, or a browser elsewhere)")
    p.add_argument("--port", type=positive_int, help="port (default: 8888, or the next free)")
    p.add_argument("--ip", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--root", metavar="DIR",
                   help="the notebooks' directory (default: the project's directory)")
    operations_commands(sub, command)
    return parser


_Command = Callable[..., argparse.ArgumentParser]


def _dag_commands(sub: Any, command: _Command) -> None:
    about = "DAG runs node by node, their graphs, retrying failed nodes, marking a node"
    group = sub.add_parser("dag", help=about, description=about)
    actions = group.add_subparsers(dest="dag_command", metavar="ACTION", required=True)
    command("list", "the DAGs of the namespace, with their newest run", _cmd_dag_list, actions)
    p = command("show", "a DAG run: its status and a table of its nodes (state, attempts, "
                        "start, duration, error)", _cmd_dag_show, actions)
    p.add_argument("ref", metavar="RUN", help="run id or workflow id of a DAG run")
    p.add_argument("--items", action="store_true",
                   help="list each map's items after it (default: folded into its row)")
    p = command("graph", "draw a DAG run (each node coloured by its state) or a DAG as SVG",
                _cmd_dag_graph, actions)
    p.add_argument("target", metavar="DAG|RUN",
                   help="a run id or workflow id, or a DAG name (its newest registered "
                        "graph, every node pending)")
    p.add_argument("run", metavar="RUN", nargs="?",
                   help="after a DAG name: one of its runs (the same as giving the run alone)")
    p.add_argument("-o", "--output", metavar="FILE.svg",
                   help="write the SVG to this file (default: print it)")
    p.add_argument("--engine", choices=ENGINES, default="auto",
                   help="auto (default): Graphviz's dot when installed, else the Python "
                        "layout; dot: require Graphviz; python: the Python layout")
    p = command("runs", "a DAG's runs, newest first, with their nodes by state",
                _cmd_dag_runs, actions)
    p.add_argument("dag", metavar="DAG", help="DAG name")
    p.add_argument("--limit", type=positive_int, default=20, metavar="N",
                   help="at most N runs (default 20)")
    p = command("retry", "start a new run of an ended DAG run that keeps what succeeded and "
                         "runs its failed nodes again", _cmd_dag_retry, actions)
    p.add_argument("ref", metavar="RUN", help="run id or workflow id of a DAG run")
    p = command("mark", "end a node of a running DAG run by hand: succeeded (with --result) "
                        "or --skipped", _cmd_dag_mark, actions)
    p.add_argument("ref", metavar="RUN", help="run id or workflow id of a DAG run")
    p.add_argument("node", metavar="NODE", help="node name")
    p.add_argument("--skipped", action="store_true", help="mark it skipped (default: succeeded)")
    p.add_argument("--result", metavar="JSON",
                   help="its result, one JSON value, handed to its downstream nodes")
    p.add_argument("--by", metavar="WHO", help="who marked it (recorded in the history)")
    p.add_argument("--reason", metavar="TEXT", help="why (recorded in the history)")


def _schedule_commands(sub: Any, command: _Command) -> None:
    about = "schedules: start runs of a workflow or DAG on a cron expression or an interval"
    group = sub.add_parser("schedule", help=about, description=about)
    actions = group.add_subparsers(dest="schedule_command", metavar="ACTION", required=True,
                                   parser_class=_IntermixedParser)

    def name(p: argparse.ArgumentParser) -> None:
        p.add_argument("name", metavar="NAME", help="schedule name")

    p = command("create", "create a schedule", _cmd_schedule_create, actions)
    name(p)
    p.add_argument("args", nargs="*", default=[], metavar="ARGS_JSON",
                   help="the workflow's arguments, each one JSON value")
    p.add_argument("--workflow", required=True, metavar="W", help="workflow or DAG name")
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", metavar="EXPR",
                      help="five-field cron expression or @hourly/@daily/..., e.g. '0 2 * * *'")
    when.add_argument("--every", metavar="DURATION", help="an interval, e.g. 15m (>= 1s)")
    p.add_argument("--timezone", metavar="TZ",
                   help="IANA zone the cron expression is read in (default UTC)")
    p.add_argument("--overlap", default="skip", metavar="POLICY",
                   help=f"while the previous run is going: {', '.join(OVERLAP_POLICIES)} "
                        "(default skip)")
    p.add_argument("--catchup", default="most_recent", metavar="POLICY",
                   help="slots missed during downtime: skip_all, most_recent (default), all, "
                        "window:DURATION")
    p.add_argument("--jitter", metavar="DURATION",
                   help="delay each slot's start by a fixed per-slot amount below this")
    p.add_argument("--start-at", metavar="ISO", help="no slot before this time")
    p.add_argument("--end-at", metavar="ISO", help="no slot after this time")
    p.add_argument("--max-runs", type=positive_int, metavar="N", help="stop after N runs")
    p.add_argument("--failure-limit", type=positive_int, metavar="N",
                   help="pause after N failed runs in a row")
    p.add_argument("--paused", action="store_true", help="create it paused")
    p.add_argument("--note", metavar="TEXT", help="shown by `schedule show`")
    p.add_argument("--replace", action="store_true",
                   help="overwrite a schedule of that name (else exit 2)")

    command("list", "list the schedules with their next firing", _cmd_schedule_list, actions)
    p = command("show", "one schedule: what it starts, when, its policies, where it stands",
                _cmd_schedule_show, actions)
    name(p)
    p = command("preview", "the next slots of a saved schedule (NAME) or of --cron/--every, in "
                           "its timezone and in UTC (a spec not saved touches no database)",
                _cmd_schedule_preview, actions)
    p.add_argument("name", nargs="?", metavar="NAME", help="a saved schedule")
    p.add_argument("--cron", metavar="EXPR", help="preview this cron expression")
    p.add_argument("--every", metavar="DURATION", help="preview this interval")
    p.add_argument("--timezone", metavar="TZ", help="with --cron/--every: its zone (default UTC)")
    p.add_argument("--from", dest="start", metavar="ISO",
                   help="slots after this time (default: a saved schedule's next slot, else now)")
    p.add_argument("--count", type=positive_int, default=commands.PREVIEW_COUNT, metavar="N",
                   help=f"how many slots (default {commands.PREVIEW_COUNT})")
    for verb, help in (("pause", "stop starting runs (slots that pass meanwhile are not caught "
                                 "up)"),
                       ("resume", "start runs again from the next slot after now")):
        p = command(verb, help, _cmd_schedule_pause, actions)
        name(p)
        p.add_argument("--note", metavar="TEXT", help="recorded in the log and shown by `show`")
    p = command("trigger", "start a run of the schedule now, whatever its overlap policy",
                _cmd_schedule_trigger, actions)
    name(p)
    p = command("backfill", "start the run of every slot in a window that has none (a second "
                            "backfill starts nothing new)", _cmd_schedule_backfill, actions)
    name(p)
    p.add_argument("--from", dest="start", required=True, metavar="ISO",
                   help="first time of the window")
    p.add_argument("--to", dest="end", required=True, metavar="ISO",
                   help="last time of the window")
    p = command("delete", "delete a schedule (its runs and log are kept)",
                _cmd_schedule_delete, actions)
    name(p)
    p = command("log", "a schedule's decisions, newest first", _cmd_schedule_log, actions)
    name(p)
    p.add_argument("--limit", type=positive_int, default=50, metavar="N",
                   help="at most N entries (default 50)")
