"""The command line of ``%harvest``: its argparse parser and help text, splitting a magic
line into words, and harvest errors as IPython's one-line ``UsageError``."""

from __future__ import annotations

import argparse
import shlex
import textwrap
from typing import Any, NoReturn

import psycopg
from IPython.core.error import UsageError as IPythonUsageError

from ... import commands
from ...client import DLQ_KINDS, ID_CONFLICT_POLICIES, ID_REUSE_POLICIES, KEEP
from ...commands.argtypes import nonnegative_int, positive_int, seconds
from ...commands.render.dag_graph import ENGINES
from ...model.errors import HarvestError
from ...model.schedules import OVERLAP_POLICIES

PROG = "%harvest"
REF_COMMANDS = (
    "show", "history", "result", "signal", "cancel", "terminate", "pause", "resume",
    "query", "update", "reset", "retry", "rerun", "children", "chain", "replay", "explore",
    "profile",
)
WORKER_ACTIONS = ("start", "stop", "status", "log")
# flow control: `%harvest queue ACTION ...`, `%harvest activity ACTION ...`, `%harvest
# workflow list|limit ...`
FLOW_COMMANDS = ("queue", "activity", "workflow")
FLOW_ACTIONS = ("list", "pause", "resume", "limit")
# `%harvest dag ACTION ...`, `%harvest schedule ACTION ...`
DAG_ACTIONS = ("list", "show", "graph", "runs", "retry", "mark")
SCHEDULE_ACTIONS = (
    "create", "list", "show", "preview", "pause", "resume", "trigger", "backfill", "delete",
    "log",
)
# the actions whose first positional argument is a schedule name
SCHEDULE_NAMED = ("show", "preview", "pause", "resume", "trigger", "backfill", "delete", "log")
# commands whose Python arguments may come from the cell body (%%harvest)
CELL_COMMANDS = ("start", "signal", "query", "update", "sql")


