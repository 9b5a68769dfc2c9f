"""Handlers of the ``harvest`` commands about runs: start, result, list, show, history,
reset, retry, rerun, children and chain."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from .. import commands
from ..client import AsyncClient
from ..commands.render import (
    render_chain,
    render_history,
    render_reset,
    render_result,
    render_run,
    render_runs,
    render_started,
    render_tree,
)
from ..model.durations import to_seconds
from ..model.errors import UnknownWorkflowError
from ..model.filters import FilterError
from .common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    CommandLineError,
    _emit,
    _error,
    _print,
    _with_client,
)


def _run_failed(outcome: commands.RunResult) -> int:
    if outcome.ok:
        return EXIT_OK
    error = outcome.error or {}
    detail = f"{error.get('type', '')}: {error.get('message', '')}".strip(": ")
    _error("workflow_failed", f"run {outcome.run_id} ended {outcome.status}: {detail}")
    return EXIT_FAILURE


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
        "priority": args.priority,
        "fairness_key": args.fairness_key,
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
