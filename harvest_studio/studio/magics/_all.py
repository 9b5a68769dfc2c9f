"""The ``%harvest`` magics: the CLI's commands in a notebook, plus an in-kernel worker.

Loaded by ``%load_ext harvest_studio``. One configurable :class:`HarvestMagics` with one
``%harvest`` line/cell magic whose subcommands mirror the ``harvest`` command line and call
the same command layer (:mod:`._commands`). Each returns a :class:`~._display.HarvestOutput`
(``text/plain`` as the CLI prints it, ``text/html`` for JupyterLab; a trailing ``;``
silences it). Errors are one-line IPython ``UsageError``\\ s: ``code: message``.

Settings (``%config HarvestMagics.<name> = ...``, ``c.HarvestMagics.<name>`` in
``ipython_config.py``, or ``[tool.harvest_studio]`` in the nearest ``pyproject.toml``):
``database_url``, ``namespace``, ``display_limit``, ``worker_options``.
"""

from __future__ import annotations

import argparse
import ast
import atexit
import dataclasses
import re
import shlex
import textwrap
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast

import psycopg
from IPython.core.completer import (
    CompletionContext,
    SimpleCompletion,
    SimpleMatcherResult,
    context_matcher,
)
from IPython.core.error import UsageError as IPythonUsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, output_can_be_silenced
from traitlets import Dict, Float, Integer, TraitError, Unicode, observe, validate

from ... import commands
from ...client import ID_CONFLICT_POLICIES, ID_REUSE_POLICIES, Client, RunPage
from ...commands import render
from ...commands.argtypes import nonnegative_int, positive_int, seconds
from ...model.definitions import WorkflowDefinition
from ...model.durations import to_seconds
from ...model.errors import HarvestError, UnknownWorkflowError
from ...model.filters import FilterError
from ...tools.replay import ReplayReport, areplay_run, render_replay, replay_html
from ..display import HarvestOutput, history_html, run_html, runs_html
from ..kernel_worker import CodeVersions, KernelWorker, WorkerStatus, render_worker_status

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

PROG = "%harvest"
CONFIG_KEYS = ("database_url", "namespace", "display_limit", "worker_options")
REF_COMMANDS = (
    "show", "history", "result", "signal", "cancel", "terminate", "pause", "resume",
    "query", "update", "reset", "retry", "rerun", "children", "chain", "replay", "explore",
)
WORKER_ACTIONS = ("start", "stop", "status")
# commands whose Python arguments may come from the cell body (%%harvest)
CELL_COMMANDS = ("start", "signal", "query", "update")


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

    p = command("worker", "the in-kernel worker serving this notebook's workflows and "
                          "activities: start (or restart with the current definitions), "
                          "stop, status")
    p.add_argument("action", nargs="?", choices=WORKER_ACTIONS, default="status")
    p.add_argument("--queue", action="append", metavar="Q",
                   help="queue to serve (repeatable; default: the queues the definitions use)")
    p.add_argument("--concurrency", type=positive_int, metavar="N",
                   help="tasks run at once (default 32)")
    return parser


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


# ---------------------------------------------------------------------------------------
# pyproject.toml
# ---------------------------------------------------------------------------------------
def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start`` (default: the working dir)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def pyproject_settings(path: Path | None) -> dict[str, Any]:
    """The ``[tool.harvest_studio]`` keys this extension reads (others are ignored)."""
    if path is None:
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise IPythonUsageError(one_line(f"bad_config: cannot read {path}: {exc}")) from None
    section = data.get("tool", {}).get("harvest_studio", {})
    if not isinstance(section, dict):
        return {}
    return {k: v for k, v in section.items() if k in CONFIG_KEYS}