# ---------------------------------------------------------------------------------------
# the command line of %harvest
# ---------------------------------------------------------------------------------------
class _HelpShown(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class _Parser(argparse.ArgumentParser):
    """Raises IPython's ``UsageError`` instead of printing and exiting; ``-h`` returns the
    help as the command's output."""

    def error(self, message: str) -> NoReturn:
        where = self.prog.partition(" ")[2]
        prefix = f"{where}: " if where else ""
        hint = f"{self.prog} -h" if where else f"{PROG}?"
        raise IPythonUsageError(f"usage_error: {prefix}{message} (see `{hint}`)")

    def print_help(self, file: Any = None) -> None:
        raise _HelpShown(self.format_help())

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise IPythonUsageError(f"usage_error: {message or 'bad arguments'}".strip())


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


def build_parser() -> _Parser:
    """The parser of the ``%harvest`` line; subcommands and options follow ``harvest``."""
    parser = _Parser(
        prog=PROG,
        description="Harvest Studio in the notebook: the `harvest` commands as a magic.",
        epilog=(
            "`%harvest COMMAND -h` shows a command's options. Arguments are JSON values as "
            "on the command line; in a %%harvest cell, start/signal/query/update take them "
            "from the cell body instead, a Python expression (a tuple = several arguments)."
        ),
        add_help=False,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help)
        return p

    def ref(p: argparse.ArgumentParser) -> None:
        p.add_argument("ref", metavar="REF", help="run id or workflow id")

    p = command("start", "start a workflow run (WORKFLOW: defined in this notebook, or "
                         "registered by a worker)")
    p.add_argument("workflow", metavar="WORKFLOW", help="workflow name")
    p.add_argument("args", nargs="*", default=[], metavar="ARGS_JSON",
                   help="arguments, each one JSON value: 42 '\"ada\"' '{\"a\": 1}'")
    p.add_argument("--id", help="workflow id (default: the run id)")
    p.add_argument("--id-reuse-policy", choices=ID_REUSE_POLICIES, default="allow_duplicate")
    p.add_argument("--id-conflict-policy", choices=ID_CONFLICT_POLICIES, default="fail")
    p.add_argument("--idempotency-key", help="a repeated key returns the first run")
    p.add_argument("--search-attribute", action="append", metavar="KEY=JSON",
                   help="indexed attribute for `list --query` (repeatable)")
    p.add_argument("--memo", metavar="JSON", help="a JSON value stored with the run")
    p.add_argument("--start-delay", type=seconds, metavar="DURATION")
    p.add_argument("--execution-timeout", metavar="DURATION", help="e.g. 30s, 5m, 2h")
    p.add_argument("--queue", help="queue of the workflow tasks")
    p.add_argument("--priority", type=int, metavar="N", help="-1000..1000, higher first")
    p.add_argument("--fairness-key", metavar="KEY", help="runs of different keys take turns")
    p.add_argument("--force", action="store_true",
                   help="start even if no worker ever registered this workflow type")
    p.add_argument("--wait", action="store_true", help="wait for the run to end")
    p.add_argument("--timeout", type=seconds, metavar="DURATION",
                   help="with --wait: give up waiting after this long")
    p.add_argument("--signal", metavar="NAME",
                   help="signal-with-start (needs --id): signal the open run of the id, else "
                        "start one with this signal delivered first")
    p.add_argument("--signal-payload", metavar="JSON", help="with --signal: its JSON payload")

    p = command("list", "list runs, newest first")
    p.add_argument("--type", help="workflow type")
    p.add_argument("--status", action="append",
                   help=f"{', '.join(commands.RUN_STATUSES)} (repeatable or comma-separated)")
    p.add_argument("--since", metavar="TIME", help="started at/after: ISO-8601 or an age (2h)")
    p.add_argument("--until", metavar="TIME", help="started before: ISO-8601 or an age")
    p.add_argument("--workflow-id", help="runs of this workflow id")
    p.add_argument("--blocked", action="store_true", help="only blocked runs")
    p.add_argument("--query", metavar="FILTER", help="filter, e.g. 'customer = \"acme\"'")
    p.add_argument("--limit", type=positive_int, help="default: display_limit")
    p.add_argument("--page-token", help="from the previous page")

    p = command("show", "show one run: status, blocked reason, pending work, error")
    ref(p)

    p = command("history", "show a run's event history")
    ref(p)
    p.add_argument("--after-seq", type=nonnegative_int, default=0, metavar="N")
    p.add_argument("--limit", type=positive_int, metavar="N")

    p = command("result", "wait for a run to end and show how it ended")
    ref(p)
    p.add_argument("--timeout", type=seconds, metavar="DURATION")

    p = command("signal", "send a signal to a running run")
    ref(p)
    p.add_argument("name", metavar="NAME", help="signal name")
    p.add_argument("payload", nargs="?", metavar="PAYLOAD_JSON", help="one JSON value")
    p.add_argument("--idempotency-key", metavar="K", help="a repeated key is ignored")

    for name, help in (
        ("cancel", "ask a running run to cancel (its code may compensate; ends CANCELLED)"),
        ("terminate", "end a running run at once (no code runs; ends TERMINATED)"),
        ("pause", "hold a running run's workflow tasks until `%harvest resume`"),
        ("resume", "let a paused run continue"),
    ):
        p = command(name, help)
        ref(p)
        p.add_argument("--reason", help="recorded in the run's history")

    p = command("query", "ask a run a question its query handler answers (writes nothing)")
    ref(p)
    p.add_argument("name", metavar="NAME", help="query name")
    p.add_argument("args", nargs="*", default=[], metavar="ARGS_JSON")
    p.add_argument("--timeout", type=seconds, default=5.0, metavar="DURATION")

    p = command("update", "send a running run an update and show its result")
    ref(p)
    p.add_argument("name", metavar="NAME", help="update name")
    p.add_argument("args", nargs="*", default=[], metavar="ARGS_JSON")
    p.add_argument("--update-id", metavar="ID")
    p.add_argument("--timeout", type=seconds, default=30.0, metavar="DURATION")
    p.add_argument("--wait-for", choices=("completed", "admitted"), default="completed")

    p = command("reset", "make a new run from a run's history up to a completed point")
    ref(p)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--to-event", type=positive_int, metavar="N")
    target.add_argument("--to", choices=commands.RESET_TARGETS)
    p.add_argument("--reapply-signals", choices=commands.REAPPLY_MODES, default="buffer")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--reason", help="recorded in both runs' history")

    p = command("retry", "reset a run to just before its last failed activity")
    ref(p)
    p.add_argument("--reason")

    p = command("rerun", "start a fresh run of an ended run with its input and id")
    ref(p)

    p = command("children", "show a run and its child runs as a tree")
    ref(p)

    p = command("chain", "show the continue-as-new chain of a run, oldest first")
    ref(p)

    p = command("load", "load run histories into DuckDB for %%harvest sql (again: only "
                        "what is new)")
    p.add_argument("--since", metavar="WHEN",
                   help="runs created, open or closed since then: a duration back (7d, 12h) "
                        "or an ISO time (default: all)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--namespace", metavar="NAME",
                       help="this namespace (default: the client's)")
    where.add_argument("--all-namespaces", action="store_true", help="every namespace")
    p.add_argument("--file", metavar="PATH.duckdb",
                   help="keep the loaded histories in this DuckDB file (default: in memory); "
                        "only with the first load of the kernel")

    p = command("sql", "DuckDB SQL over the loaded histories (%%harvest sql takes the query "
                       "as the cell); :name or {name} binds a notebook variable")
    p.add_argument("query", nargs="*", metavar="SQL", help="the query (or the cell body)")
    p.add_argument("-o", "--output", metavar="NAME",
                   help="also store the result as a pandas DataFrame in this variable")

    p = command("profile", "where a run's time went: its critical path, the time by kind "
                           "(work, queue, backoff, timer, signal, child, workflow), a Gantt "
                           "chart; with --type, across the loaded runs of a workflow or DAG")
    p.add_argument("ref", nargs="?", metavar="REF", help="run id or workflow id")
    p.add_argument("--interactive", action="store_true",
                   help="the interactive Gantt chart (Bokeh: zoom, pan, tooltips)")
    p.add_argument("--type", dest="workflow_type", metavar="TYPE",
                   help="profile the loaded, finished runs of this workflow type or DAG")
    p.add_argument("--limit", type=int, metavar="N", help="with --type: the N latest runs")

    p = command("lint", "check workflow code for what breaks replay: this notebook's cells, "
                        "or files, directories and modules")
    p.add_argument("targets", nargs="*", metavar="PATH|MODULE",
                   help="what to check (default: the cells run in this kernel)")
    p.add_argument("--history", action="store_true",
                   help="the history rules (HIS001-HIS004) over the runs %%harvest load loaded")

    p = command("replay", "replay a run's history through this notebook's code, locally "
                          "(writes nothing): replays cleanly, or the first divergence")
    ref(p)
    p.add_argument("--code", metavar="VARIABLE",
                   help="replay with the workflow bound to this variable (default: the "
                        "version the run started with if the kernel holds it, else the "
                        "newest of its type)")

    p = command("explore", "open the history explorer widget of a run (timeline, events, "
                           "payloads, actions)")
    ref(p)
    p.add_argument("--window", type=positive_int, default=500, metavar="N",
                   help="events kept in the table at a time (default 500)")
    p.add_argument("--live", action="store_true", help="refresh while the run is running")

    for scope, about, listing, pausing, resuming in (
        ("queue", "queues: what they hold, pause and resume, rate limits and caps",
         "list queues with their ready, delayed and running tasks and their limits",
         "stop workers claiming from a queue (running attempts finish)",
         "let workers claim from a paused queue again"),
        ("activity", "activity types: pause and resume, rate limits and caps",
         "list the limits on activity types",
         "hold new attempts of an activity type, in every queue (running ones finish)",
         "let attempts of a paused activity type start again"),
    ):
        group = command(scope, about)
        actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
        for name, help in (("list", listing), ("pause", pausing), ("resume", resuming),
                           ("limit", f"set or lift the rate limit and concurrency cap of "
                                     f"{scope} NAME across all workers (flags not given are "
                                     "kept)")):
            p = actions.add_parser(name, help=help, description=help)
            if name != "list":
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
                           help="runs on the queue in progress at once; none lifts it")

    about = "workflow types: how many runs may be in progress at once"
    group = command("workflow", about)
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = "list the limits on workflow types"
    actions.add_parser("list", help=listing, description=listing)
    limiting = "set or lift how many runs of workflow type NAME may be in progress at once"
    p = actions.add_parser("limit", help=limiting, description=limiting)
    p.add_argument("name", metavar="NAME", help="workflow type")
    p.add_argument("--max-workflows", metavar="N|none", default=KEEP, required=True,
                   help="runs in progress at once (0 holds them all); none lifts it")

    _dag_commands(command)
    _schedule_commands(command)

    p = command("audit", "the audit trail: who changed what, through which front end "
                         "(newest first)")
    p.add_argument("--run", metavar="REF", help="rows about one run")
    p.add_argument("--target", metavar="NAME", help="rows about a schedule, queue, token, ...")
    p.add_argument("--actor", metavar="NAME", help="rows of one actor")
    p.add_argument("--action", metavar="ACTION", help="run.cancel, or a family: run.")
    p.add_argument("--since", metavar="WHEN", help="an age like 1d, or an ISO time")
    p.add_argument("--before", type=positive_int, metavar="SEQ", help="older rows (next page)")
    p.add_argument("--limit", type=positive_int, default=commands.AUDIT_PAGE, metavar="N")
    p.add_argument("--all-namespaces", action="store_true", help="every namespace")

    dlq = command("dlq", "dead letters: group by fingerprint (a triage view), list, show, "
                         "replay or discard by ids or filter")
    dlq_actions = dlq.add_subparsers(dest="action", metavar="ACTION")
    for verb in ("group", "list", "show", "replay", "discard"):
        p = dlq_actions.add_parser(verb, help=f"dlq {verb}", description=f"dlq {verb}")
        if verb == "show":
            p.add_argument("id", metavar="ID")
            continue
        if verb in ("replay", "discard"):
            p.add_argument("ids", nargs="*", metavar="ID")
            p.add_argument("--all", action="store_true")
            p.add_argument("--dry-run", action="store_true")
            p.add_argument("--note" if verb == "replay" else "--reason", metavar="TEXT",
                           dest="text")
        p.add_argument("--fingerprint", metavar="HEX")
        p.add_argument("--kind", choices=DLQ_KINDS)
        p.add_argument("--workflow-type", metavar="NAME")
        p.add_argument("--type", dest="type_name", metavar="NAME")
        p.add_argument("--since", metavar="WHEN")
        if verb == "list":
            p.add_argument("--limit", type=positive_int, default=100, metavar="N")

    p = command("workers", "worker processes (running, draining, gone); drain one")
    p.add_argument("action", nargs="?", choices=["list", "drain"], default="list")
    p.add_argument("worker_id", nargs="?", metavar="WORKER_ID", help="with drain: which worker")
    p.add_argument("--all", action="store_true", help="also workers that are gone")

    p = command("worker", "the in-kernel worker serving this notebook's workflows and "
                          "activities: start (or restart with the current definitions), "
                          "stop, status, log (what it logged: warnings stay out of cells)")
    p.add_argument("action", nargs="?", choices=WORKER_ACTIONS, default="status")
    p.add_argument("--queue", action="append", metavar="Q",
                   help="queue to serve (repeatable; default: the queues the definitions use)")
    p.add_argument("--concurrency", type=positive_int, metavar="N",
                   help="tasks run at once (default 32)")
    p.add_argument("--limit", type=positive_int, metavar="N",
                   help="with log: the N latest records (default 50)")
    return parser


