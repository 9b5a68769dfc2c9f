"""The ``HarvestMagics`` configurable: its settings, the ``%harvest`` line/cell magic that
parses a line and dispatches to the subcommand handlers, cell bodies, and the cell hook."""

from __future__ import annotations

import argparse
import ast
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

import psycopg
from IPython.core.completer import CompletionContext, SimpleMatcherResult, context_matcher
from IPython.core.error import UsageError as IPythonUsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, output_can_be_silenced
from traitlets import Dict, Float, Integer, TraitError, Unicode, observe, validate

from ... import commands
from ...client import Client, RunHandle
from ...model.errors import HarvestError
from ...tools.code_versions import CodeVersions
from ..display import HarvestOutput, run_identity
from ..kernel_worker import KernelWorker
from . import analysis, completion, dags, flow, notebook, operations, resets, runs, talking
from .config import find_pyproject, pyproject_settings
from .context import MagicsContext
from .parser import CELL_COMMANDS, HELP, PARSER, _HelpShown, one_line, split_line, usage_from

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell


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
        self.history_db: Any = None  # the histories %harvest load put in DuckDB
        # what tab completion remembers (see .completion)
        self.recent_at = 0.0
        self.recent_runs: list[tuple[str, str, str]] = []  # run id, workflow id, type
        self.recent_types: list[str] = []
        self.recent_schedules: list[str] = []
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
                self._client = Client(
                    self.database_url or None, namespace=self.namespace, front_end="magics"
                )
            except (HarvestError, psycopg.Error) as exc:
                raise usage_from(exc) from None
        return self._client

    @property
    def opened_client(self) -> Client | None:
        """The sync client if a command already opened it, else None (never opens one)."""
        return self._client

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        self.recent_at = 0.0
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
        handler = HANDLERS[command]
        try:
            output: HarvestOutput | None = self._as_handle(handler(self, args, body))
            return output
        except IPythonUsageError:
            raise
        except (HarvestError, psycopg.Error) as exc:
            raise usage_from(exc) from None
        except KeyboardInterrupt:  # one line, not a traceback through the client's loop
            raise IPythonUsageError(f"interrupted: %harvest {command} stopped") from None

    def _as_handle(self, output: Any) -> Any:
        """A result about one run acts as that run's handle too."""
        if isinstance(output, HarvestOutput) and output.handle is None:
            identity = run_identity(output.data)
            if identity is not None:
                output.handle = RunHandle(self.client, identity[0], identity[1])
        return output

    def run(self, action: Callable[[Any], Any]) -> Any:
        """Run one command-layer coroutine on the client's loop: ``action(async_client)``."""
        client = self.client
        return client._run(action(client.aio))

    def touched(self) -> None:
        """Note that a command made new runs (completion reads them next time)."""
        self.recent_at = 0.0

    # -- cell bodies ------------------------------------------------------------------------
    def cell_value(self, body: str) -> Any:
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

    def cell_args(self, body: str | None, line_args: Sequence[str]) -> list[Any]:
        """The arguments: JSON words of the line, or the value of the cell body."""
        if body is None:
            return commands.parse_json_args(line_args)
        if line_args:
            raise IPythonUsageError(
                "usage_error: give the arguments either as JSON on the line or as the cell "
                "body, not both"
            )
        value = self.cell_value(body)
        return list(value) if isinstance(value, tuple) else [value]

    def post_run_cell(self, result: Any = None) -> None:
        """After every cell: note new workflow/activity versions; while the worker runs,
        register each served workflow's newest version so runs started by name get it."""
        try:
            self.versions.scan(self.user_ns)
            if self.kernel_worker.running and self._client is not None:
                self.kernel_worker.sync_registrations(self._client)
        except Exception:  # never break the user's cell for bookkeeping
            pass

    # -- tab completion (see .completion) ---------------------------------------------------
    def workflow_names(self) -> list[str]:
        return completion.workflow_names(self)

    def refs(self) -> list[str]:
        return completion.refs(self)

    def candidates(self, words: list[str], current: str) -> tuple[str, list[tuple[str, str]]]:
        """What may replace ``current`` (the word under the cursor) after ``words``."""
        return completion.candidates(self, words, current)

    @context_matcher(identifier="harvest_studio")  # type: ignore[misc,untyped-decorator]
    def complete(self, context: CompletionContext) -> SimpleMatcherResult:
        """IPython matcher: subcommands, options, workflow names and run ids after
        ``%harvest`` (also on the first line of a ``%%harvest`` cell)."""
        return completion.complete(self, context)


HarvestMagics.harvest.__doc__ = HELP

# one handler per subcommand of the parser: handler(magics, args, cell_body) -> output
Handler = Callable[[MagicsContext, argparse.Namespace, str | None], HarvestOutput]
HANDLERS: dict[str, Handler] = {
    "start": runs.do_start,
    "list": runs.do_list,
    "show": runs.do_show,
    "history": runs.do_history,
    "result": runs.do_result,
    "signal": talking.do_signal,
    "cancel": talking.do_cancel,
    "terminate": talking.do_terminate,
    "pause": talking.do_pause,
    "resume": talking.do_resume,
    "query": talking.do_query,
    "update": talking.do_update,
    "reset": resets.do_reset,
    "retry": resets.do_retry,
    "rerun": resets.do_rerun,
    "children": resets.do_children,
    "chain": resets.do_chain,
    "replay": notebook.do_replay,
    "explore": notebook.do_explore,
    "queue": flow.do_queue,
    "activity": flow.do_activity,
    "workflow": flow.do_workflow,
    "dag": dags.do_dag,
    "schedule": dags.do_schedule,
    "worker": notebook.do_worker,
    "load": analysis.do_load,
    "sql": analysis.do_sql,
    "lint": analysis.do_lint,
    "profile": analysis.do_profile,
    "audit": operations.do_audit,
    "workers": operations.do_workers,
    "dlq": operations.do_dlq,
}


def _configurables(shell: InteractiveShell) -> list[Any]:
    found: list[Any] = shell.configurables
    return found


def _forget(shell: InteractiveShell, magics: HarvestMagics) -> None:
    configurables = _configurables(shell)
    configurables[:] = [c for c in configurables if c is not magics]
