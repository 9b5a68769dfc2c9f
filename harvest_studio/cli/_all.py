"""The ``harvest`` command line: argparse over the command layer (:mod:`._commands`).

Output is a human table by default and JSON with ``--json`` (accepted before or after the
subcommand). Exit codes: 0 ok, 1 failure (including a run that ended badly when waited
for), 2 usage (argparse errors and every :class:`~harvest_studio.UsageError`). An error is
one line on stderr: ``harvest: error: <code>: <message>``. Input is checked before the
database is touched, so bad input writes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import warnings
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn, TypeVar

import psycopg

from .. import commands
from .._version import __version__
from ..client import ID_CONFLICT_POLICIES, ID_REUSE_POLICIES, AsyncClient
from ..commands.argtypes import nonnegative_int, positive_int, seconds
from ..commands.render import (
    dumps,
    render_action,
    render_chain,
    render_db_status,
    render_history,
    render_namespace_action,
    render_namespaces,
    render_query,
    render_reset,
    render_result,
    render_run,
    render_runs,
    render_started,
    render_tree,
    render_update,
)
from ..engine import Worker
from ..model.durations import to_seconds
from ..model.errors import HarvestError, UnknownWorkflowError, UsageError
from ..model.filters import FilterError
from ..store.connection import database_url, describe_url

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
PROG = "harvest"


class CommandLineError(UsageError):
    """The command line itself is malformed (unknown option, missing argument, ...)."""

    code = "usage_error"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        where = self.prog.partition(" ")[2]
        prefix = f"{where}: " if where else ""
        raise CommandLineError(f"{prefix}{message} (see `{self.prog} --help`)")


# ---------------------------------------------------------------------------------------
# output helpers
# ---------------------------------------------------------------------------------------
def _print(text: str) -> None:
    print(text, flush=True)


def _emit(args: argparse.Namespace, data: Any, render: Callable[[Any], str]) -> None:
    _print(dumps(data) if args.json else render(data))


def _error(code: str, message: str) -> None:
    one_line = " ".join(message.split())
    print(f"{PROG}: error: {code}: {one_line}", file=sys.stderr, flush=True)


async def _with_client(
    args: argparse.Namespace, action: Callable[[AsyncClient], Awaitable[T]]
) -> T:
    async with AsyncClient(args.database_url, namespace=args.namespace) as client:
        return await action(client)


def _run_failed(outcome: commands.RunResult) -> int:
    if outcome.ok:
        return EXIT_OK
    error = outcome.error or {}
    detail = f"{error.get('type', '')}: {error.get('message', '')}".strip(": ")
    _error("workflow_failed", f"run {outcome.run_id} ended {outcome.status}: {detail}")
    return EXIT_FAILURE


# ---------------------------------------------------------------------------------------
# subcommands
# ---------------------------------------------------------------------------------------
def _cmd_db_status(args: argparse.Namespace) -> int:
    status = asyncio.run(commands.db_status(database_url(args.database_url)))
    _emit(args, status, render_db_status)
    return EXIT_OK


def _cmd_db_migrate(args: argparse.Namespace) -> int:
    status = asyncio.run(commands.db_migrate(database_url(args.database_url)))
    _emit(args, status, render_db_status)
    return EXIT_OK


def _cmd_start(args: argparse.Namespace) -> int:
    values = commands.parse_json_args(args.args)
    if args.execution_timeout is not None:
        to_seconds(args.execution_timeout)
    if args.timeout is not None and not args.wait:
        raise CommandLineError("start: --timeout only makes sense with --wait")
    if args.signal_payload is not None and args.signal is None:
        raise CommandLineError("start: --signal-payload only makes sense with --signal")
    if args.signal is not None and not args.id:
        raise CommandLineError(
            "start: --signal needs --id (it signals the open run of that id, else starts one)"
        )
    if args.signal is not None and args.idempotency_key is not None:
        raise CommandLineError(
            "start: --idempotency-key cannot be combined with --signal: once the first run "
            "has ended, a repeat would return it without delivering the signal"
        )
    if args.signal is not None and args.id_conflict_policy != "fail":
        raise CommandLineError(
            "start: --id-conflict-policy cannot be combined with --signal: signal-with-start "
            "always signals the open run of the id"
        )
    if args.signal is not None and args.id_reuse_policy == "terminate_if_running":
        raise CommandLineError(f"start: {commands.SIGNAL_WITH_TERMINATE}")
    signal_payload = commands.parse_payload(args.signal_payload)
    if args.signal is not None:
        commands.check_signal(args.signal, signal_payload)
    search_attributes = commands.parse_search_attributes(args.search_attribute or [])
    memo = commands.parse_payload(args.memo, what="memo")
    options: dict[str, Any] = {
        "id_reuse_policy": args.id_reuse_policy,
        "idempotency_key": args.idempotency_key,
        "execution_timeout": args.execution_timeout,
        "queue": args.queue,
        "force": args.force,
        "search_attributes": search_attributes,
        "memo": memo,
        "start_delay": args.start_delay,
    }

    async def launch(client: AsyncClient) -> commands.StartedRun:
        try:
            if args.signal is not None:
                return await commands.signal_with_start(
                    client,
                    args.workflow,
                    values,
                    id=args.id,
                    signal=args.signal,
                    signal_payload=signal_payload,
                    **options,
                )
            return await commands.start(
                client, args.workflow, values, id=args.id,
                id_conflict_policy=args.id_conflict_policy, **options,
            )
        except UnknownWorkflowError as exc:  # say it the command line's way
            raise UnknownWorkflowError(f"{exc} (--force)") from None

    async def go(client: AsyncClient) -> tuple[commands.StartedRun, commands.RunResult | None]:
        started = await launch(client)
        if not args.wait:
            return started, None
        if not args.json:
            _print(render_started(started) + "; waiting for it to finish...")
        return started, await commands.result(client, started.run_id, args.timeout)

    started, outcome = asyncio.run(_with_client(args, go))
    if outcome is None:
        _emit(args, started, render_started)
        return EXIT_OK
    _emit(args, outcome, render_result)
    return _run_failed(outcome)


def _cmd_result(args: argparse.Namespace) -> int:
    outcome = asyncio.run(
        _with_client(args, lambda c: commands.result(c, args.ref, args.timeout))
    )
    _emit(args, outcome, render_result)
    return _run_failed(outcome)


def _filter_error(text: str, exc: FilterError) -> str:
    """The parser's message plus the filter with ``[HERE]`` at the failing position."""
    pos = max(0, min(exc.position, len(text)))
    return f"{exc}: {text[:pos]}[HERE]{text[pos:]}"