# ---------------------------------------------------------------------------------------
# the magics
# ---------------------------------------------------------------------------------------
@magics_class
class HarvestMagics(Magics):
    """``%harvest``: the ``harvest`` command line in a notebook, and an in-kernel worker."""

    database_url = Unicode(
        None, allow_none=True,
        help="PostgreSQL URL (default: $HARVEST_DATABASE_URL, else the embedded server)",
    ).tag(config=True)
    namespace = Unicode("default", help="namespace of runs and workers").tag(config=True)
    display_limit = Integer(
        50, help="most rows a table shows; `list` fetches this many unless --limit"
    ).tag(config=True)
    worker_options = Dict(
        help="tuning for the in-kernel worker (hs.WorkerOptions fields, e.g. "
             "{'max_concurrent_tasks': 8, 'poll_interval': 0.5})",
    ).tag(config=True)
    completion_cache_seconds = Float(
        10.0, help="how long tab completion reuses the recent runs it read"
    ).tag(config=True)

    def __init__(self, shell: InteractiveShell, **kwargs: Any) -> None:
        # state first: configuration applied by the base class fires the observers
        self.versions = CodeVersions()
        self.kernel_worker = KernelWorker(self.versions)
        self._client: Client | None = None
        self._recent_at = 0.0
        self._recent_runs: list[tuple[str, str, str]] = []  # run id, workflow id, type
        self._recent_types: list[str] = []
        # Magics.__init__ adds the instance to shell.configurables (so `%config` sees it)
        # and takes the shell's configuration (`c.HarvestMagics...`)
        try:
            super().__init__(shell=shell, **kwargs)
        except TraitError as exc:
            _forget(shell, self)
            raise IPythonUsageError(one_line(f"bad_config: HarvestMagics: {exc}")) from None
        self.pyproject = find_pyproject()
        try:
            self._apply_pyproject(shell)
        except BaseException:
            _forget(shell, self)
            raise

    # -- settings ---------------------------------------------------------------------------
    def _apply_pyproject(self, shell: InteractiveShell) -> None:
        """``[tool.harvest_studio]`` values, for settings IPython's config leaves unset."""
        configured = shell.config.get("HarvestMagics", {})
        for key, value in pyproject_settings(self.pyproject).items():
            if key in configured:
                continue  # IPython configuration wins over pyproject.toml
            try:
                setattr(self, key, value)
            except TraitError as exc:
                raise IPythonUsageError(
                    one_line(f"bad_config: [tool.harvest_studio] {key} in {self.pyproject}: "
                             f"{exc}")
                ) from None

    @validate("display_limit")
    def _check_limit(self, proposal: Any) -> int:
        value = int(proposal["value"])
        if value < 1:
            raise TraitError("display_limit must be >= 1")
        return value

    @observe("database_url", "namespace")
    def _settings_changed(self, change: Any) -> None:
        self._drop_client()

    @property
    def user_ns(self) -> dict[str, Any]:
        assert self.shell is not None
        ns: dict[str, Any] = self.shell.user_ns
        return ns

    @property
    def client(self) -> Client:
        """The sync client of the configured database and namespace (opened on first use)."""
        if self._client is None:
            try:
                self._client = Client(self.database_url or None, namespace=self.namespace)
            except (HarvestError, psycopg.Error) as exc:
                raise usage_from(exc) from None
        return self._client

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        self._recent_at = 0.0
        if client is not None:
            client.close()  # the worker has its own connections

    def close(self) -> None:
        """Stop the in-kernel worker and close the client (``%unload_ext``, kernel exit)."""
        self.kernel_worker.close(timeout=5.0)
        self._drop_client()

    # -- the magic --------------------------------------------------------------------------
    @output_can_be_silenced
    @line_cell_magic
    def harvest(self, line: str, cell: str | None = None) -> HarvestOutput | None:
        words = split_line(line)
        if not words:
            return HarvestOutput(None, HELP, title="%harvest")
        try:
            args = PARSER.parse_args(words)
        except _HelpShown as shown:
            return HarvestOutput(None, shown.text)
        command: str | None = args.command
        if command is None:
            return HarvestOutput(None, HELP, title="%harvest")
        body = cell if cell is not None and cell.strip() else None
        if body is not None and command not in CELL_COMMANDS:
            raise IPythonUsageError(
                f"usage_error: %%harvest {command} takes no cell body (only "
                f"{', '.join(CELL_COMMANDS)} do)"
            )
        self.versions.scan(self.user_ns)
        handler: Callable[[argparse.Namespace, str | None], HarvestOutput] = getattr(
            self, f"_cmd_{command}"
        )
        try:
            return handler(args, body)
        except IPythonUsageError:
            raise
        except (HarvestError, psycopg.Error) as exc:
            raise usage_from(exc) from None

    def _run(self, action: Callable[[Any], Any]) -> Any:
        """Run one command-layer coroutine on the client's loop: ``action(async_client)``."""
        client = self.client
        return client._run(action(client.aio))

    def _touched(self) -> None:
        self._recent_at = 0.0  # new runs: completion reads them next time

    # -- cell bodies ------------------------------------------------------------------------
    def _cell_value(self, body: str) -> Any:
        """Run a cell body like IPython runs a cell and return the value of its last line."""
        assert self.shell is not None
        source: str = self.shell.transform_cell(body)  # type: ignore[no-untyped-call]
        try:
            tree = ast.parse(source, filename="<%%harvest>", mode="exec")
        except SyntaxError as exc:
            raise IPythonUsageError(
                f"usage_error: the cell body is not Python: {one_line(str(exc))}"
            ) from None
        if not tree.body or not isinstance(tree.body[-1], ast.Expr):
            raise IPythonUsageError(
                "usage_error: the cell body must end with an expression (the arguments)"
            )
        last = cast(ast.Expr, tree.body.pop())
        ns = self.user_ns
        if tree.body:
            exec(compile(tree, "<%%harvest>", "exec"), ns)  # the user's cell
        expr = ast.Expression(last.value)
        return eval(compile(expr, "<%%harvest>", "eval"), ns)

    def _cell_args(self, body: str | None, line_args: Sequence[str]) -> list[Any]:
        if body is None:
            return commands.parse_json_args(line_args)
        if line_args:
            raise IPythonUsageError(
                "usage_error: give the arguments either as JSON on the line or as the cell "
                "body, not both"
            )
        value = self._cell_value(body)
        return list(value) if isinstance(value, tuple) else [value]

    # -- runs -------------------------------------------------------------------------------
    def _cmd_start(self, args: argparse.Namespace, body: str | None) -> HarvestOutput:
        values = self._cell_args(body, args.args)
        if args.execution_timeout is not None:
            to_seconds(args.execution_timeout)
        for bad, message in (
            (args.timeout is not None and not args.wait, "--timeout only makes sense with --wait"),
            (args.signal_payload is not None and args.signal is None,
             "--signal-payload only makes sense with --signal"),
            (args.signal is not None and not args.id,
             "--signal needs --id (it signals the open run of that id, else starts one)"),
            (args.signal is not None and args.idempotency_key is not None,
             f"--idempotency-key cannot be combined with --signal: {commands.SIGNAL_WITH_KEY}"),
            (args.signal is not None and args.id_conflict_policy != "fail",
             "--id-conflict-policy cannot be combined with --signal"),
            (args.signal is not None and args.id_reuse_policy == "terminate_if_running",
             commands.SIGNAL_WITH_TERMINATE),
        ):
            if bad:
                raise IPythonUsageError(f"usage_error: start: {message}")
        signal_payload = commands.parse_payload(args.signal_payload)
        if args.signal is not None:
            commands.check_signal(args.signal, signal_payload)
        options: dict[str, Any] = {
            "id_reuse_policy": args.id_reuse_policy,
            "idempotency_key": args.idempotency_key,
            "execution_timeout": args.execution_timeout,
            "queue": args.queue,
            "force": args.force,
            "search_attributes": commands.parse_search_attributes(args.search_attribute or []),
            "memo": commands.parse_payload(args.memo, what="memo"),
            "start_delay": args.start_delay,
        }
        # a workflow defined in this notebook starts with its code's fingerprint, so the
        # run replays exactly this version
        definition = self.versions.bound_workflow(args.workflow, self.user_ns)
        workflow: WorkflowDefinition | str = definition or args.workflow
        name = definition.name if definition is not None else args.workflow

        async def launch(client: Any) -> commands.StartedRun:
            try:
                if args.signal is not None:
                    started = await commands.signal_with_start(
                        client, cast(str, workflow), values, id=args.id, signal=args.signal,
                        signal_payload=signal_payload, **options,
                    )
                else:
                    started = await commands.start(
                        client, cast(str, workflow), values, id=args.id,
                        id_conflict_policy=args.id_conflict_policy, **options,
                    )
            except UnknownWorkflowError as exc:
                hint = (
                    "`%harvest worker start` serves the workflows defined in this notebook"
                    if definition is not None else "or pass --force"
                )
                raise UnknownWorkflowError(f"{exc} ({hint})") from None
            if not isinstance(started.workflow_type, str):
                started = dataclasses.replace(started, workflow_type=name)
            return started

        started: commands.StartedRun = self._run(launch)
        self._touched()
        if not args.wait:
            return HarvestOutput(started, render.render_started(started))
        outcome: commands.RunResult = self._run(
            lambda c: commands.result(c, started.run_id, args.timeout)
        )
        text = render.render_started(started) + "\n" + render.render_result(outcome)
        return HarvestOutput(outcome, text, title=f"{name} {started.workflow_id}")

    def _cmd_list(self, args: argparse.Namespace, body: str | None) -> HarvestOutput:
        if args.query is not None:
            try:
                commands.check_filter(args.query)
            except FilterError as exc:
                pos = max(0, min(exc.position, len(args.query)))
                marked = f"{args.query[:pos]}[HERE]{args.query[pos:]}"
                raise IPythonUsageError(one_line(f"{exc.code}: {exc}: {marked}")) from None
        limit = args.limit or self.display_limit
        page: RunPage = self._run(
            lambda c: commands.list_runs(
                c,
                workflow_type=args.type,
                status=args.status,
                since=args.since,
                until=args.until,
                workflow_id=args.workflow_id,
                blocked=True if args.blocked else None,
                query=args.query,
                limit=limit,
                page_token=args.page_token,
            )
        )
        self._remember_runs(page.runs)
        shown = page.runs[: self.display_limit]
        hidden = len(page.runs) - len(shown)
        text = render.render_runs(RunPage(shown, page.next_page_token))
        note = f"more runs: add --page-token '{page.next_page_token}'" if (
            page.next_page_token) else None
        if hidden:
            text += f"\n\n{hidden} more not shown (display_limit); the result's .data has all"
        return HarvestOutput(page, text, runs_html(shown, hidden=hidden, note=note))

    def _cmd_show(self, args: argparse.Namespace, body: str | None) -> HarvestOutput:
        info = self._run(lambda c: commands.show(c, args.ref))
        text = render.render_run(info)
        return HarvestOutput(info, text, run_html(info, text))

    def _cmd_history(self, args: argparse.Namespace, body: str | None) -> HarvestOutput:
        history: commands.RunHistory = self._run(
            lambda c: commands.history(c, args.ref, after_seq=args.after_seq, limit=args.limit)
        )
        shown_events = history.events[: self.display_limit]
        hidden = len(history.events) - len(shown_events)
        shown = history
        if hidden:
            shown = dataclasses.replace(
                history, events=shown_events, next_after_seq=shown_events[-1].seq
            )
        note = (
            f"more events: add --after-seq {shown.next_after_seq}"
            if shown.next_after_seq is not None else None
        )
        return HarvestOutput(
            history, render.render_history(shown), history_html(shown, note=note)
        )

    def _cmd_result(self, args: argparse.Namespace, body: str | None) -> HarvestOutput:
        outcome: commands.RunResult = self._run(
            lambda c: commands.result(c, args.ref, args.timeout)
        )
        title = f"{outcome.workflow_type} {outcome.workflow_id} (run {outcome.run_id})"
        return HarvestOutput(outcome, render.render_result(outcome), title=title)

    def _cmd_signal(self, args: argparse.Namespace, body: str | None) -> HarvestOutput:
        if body is not None:
            if args.payload is not None:
                raise IPythonUsageError(
                    "usage_error: give the payload either as JSON on the line or as the cell "
                    "body, not both"
                )
            payload = self._cell_value(body)
        else:
            payload = commands.parse_payload(args.payload)
        commands.check_signal(args.name, payload, args.idempotency_key)
        action = self._run(
            lambda c: commands.signal(
                c, args.ref, args.name, payload, idempotency_key=args.idempotency_key
            )
        )
        return HarvestOutput(action, render.render_action(action))

    def _run_action(self, act: Callable[..., Any], args: argparse.Namespace) -> HarvestOutput:
        action = self._run(lambda c: act(c, args.ref, args.reason))
        return HarvestOutput(action, render.render_action(action))

    def _cmd_cancel(self, args: argparse.Namespace, body: str | None) -> HarvestOutput:
        return self._run_action(commands.cancel, args)

    def _cmd_terminate(self, args: argparse.Namespace, body: str | None) -> HarvestOutput:
        return self._run_action(commands.terminate, args)

    def _cmd_pause(self, args: argparse.Namespace, body: str | None) -> HarvestOutput:
        return self._run_action(commands.pause, args)

    def _cmd_resume(self, args: argparse.Namespace, body: str | None) -> HarvestOutput:
        return self._run_action(commands.resume, args)

    def _cmd_query(self, args: argparse.Namespace, body: str | None) -> HarvestOutput:
        values = self._cell_args(body, args.args)
        commands.check_call("query", args.name, values, args.timeout)
        answer = self._run(
            lambda c: commands.query(c, args.ref, args.name, values, timeout=args.timeout)
        )
        return HarvestOutput(answer, render.render_query(answer))

    def _cmd_update(self, args: argparse.Namespace, body: str | None) -> HarvestOutput:
        values = self._cell_args(body, args.args)
        commands.check_call("update", args.name, values, args.timeout)
        if args.update_id is not None and not args.update_id:
            raise IPythonUsageError("usage_error: update: --update-id must not be empty")
        outcome = self._run(
            lambda c: commands.update(
                c, args.ref, args.name, values, update_id=args.update_id, timeout=args.timeout
            )
        )
        return HarvestOutput(outcome, render.render_update(outcome))

    def _cmd_reset(self, args: argparse.Namespace, body: str | None) -> HarvestOutput:
        commands.check_reset(args.to_event, args.to, args.reapply_signals)
        report: commands.ResetReport = self._run(
            lambda c: commands.reset(
                c, args.ref, to_event=args.to_event, to=args.to,
                reapply_signals=args.reapply_signals, dry_run=args.dry_run, reason=args.reason,
            )
        )
        if not report.valid and not report.dry_run:
            near = ", ".join(
                f"{label} event {seq}"
                for label, seq in (("before:", report.nearest_valid_before),
                                   ("after:", report.nearest_valid_after))
                if seq is not None
            ) or "none"
            raise IPythonUsageError(one_line(
                f"{commands.InvalidResetPointError.code}: event {report.boundary} of run "
                f"{report.run_id} is not a valid reset point ({report.reason}); nearest "
                f"valid points {near}; nothing was written"
            ))
        self._touched()
        return HarvestOutput(report, render.render_reset(report))

    def _cmd_retry(self, args: argparse.Namespace, body: str | None) -> HarvestOutput:
        report = self._run(lambda c: commands.retry(c, args.ref, reason=args.reason))
        self._touched()
        return HarvestOutput(report, render.render_reset(report))

    def _cmd_rerun(self, args: argparse.Namespace, body: str | None) -> HarvestOutput:
        started = self._run(lambda c: commands.rerun(c, args.ref))
        self._touched()
        return HarvestOutput(started, render.render_started(started))

    def _cmd_children(self, args: argparse.Namespace, body: str | None) -> HarvestOutput:
        tree = self._run(lambda c: commands.children(c, args.ref))
        return HarvestOutput(tree, render.render_tree(tree))

    def _cmd_chain(self, args: argparse.Namespace, body: str | None) -> HarvestOutput:
        found = self._run(lambda c: commands.chain(c, args.ref))
        return HarvestOutput(found, render.render_chain(found))

    def _cmd_replay(self, args: argparse.Namespace, body: str | None) -> HarvestOutput:
        code: WorkflowDefinition | CodeVersions = self.versions
        if args.code is not None:
            value = self.user_ns.get(args.code)
            if not isinstance(value, WorkflowDefinition):
                raise IPythonUsageError(
                    f"usage_error: replay: --code {args.code}: not a variable holding an "
                    "@hs.workflow"
                )
            code = value
        report: ReplayReport = self._run(lambda c: areplay_run(c, args.ref, code))
        return HarvestOutput(report, render_replay(report), replay_html(report))

    def _cmd_explore(self, args: argparse.Namespace, body: str | None) -> Any:
        from ..widgets.explorer import explore

        return explore(self.client, args.ref, window_size=args.window, live=args.live)

    # -- the in-kernel worker ---------------------------------------------------------------
    def _cmd_worker(self, args: argparse.Namespace, body: str | None) -> HarvestOutput:
        if args.action != "start" and (args.queue or args.concurrency):
            raise IPythonUsageError(
                "usage_error: worker: --queue and --concurrency go with `worker start`"
            )
        status: WorkerStatus
        if args.action == "start":
            tuning = dict(self.worker_options)
            if args.concurrency is not None:
                tuning["max_concurrent_tasks"] = args.concurrency
            status = self.kernel_worker.start(self.client, queues=args.queue, **tuning)
        elif args.action == "stop":
            status = self.kernel_worker.stop()
        else:
            status = self.kernel_worker.status()
        return HarvestOutput(status, render_worker_status(status), title="%harvest worker")

    def post_run_cell(self, result: Any = None) -> None:
        """After every cell: note new workflow/activity versions; while the worker runs,
        register each served workflow's newest version so runs started by name get it."""
        try:
            self.versions.scan(self.user_ns)
            if self.kernel_worker.running and self._client is not None:
                self.kernel_worker.sync_registrations(self._client)
        except Exception:  # never break the user's cell for bookkeeping
            pass

    # -- tab completion ---------------------------------------------------------------------
    def _remember_runs(self, runs: Sequence[Any]) -> None:
        known = {r[0] for r in self._recent_runs}
        fresh = [(r.run_id, r.workflow_id, r.workflow_type) for r in runs if r.run_id not in known]
        self._recent_runs = fresh + self._recent_runs

    def _recent(self) -> None:
        """Refresh recent runs and registered workflow types, at most every
        ``completion_cache_seconds``, and only once a command opened the client (completion
        never starts a database)."""
        if self._client is None:
            return
        now = time.monotonic()
        if self._recent_at and now - self._recent_at < self.completion_cache_seconds:
            return
        self._recent_at = now
        client = self._client
        try:
            page: RunPage = client._run(commands.list_runs(client.aio, limit=100), timeout=2.0)
            self._recent_runs = [(r.run_id, r.workflow_id, r.workflow_type) for r in page.runs]
            self._recent_types = client._run(_registered_types(client), timeout=2.0)
        except Exception:
            pass  # completion must never fail; try again after the cache period

    def workflow_names(self) -> list[str]:
        self.versions.scan(self.user_ns)
        self._recent()
        names = set(self.versions.workflow_names()) | set(self._recent_types)
        names |= {t for _, _, t in self._recent_runs}
        return sorted(names)

    def refs(self) -> list[str]:
        self._recent()
        out: list[str] = []
        for run_id, workflow_id, _ in self._recent_runs:
            out.append(run_id)
            if workflow_id != run_id:
                out.append(workflow_id)
        return list(dict.fromkeys(out))

    def candidates(self, words: list[str], current: str) -> tuple[str, list[tuple[str, str]]]:
        """What may replace ``current`` (the word under the cursor) after ``words``.

        Returns the typed text the candidates extend and ``(text, type)`` pairs.
        """
        if not words:
            return current, [(name, "command") for name in SUBPARSERS]
        parser = SUBPARSERS.get(words[0])
        if parser is None:
            return current, []
        options = _option_actions(parser)
        if current.startswith("--") and "=" in current:
            option, _, value = current.partition("=")
            return value, self._option_values(words[0], options.get(option))
        if current.startswith("-"):
            return current, [(o, "option") for o in options if o.startswith("--")]
        previous = options.get(words[-1]) if len(words) > 1 else None
        if previous is not None and previous.nargs != 0:
            return current, self._option_values(words[0], previous)
        index = _positional_index(words[1:], options)
        command = words[0]
        if command == "worker" and index == 0:
            return current, [(a, "action") for a in WORKER_ACTIONS]
        if command == "start" and index == 0:
            return current, [(n, "workflow") for n in self.workflow_names()]
        if command in REF_COMMANDS and index == 0:
            return current, [(r, "run") for r in self.refs()]
        return current, []

    def _option_values(self, command: str, action: argparse.Action | None) -> list[tuple[str, str]]:
        if action is None or action.nargs == 0:
            return []
        if action.choices:
            return [(str(c), "choice") for c in action.choices]
        if action.dest == "type" or (command == "start" and action.dest == "workflow"):
            return [(n, "workflow") for n in self.workflow_names()]
        if action.dest == "status":
            return [(s, "status") for s in commands.RUN_STATUSES]
        if action.dest == "workflow_id":
            self._recent()
            return [(w, "workflow id") for w in dict.fromkeys(w for _, w, _ in self._recent_runs)]
        return []

    @context_matcher(identifier="harvest_studio")  # type: ignore[misc,untyped-decorator]
    def complete(self, context: CompletionContext) -> SimpleMatcherResult:
        """IPython matcher: subcommands, options, workflow names and run ids after
        ``%harvest`` (also on the first line of a ``%%harvest`` cell)."""
        line = context.text_until_cursor
        found = re.match(r"\s*%{1,2}harvest(?=\s|$)", line)
        if found is None:
            return {"completions": [], "suppress": False}
        rest = line[found.end():]
        if not rest:
            return {"completions": [], "suppress": False}
        words = rest.split()
        current = "" if rest[-1].isspace() else words.pop()
        try:
            typed, pairs = self.candidates(words, current)
        except Exception:
            return {"completions": [], "suppress": False}
        token = context.token
        cut = len(typed) - len(token)
        if cut < 0 or not typed.endswith(token):
            return {"completions": [], "suppress": False}
        completions = [
            SimpleCompletion(text[cut:], type=kind)
            for text, kind in pairs
            if text.startswith(typed)
        ]
        return {"completions": completions, "suppress": True, "ordered": True}


