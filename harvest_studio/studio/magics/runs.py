"""``%harvest`` subcommands about runs: start, list, show, history and result."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any, cast

from IPython.core.error import UsageError as IPythonUsageError

from ... import commands
from ...client import RunPage
from ...commands import render
from ...commands.render.html import history_html, run_html, runs_html
from ...model.definitions import WorkflowDefinition
from ...model.durations import to_seconds
from ...model.errors import UnknownWorkflowError
from ...model.filters import FilterError
from ..display import HarvestOutput
from .completion import remember_runs
from .context import MagicsContext
from .parser import one_line


def do_start(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    values = magics.cell_args(body, args.args)
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
        "priority": args.priority,
        "fairness_key": args.fairness_key,
    }
    # a workflow defined in this notebook starts with its code's fingerprint, so the
    # run replays exactly this version
    definition = magics.versions.bound_workflow(args.workflow, magics.user_ns)
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

    started: commands.StartedRun = magics.run(launch)
    magics.touched()
    if not args.wait:
        return HarvestOutput(started, render.render_started(started))
    outcome: commands.RunResult = magics.run(
        lambda c: commands.result(c, started.run_id, args.timeout)
    )
    text = render.render_started(started) + "\n" + render.render_result(outcome)
    return HarvestOutput(outcome, text, title=f"{name} {started.workflow_id}")


def do_list(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    if args.query is not None:
        try:
            commands.check_filter(args.query)
        except FilterError as exc:
            pos = max(0, min(exc.position, len(args.query)))
            marked = f"{args.query[:pos]}[HERE]{args.query[pos:]}"
            raise IPythonUsageError(one_line(f"{exc.code}: {exc}: {marked}")) from None
    limit = args.limit or magics.display_limit
    page: RunPage = magics.run(
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
    remember_runs(magics, page.runs)
    shown = page.runs[: magics.display_limit]
    hidden = len(page.runs) - len(shown)
    text = render.render_runs(RunPage(shown, page.next_page_token))
    note = f"more runs: add --page-token '{page.next_page_token}'" if (
        page.next_page_token) else None
    if hidden:
        text += f"\n\n{hidden} more not shown (display_limit); the result's .data has all"
    html = runs_html(shown, hidden=hidden, note=note)

    def clickable() -> Any:
        from ..widgets.run_list import run_list

        return run_list(magics.client, shown, note=note or "", html=html, text=text)

    return HarvestOutput(page, text, html, widget=clickable)


def do_show(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    info = magics.run(lambda c: commands.show(c, args.ref))
    text = render.render_run(info)
    return HarvestOutput(info, text, run_html(info, text))


def do_history(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    history: commands.RunHistory = magics.run(
        lambda c: commands.history(c, args.ref, after_seq=args.after_seq, limit=args.limit)
    )
    shown_events = history.events[: magics.display_limit]
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


def do_result(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    outcome: commands.RunResult = magics.run(
        lambda c: commands.result(c, args.ref, args.timeout)
    )
    title = f"{outcome.workflow_type} {outcome.workflow_id} (run {outcome.run_id})"
    live = sys.modules.get("harvest_studio.studio.widgets.live")
    if live is not None:  # widgets were shown: those following this run show its end now
        live.settle(outcome.run_id)
    return HarvestOutput(outcome, render.render_result(outcome), title=title)