def _cmd_list(args: argparse.Namespace) -> int:
    if args.query is not None:
        try:
            commands.check_filter(args.query)
        except FilterError as exc:
            _error(exc.code, _filter_error(args.query, exc))
            return EXIT_USAGE
    page = asyncio.run(
        _with_client(
            args,
            lambda c: commands.list_runs(
                c,
                workflow_type=args.type,
                status=args.status,
                since=args.since,
                until=args.until,
                workflow_id=args.workflow_id,
                blocked=True if args.blocked else None,
                query=args.query,
                limit=args.limit,
                page_token=args.page_token,
            ),
        )
    )
    _emit(args, page, render_runs)
    return EXIT_OK


def _cmd_show(args: argparse.Namespace) -> int:
    info = asyncio.run(_with_client(args, lambda c: commands.show(c, args.ref)))
    _emit(args, info, render_run)
    return EXIT_OK


def _cmd_history(args: argparse.Namespace) -> int:
    events = asyncio.run(
        _with_client(
            args,
            lambda c: commands.history(c, args.ref, after_seq=args.after_seq, limit=args.limit),
        )
    )
    _emit(args, events, render_history)
    return EXIT_OK


def _cmd_signal(args: argparse.Namespace) -> int:
    payload = commands.parse_payload(args.payload)  # before the database is touched
    commands.check_signal(args.name, payload, args.idempotency_key)
    action = asyncio.run(
        _with_client(
            args,
            lambda c: commands.signal(
                c, args.ref, args.name, payload, idempotency_key=args.idempotency_key
            ),
        )
    )
    _emit(args, action, render_action)
    return EXIT_OK


