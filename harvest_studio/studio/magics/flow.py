"""``%harvest queue list|pause|resume|limit``, ``%harvest activity list|pause|resume|limit``
and ``%harvest workflow list|limit``: flow control from the notebook."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from ... import commands
from ...client import KEEP
from ...commands import render
from ...commands.render.flow import limits_html, queues_html
from ..display import HarvestOutput
from .context import MagicsContext

_Act = Callable[[Any, str], Awaitable[commands.FlowAction]]
_Limit = Callable[..., Awaitable[commands.FlowAction]]


def _flow(
    magics: MagicsContext, args: argparse.Namespace, pause: _Act, resume: _Act, limit: _Limit
) -> HarvestOutput:
    if args.action == "limit":
        fields = commands.parse_limits(args.rate, args.burst, args.max_concurrent,
                                       getattr(args, "max_workflows", KEEP),
                                       workflows=hasattr(args, "max_workflows"))
        action = magics.run(lambda c: limit(c, args.name, **fields))
    else:
        act = pause if args.action == "pause" else resume
        action = magics.run(lambda c: act(c, args.name))
    return HarvestOutput(action, render.render_flow_action(action))


def do_queue(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    if args.action == "list":
        listing: commands.QueueList = magics.run(commands.queue_list)
        return HarvestOutput(listing, render.render_queues(listing), queues_html(listing))
    return _flow(magics, args, commands.queue_pause, commands.queue_resume, commands.queue_limit)


def do_activity(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    if args.action == "list":
        listing: commands.LimitList = magics.run(commands.activity_list)
        return HarvestOutput(listing, render.render_limits(listing), limits_html(listing))
    return _flow(
        magics, args, commands.activity_pause, commands.activity_resume, commands.activity_limit
    )


def do_workflow(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    if args.action == "list":
        listing: commands.LimitList = magics.run(commands.workflow_list)
        return HarvestOutput(listing, render.render_limits(listing), limits_html(listing))
    commands.parse_limit_value(args.max_workflows, "--max-workflows", int)  # before the database
    action = magics.run(
        lambda c: commands.workflow_limit(c, args.name, max_workflows=args.max_workflows))
    return HarvestOutput(action, render.render_flow_action(action))
