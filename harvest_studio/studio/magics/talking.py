"""``%harvest`` subcommands that talk to a running run: signal, cancel, terminate,
pause, resume, query and update."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError as IPythonUsageError

from ... import commands
from ...commands import render
from ..display import HarvestOutput
from .context import MagicsContext


def do_signal(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    if body is not None:
        if args.payload is not None:
            raise IPythonUsageError(
                "usage_error: give the payload either as JSON on the line or as the cell "
                "body, not both"
            )
        payload = magics.cell_value(body)
    else:
        payload = commands.parse_payload(args.payload)
    commands.check_signal(args.name, payload, args.idempotency_key)
    action = magics.run(
        lambda c: commands.signal(
            c, args.ref, args.name, payload, idempotency_key=args.idempotency_key
        )
    )
    return HarvestOutput(action, render.render_action(action))


def _run_action(
    magics: MagicsContext, act: Callable[..., Any], args: argparse.Namespace
) -> HarvestOutput:
    action = magics.run(lambda c: act(c, args.ref, args.reason))
    return HarvestOutput(action, render.render_action(action))


def do_cancel(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    return _run_action(magics, commands.cancel, args)


def do_terminate(
    magics: MagicsContext, args: argparse.Namespace, body: str | None
) -> HarvestOutput:
    return _run_action(magics, commands.terminate, args)


def do_pause(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    return _run_action(magics, commands.pause, args)


def do_resume(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    return _run_action(magics, commands.resume, args)


def do_query(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    values = magics.cell_args(body, args.args)
    commands.check_call("query", args.name, values, args.timeout)
    answer = magics.run(
        lambda c: commands.query(c, args.ref, args.name, values, timeout=args.timeout)
    )
    return HarvestOutput(answer, render.render_query(answer))


def do_update(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    values = magics.cell_args(body, args.args)
    commands.check_call("update", args.name, values, args.timeout)
    if args.update_id is not None and not args.update_id:
        raise IPythonUsageError("usage_error: update: --update-id must not be empty")
    outcome = magics.run(
        lambda c: commands.update(
            c, args.ref, args.name, values, update_id=args.update_id, timeout=args.timeout,
            wait_for=args.wait_for,
        )
    )
    return HarvestOutput(outcome, render.render_update(outcome))