def _dag_commands(command: Any) -> None:
    group = command("dag", "DAG runs node by node, their graphs, retrying failed nodes, "
                           "marking a node")
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, help: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = actions.add_parser(name, help=help, description=help)
        return p

    def run(p: argparse.ArgumentParser) -> None:
        p.add_argument("ref", metavar="RUN", help="run id or workflow id of a DAG run")

    action("list", "the DAGs of the namespace, with their newest run")
    p = action("show", "a DAG run: its status and a table of its nodes")
    run(p)
    p.add_argument("--items", action="store_true", help="list each map's items after it")
    p = action("graph", "draw a DAG run (nodes coloured by state) or a DAG as SVG")
    p.add_argument("target", metavar="DAG|RUN",
                   help="a run id or workflow id, or a DAG name (defined in this notebook, "
                        "else its newest registered graph)")
    p.add_argument("run", metavar="RUN", nargs="?",
                   help="after a DAG name: one of its runs (the same as giving the run alone)")
    p.add_argument("-o", "--output", metavar="FILE.svg", help="also write the SVG to FILE")
    p.add_argument("--engine", choices=ENGINES, default="auto",
                   help="auto (default), dot (require Graphviz) or python")
    p.add_argument("--live", action="store_true",
                   help="a widget that redraws a run's graph while the run goes on")
    p.add_argument("--interval", type=seconds, default=1.0, metavar="SECONDS",
                   help="how often --live redraws (default 1 s)")
    p = action("runs", "a DAG's runs, newest first, with their nodes by state")
    p.add_argument("dag", metavar="DAG", help="DAG name")
    p.add_argument("--limit", type=positive_int, default=20, metavar="N")
    p = action("retry", "a new run of an ended DAG run: keeps what succeeded, runs the rest")
    run(p)
    p = action("mark", "end a node of a running DAG run by hand: succeeded or --skipped")
    run(p)
    p.add_argument("node", metavar="NODE", help="node name")
    p.add_argument("--skipped", action="store_true", help="mark it skipped (default: succeeded)")
    p.add_argument("--result", metavar="JSON", help="its result, one JSON value")
    p.add_argument("--by", metavar="WHO", help="who marked it (recorded in the history)")
    p.add_argument("--reason", metavar="TEXT", help="why (recorded in the history)")


