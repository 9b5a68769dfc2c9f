"""Handlers of ``harvest dlq list|show|group|replay|discard``."""

from __future__ import annotations

import argparse
import asyncio

from .. import commands
from ..commands.render import (
    render_dlq_action,
    render_dlq_detail,
    render_dlq_groups,
    render_dlq_list,
)
from .common import EXIT_OK, _emit, _with_client


def dlq_filter(args: argparse.Namespace) -> commands.DlqFilter:
    return commands.DlqFilter(
        fingerprint=args.fingerprint, kind=args.kind, workflow_type=args.workflow_type,
        type_name=args.type_name, since=args.since,
    )


def _cmd_dlq_list(args: argparse.Namespace) -> int:
    where = dlq_filter(args)
    listing = asyncio.run(
        _with_client(args, lambda c: commands.dlq_list(c, where, limit=args.limit))
    )
    _emit(args, listing, render_dlq_list)
    return EXIT_OK


def _cmd_dlq_show(args: argparse.Namespace) -> int:
    detail = asyncio.run(_with_client(args, lambda c: commands.dlq_show(c, args.id)))
    _emit(args, detail, render_dlq_detail)
    return EXIT_OK


def _cmd_dlq_group(args: argparse.Namespace) -> int:
    where = dlq_filter(args)
    groups = asyncio.run(_with_client(args, lambda c: commands.dlq_group(c, where)))
    _emit(args, groups, render_dlq_groups)
    return EXIT_OK


def _cmd_dlq_replay(args: argparse.Namespace) -> int:
    where = dlq_filter(args)
    action = asyncio.run(_with_client(args, lambda c: commands.dlq_replay(
        c, args.ids, where, everything=args.all, note=args.note, dry_run=args.dry_run)))
    _emit(args, action, render_dlq_action)
    return EXIT_OK


def _cmd_dlq_discard(args: argparse.Namespace) -> int:
    where = dlq_filter(args)
    action = asyncio.run(_with_client(args, lambda c: commands.dlq_discard(
        c, args.ids, where, everything=args.all, reason=args.reason, dry_run=args.dry_run)))
    _emit(args, action, render_dlq_action)
    return EXIT_OK