HarvestMagics.harvest.__doc__ = HELP


def _option_actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {
        option: action
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--")
    }


def _positional_index(words: Sequence[str], options: Mapping[str, argparse.Action]) -> int:
    """How many positional arguments ``words`` (after the subcommand) already hold."""
    index = 0
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if word.startswith("-"):
            action = options.get(word)
            skip = action is not None and action.nargs != 0 and "=" not in word
            continue
        index += 1
    return index


async def _registered_types(client: Client) -> list[str]:
    return await client.aio.registered_workflows()


# ---------------------------------------------------------------------------------------
# loading and unloading
# ---------------------------------------------------------------------------------------
def _configurables(shell: InteractiveShell) -> list[Any]:
    found: list[Any] = shell.configurables
    return found


def _forget(shell: InteractiveShell, magics: HarvestMagics) -> None:
    configurables = _configurables(shell)
    configurables[:] = [c for c in configurables if c is not magics]


def _instance(shell: InteractiveShell) -> HarvestMagics | None:
    for configurable in _configurables(shell):
        if isinstance(configurable, HarvestMagics):
            return configurable
    return None


def load_ipython_extension(shell: InteractiveShell) -> None:
    """``%load_ext harvest_studio``: register ``%harvest``, its completer, its cell hook
    and its settings."""
    if _instance(shell) is not None:
        return
    magics = HarvestMagics(shell)
    shell.register_magics(magics)
    shell.Completer.custom_matchers.append(magics.complete)
    shell.events.register("post_run_cell", magics.post_run_cell)
    atexit.register(magics.close)
    magics.versions.scan(magics.user_ns)


def unload_ipython_extension(shell: InteractiveShell) -> None:
    """``%unload_ext harvest_studio``: stop the in-kernel worker, then remove the magic,
    completer, cell hook and settings."""
    found = _instance(shell)
    if found is None:
        return
    magics: HarvestMagics = found
    magics.close()
    atexit.unregister(magics.close)
    for kind in ("line", "cell"):
        table = shell.magics_manager.magics[kind]
        bound = table.get("harvest")
        if bound is not None and getattr(bound, "__self__", None) is magics:
            del table["harvest"]
    shell.magics_manager.registry.pop(type(magics).__name__, None)
    matchers = shell.Completer.custom_matchers
    matchers[:] = [m for m in matchers if getattr(m, "__self__", None) is not magics]
    try:
        shell.events.unregister("post_run_cell", magics.post_run_cell)
    except ValueError:
        pass
    _forget(shell, magics)


__all__ = ["HELP", "HarvestMagics", "build_parser", "load_ipython_extension",
           "unload_ipython_extension"]