def _schedule_commands(command: Any) -> None:
    group = command("schedule", "schedules: start runs of a workflow or DAG on a cron "
                                "expression or an interval")
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True,
                                   parser_class=_IntermixedParser)

    def action(name: str, help: str, named: bool = True) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = actions.add_parser(name, help=help, description=help)
        if named:
            p.add_argument("name", metavar="NAME", help="schedule name")
        return p

    p = action("create", "create a schedule (WORKFLOW: defined in this notebook, or "
                         "registered by a worker)")
    p.add_argument("args", nargs="*", default=[], metavar="ARGS_JSON",
                   help="the workflow's arguments, each one JSON value")
    p.add_argument("--workflow", required=True, metavar="W", help="workflow or DAG name")
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", metavar="EXPR", help="cron expression, e.g. '0 2 * * *'")
    when.add_argument("--every", metavar="DURATION", help="an interval, e.g. 15m")
    p.add_argument("--timezone", metavar="TZ", help="IANA zone of the cron expression")
    p.add_argument("--overlap", default="skip", metavar="POLICY",
                   help=f"{', '.join(OVERLAP_POLICIES)} (default skip)")
    p.add_argument("--catchup", default="most_recent", metavar="POLICY",
                   help="skip_all, most_recent (default), all, window:DURATION")
    p.add_argument("--jitter", metavar="DURATION")
    p.add_argument("--start-at", metavar="ISO", help="no slot before this time")
    p.add_argument("--end-at", metavar="ISO", help="no slot after this time")
    p.add_argument("--max-runs", type=positive_int, metavar="N")
    p.add_argument("--failure-limit", type=positive_int, metavar="N",
                   help="pause after N failed runs in a row")
    p.add_argument("--paused", action="store_true", help="create it paused")
    p.add_argument("--note", metavar="TEXT")
    p.add_argument("--replace", action="store_true", help="overwrite a schedule of that name")
    action("list", "list the schedules with their next firing", named=False)
    action("show", "one schedule: what it starts, when, its policies, where it stands")
    p = action("preview", "the next slots of a saved schedule (NAME) or of --cron/--every, "
                          "in its timezone and in UTC", named=False)
    p.add_argument("name", nargs="?", metavar="NAME", help="a saved schedule")
    p.add_argument("--cron", metavar="EXPR")
    p.add_argument("--every", metavar="DURATION")
    p.add_argument("--timezone", metavar="TZ", help="with --cron/--every (default UTC)")
    p.add_argument("--from", dest="start", metavar="ISO",
                   help="slots after this time (default: its next slot, else now)")
    p.add_argument("--count", type=positive_int, default=commands.PREVIEW_COUNT, metavar="N")
    for verb, help in (("pause", "stop starting runs"),
                       ("resume", "start runs again from the next slot after now")):
        p = action(verb, help)
        p.add_argument("--note", metavar="TEXT", help="recorded in the log")
    action("trigger", "start a run of the schedule now, whatever its overlap policy")
    p = action("backfill", "start the run of every slot in a window that has none")
    p.add_argument("--from", dest="start", required=True, metavar="ISO")
    p.add_argument("--to", dest="end", required=True, metavar="ISO")
    action("delete", "delete a schedule (its runs and log are kept)")
    p = action("log", "a schedule's decisions, newest first")
    p.add_argument("--limit", type=positive_int, default=50, metavar="N")