_RUN_ACTIONS: dict[str, Callable[..., Awaitable[commands.RunAction]]] = {
    "cancel": commands.cancel,
    "terminate": commands.terminate,
    "pause": commands.pause,
    "resume": commands.resume,
}


def _cmd_run_action(args: argparse.Namespace) -> int:
    act = _RUN_ACTIONS[args.command]
    action = asyncio.run(_with_client(args, lambda c: act(c, args.ref, args.reason)))
    _emit(args, action, render_action)
    return EXIT_OK


def _cmd_query(args: argparse.Namespace) -> int:
    values = commands.parse_json_args(args.args)
    commands.check_call("query", args.name, values, args.timeout)
    answer = asyncio.run(
        _with_client(
            args, lambda c: commands.query(c, args.ref, args.name, values, timeout=args.timeout)
        )
    )
    _emit(args, answer, render_query)
    return EXIT_OK


def _cmd_update(args: argparse.Namespace) -> int:
    values = commands.parse_json_args(args.args)
    commands.check_call("update", args.name, values, args.timeout)
    if args.update_id is not None and not args.update_id:
        raise CommandLineError("update: --update-id must not be empty")
    outcome = asyncio.run(
        _with_client(
            args,
            lambda c: commands.update(
                c, args.ref, args.name, values, update_id=args.update_id, timeout=args.timeout
            ),
        )
    )
    _emit(args, outcome, render_update)
    return EXIT_OK


def _cmd_reset(args: argparse.Namespace) -> int:
    commands.check_reset(args.to_event, args.to, args.reapply_signals)
    report = asyncio.run(
        _with_client(
            args,
            lambda c: commands.reset(
                c, args.ref, to_event=args.to_event, to=args.to,
                reapply_signals=args.reapply_signals, dry_run=args.dry_run, reason=args.reason,
            ),
        )
    )
    _emit(args, report, render_reset)
    return _reset_failed(report)


def _reset_failed(report: commands.ResetReport) -> int:
    if report.valid:
        return EXIT_OK
    if report.dry_run:
        return EXIT_OK  # a dry run reports; it does not fail
    near = ", ".join(
        f"{label} event {seq}"
        for label, seq in (("before:", report.nearest_valid_before),
                           ("after:", report.nearest_valid_after))
        if seq is not None
    ) or "none"
    _error(
        commands.InvalidResetPointError.code,
        f"event {report.boundary} of run {report.run_id} is not a valid reset point "
        f"({report.reason}); nearest valid points {near}; nothing was written",
    )
    return EXIT_FAILURE


def _cmd_retry(args: argparse.Namespace) -> int:
    report = asyncio.run(
        _with_client(args, lambda c: commands.retry(c, args.ref, reason=args.reason))
    )
    _emit(args, report, render_reset)
    return EXIT_OK


def _cmd_rerun(args: argparse.Namespace) -> int:
    started = asyncio.run(_with_client(args, lambda c: commands.rerun(c, args.ref)))
    _emit(args, started, render_started)
    return EXIT_OK


def _cmd_children(args: argparse.Namespace) -> int:
    tree = asyncio.run(_with_client(args, lambda c: commands.children(c, args.ref)))
    _emit(args, tree, render_tree)
    return EXIT_OK


def _cmd_chain(args: argparse.Namespace) -> int:
    found = asyncio.run(_with_client(args, lambda c: commands.chain(c, args.ref)))
    _emit(args, found, render_chain)
    return EXIT_OK


