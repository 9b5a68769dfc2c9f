"""``%harvest`` subcommands that talk to a running run: signal, cancel, terminate,
pause, resume, query and update."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError as IPythonUsageError

from ... import commands
from ...commands import render
from ..display import HarvestOutput

if TYPE_CHECKING:
    from .core import HarvestMagics


def do_signal(magics: HarvestMagics, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    if body is not None:
        if args.payload is not None:
            raise IPythonUsageError(
                "usage_error: give the payload either as JSON on the line or as the cell "
                "body, not both"
            )
        payload = magics._cell_value(body)
    else:
        payload = commands.parse_payload(args.payload)
    commands.check_signal(args.name, payload, args.idempotency_key)
    action = magics._run(
        lambda c: commands.signal(
            c, args.ref, args.name, payload, idempotency_key=args.idempotency_key
        )
    )
    return HarvestOutput(action, render.render_action(action))


def _run_action(
    magics: HarvestMagics, act: Callable[..., Any], args: argparse.Namespace
) -> HarvestOutput:
    action = magics._run(lambda c: act(c, args.ref, args.reason))
    return HarvestOutput(action, render.render_action(action))


def do_cancel(magics: HarvestMagics, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    return _run_action(magics, commands.cancel, args)


def do_terminate(
    magics: HarvestMagics, args: argparse.Namespace, body: str | None
) -> HarvestOutput:
    return _run_action(magics, commands.terminate, args)


def do_pause(magics: HarvestMagics, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    return _run_action(magics, commands.pause, args)


def do_resume(magics: HarvestMagics, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    return _run_action(magics, commands.resume, args)


def do_query(magics: HarvestMagics, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    values = magics._cell_args(body, args.args)
    commands.check_call("query", args.name, values, args.timeout)
    answer = magics._run(
        lambda c: commands.query(c, args.ref, args.name, values, timeout=args.timeout)
    )
    return HarvestOutput(answer, render.render_query(answer))


def do_update(magics: HarvestMagics, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    values = magics._cell_args(body, args.args)
    commands.check_call("update", args.name, values, args.timeout)
    if args.update_id is not None and not args.update_id:
        raise IPythonUsageError("usage_error: update: --update-id must not be empty")
    outcome = magics._run(
        lambda c: commands.update(
            c, args.ref, args.name, values, update_id=args.update_id, timeout=args.timeout
        )
    )
    return HarvestOutput(outcome, render.render_update(outcome))