def _help_text(parser: _Parser, width: int = 88) -> str:
    def para(text: str) -> str:
        return textwrap.fill(text, width)

    lines = [
        "%harvest COMMAND [ARGS...]    (or %%harvest COMMAND, with a cell body)",
        "",
        para("Harvest Studio in the notebook: the `harvest` commands as a magic, plus an "
             "in-kernel worker."),
        "",
        "Commands:",
    ]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                lines.append(textwrap.fill(
                    choice.help or "", width, initial_indent=f"  {choice.dest:<10} ",
                    subsequent_indent=" " * 13,
                ))
    lines += [
        "",
        para("`%harvest COMMAND -h` shows a command's options. Arguments are JSON values, as "
             "on the command line; in a %%harvest cell, start/signal/query/update take them "
             "from the cell body instead: Python whose last line is the value (a tuple = "
             "several arguments)."),
        "",
        para("A trailing `;` hides the output. The output's `.data` is the command's result, "
             "and its attributes read through: `run = %harvest start greet '\"ada\"'` "
             "then `run.run_id`."),
        "",
        para("Settings: %config HarvestMagics.database_url / namespace / display_limit / "
             "worker_options, or [tool.harvest_studio] in the nearest pyproject.toml."),
    ]
    return "\n".join(lines)


PARSER = build_parser()
HELP = _help_text(PARSER)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


SUBPARSERS = _subparsers(PARSER)
# commands with actions of their own (`queue pause`, `activity limit`): their subparsers
ACTION_SUBPARSERS = {
    name: found for name, p in SUBPARSERS.items() if (found := _subparsers(p))
}


def split_line(line: str) -> list[str]:
    """Shell-like words; an unquoted trailing ``;`` (IPython's "hide the output") is
    dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        words = list(lexer)
    except ValueError as exc:
        raise IPythonUsageError(f"usage_error: cannot split the line: {exc}") from None
    while words and words[-1] == ";":
        words.pop()
    if ";" in words:
        raise IPythonUsageError("usage_error: one command per %harvest line (unquoted `;`)")
    return words


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def usage_from(exc: BaseException) -> IPythonUsageError:
    """A harvest error (or a database error) as IPython's one-line ``UsageError``."""
    if isinstance(exc, HarvestError):
        return IPythonUsageError(one_line(f"{exc.code}: {exc}"))
    if isinstance(exc, psycopg.OperationalError):
        return IPythonUsageError(one_line(f"database_unavailable: {exc}"))
    return IPythonUsageError(one_line(f"database_error: {exc}"))