def _cmd_namespace_create(args: argparse.Namespace) -> int:
    action = asyncio.run(
        _with_client(
            args, lambda c: commands.namespace_create(c, args.name, args.description)
        )
    )
    _emit(args, action, render_namespace_action)
    return EXIT_OK


def _cmd_namespace_list(args: argparse.Namespace) -> int:
    listing = asyncio.run(_with_client(args, commands.namespace_list))
    _emit(args, listing, render_namespaces)
    return EXIT_OK


def _cmd_namespace_delete(args: argparse.Namespace) -> int:
    action = asyncio.run(
        _with_client(args, lambda c: commands.namespace_delete(c, args.name))
    )
    _emit(args, action, render_namespace_action)
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import render_demo, run_demo

    report = asyncio.run(run_demo(args.database_url, namespace=args.namespace))
    extra = []
    if args.database_url:
        extra.append("--database-url <url>")
    if args.namespace != "default":
        extra.append(f"--namespace {args.namespace}")
    _emit(args, report, lambda r: render_demo(r, extra_options=" ".join(extra)))
    return EXIT_OK if report.ok else EXIT_FAILURE


def _cmd_worker(args: argparse.Namespace) -> int:
    app = commands.load_app(args.module)
    tuning: dict[str, Any] = {}
    if args.concurrency is not None:
        tuning["max_concurrent_tasks"] = args.concurrency
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    url = database_url(args.database_url)
    worker = Worker(
        url=url,
        namespace=args.namespace,
        workflows=app.workflows,
        activities=app.activities,
        queues=args.queue or None,
        **tuning,
    )
    names = ", ".join([w.name for w in app.workflows] + [a.name for a in app.activities])
    _print(
        f"harvest worker {worker.worker_id}: serving {names} from {app.module} "
        f"on queue(s) {', '.join(worker.queues)} in namespace {worker.namespace} "
        f"at {describe_url(url)}; Ctrl-C to stop"
    )
    finished = asyncio.run(_serve(worker))
    _print("worker stopped" if finished else "worker stopped without draining")
    return EXIT_OK if finished else EXIT_INTERRUPTED


async def _serve(worker: Worker) -> bool:
    """Run ``worker`` until SIGTERM/SIGINT (drain), or a second signal (stop at once)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    me = asyncio.current_task()
    seen = 0

    def on_signal() -> None:
        nonlocal seen
        seen += 1
        if seen == 1:
            print("stopping: finishing in-flight work (signal again to quit at once)",
                  file=sys.stderr, flush=True)
            stop.set()
        elif me is not None:
            me.cancel()

    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, on_signal)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows / not main thread
            pass
    try:
        await worker.run(stop)
    except asyncio.CancelledError:
        return False
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
    return True


# ---------------------------------------------------------------------------------------
# the parser
# ---------------------------------------------------------------------------------------
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
    p = command("delete", "delete a namespace that has no runs", _cmd_namespace_delete, ns_sub)
    p.add_argument("name", metavar="NAME")

    command("demo", "run the onboarding demo with an in-process worker", _cmd_demo)
    return parser


# ---------------------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``harvest`` command line; returns the exit code."""
    with warnings.catch_warnings():
        # pgserver's platformdirs complains when XDG_RUNTIME_DIR is unset; not for users.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except UsageError as exc:
        _error(exc.code, str(exc))
        return EXIT_USAGE
    except HarvestError as exc:
        _error(exc.code, str(exc))
        return EXIT_FAILURE
    except psycopg.OperationalError as exc:
        _error("database_unavailable", str(exc))
        return EXIT_FAILURE
    except psycopg.Error as exc:
        _error("database_error", str(exc))
        return EXIT_FAILURE
    except KeyboardInterrupt:
        _error("interrupted", "interrupted")
        return EXIT_INTERRUPTED
