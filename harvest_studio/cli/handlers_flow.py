"""Handlers of ``harvest queue``, ``harvest activity`` and ``harvest workflow``: list,
pause, resume and limit a queue or an activity type; list and limit workflow types."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from .. import commands
from ..client import KEEP, AsyncClient
from ..commands.render import (
    render_flow_action,
    render_limits,
    render_queues,
)
from .common import EXIT_OK, _emit, _with_client

# args.command is the scope: "queue" or "activity"
_LISTS: dict[str, tuple[Callable[[AsyncClient], Awaitable[Any]], Callable[[Any], str]]] = {
    "queue": (commands.queue_list, render_queues),
    "activity": (commands.activity_list, render_limits),
    "workflow": (commands.workflow_list, render_limits),
}
_PAUSES: dict[tuple[str, bool], Callable[[AsyncClient, str], Awaitable[commands.FlowAction]]] = {
    ("queue", True): commands.queue_pause,
    ("queue", False): commands.queue_resume,
    ("activity", True): commands.activity_pause,
    ("activity", False): commands.activity_resume,
}
_LIMITS: dict[str, Callable[..., Awaitable[commands.FlowAction]]] = {
    "queue": commands.queue_limit,
    "activity": commands.activity_limit,
}


def _cmd_flow_list(args: argparse.Namespace) -> int:
    listing_of, render = _LISTS[args.command]
    listing = asyncio.run(_with_client(args, listing_of))
    _emit(args, listing, render)
    return EXIT_OK


def _cmd_flow_pause(args: argparse.Namespace) -> int:
    act = _PAUSES[(args.command, True)]
    action = asyncio.run(_with_client(args, lambda c: act(c, args.name)))
    _emit(args, action, render_flow_action)
    return EXIT_OK


def _cmd_flow_resume(args: argparse.Namespace) -> int:
    act = _PAUSES[(args.command, False)]
    action = asyncio.run(_with_client(args, lambda c: act(c, args.name)))
    _emit(args, action, render_flow_action)
    return EXIT_OK


def _cmd_flow_limit(args: argparse.Namespace) -> int:
    # before the database is touched
    fields = commands.parse_limits(args.rate, args.burst, args.max_concurrent,
                                   getattr(args, "max_workflows", KEEP),
                                   workflows=args.command == "queue")
    limit = _LIMITS[args.command]
    action = asyncio.run(_with_client(args, lambda c: limit(c, args.name, **fields)))
    _emit(args, action, render_flow_action)
    return EXIT_OK


def _cmd_workflow_limit(args: argparse.Namespace) -> int:
    commands.parse_limit_value(args.max_workflows, "--max-workflows", int)  # before the database
    action = asyncio.run(_with_client(
        args, lambda c: commands.workflow_limit(c, args.name, max_workflows=args.max_workflows)))
    _emit(args, action, render_flow_action)
    return EXIT_OK
