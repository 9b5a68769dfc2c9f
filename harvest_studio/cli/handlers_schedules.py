"""Handlers of ``harvest schedule``: create, list, show, preview, pause, resume, trigger,
backfill, delete and log."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from .. import commands
from ..commands.render import (
    render_preview,
    render_schedule,
    render_schedule_action,
    render_schedule_log,
    render_schedule_runs,
    render_schedules,
)
from .common import EXIT_OK, _emit, _with_client


def _create_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "cron": args.cron,
        "every": args.every,
        "timezone": args.timezone,
        "overlap": args.overlap,
        "catchup": args.catchup,
        "jitter": args.jitter,
        "start_at": args.start_at,
        "end_at": args.end_at,
        "max_runs": args.max_runs,
        "failure_limit": args.failure_limit,
    }


def _cmd_schedule_create(args: argparse.Namespace) -> int:
    options = _create_options(args)
    commands.check_schedule(args.name, args.workflow, args.args, **options)  # before the db
    action = asyncio.run(
        _with_client(
            args,
            lambda c: commands.schedule_create(
                c,
                args.name,
                args.workflow,
                args.args,
                paused=args.paused,
                note=args.note,
                replace=args.replace,
                **options,
            ),
        )
    )
    _emit(args, action, render_schedule_action)
    return EXIT_OK


def _cmd_schedule_list(args: argparse.Namespace) -> int:
    listing = asyncio.run(_with_client(args, commands.schedule_list))
    _emit(args, listing, render_schedules)
    return EXIT_OK


def _cmd_schedule_show(args: argparse.Namespace) -> int:
    info = asyncio.run(_with_client(args, lambda c: commands.schedule_show(c, args.name)))
    _emit(args, info, render_schedule)
    return EXIT_OK


def _cmd_schedule_preview(args: argparse.Namespace) -> int:
    commands.check_preview(
        args.name,
        cron=args.cron,
        every=args.every,
        timezone=args.timezone,
        after=args.start,
        count=args.count,
    )
    if args.name is None:  # a spec that is not saved: no database
        preview = commands.preview_spec(
            cron=args.cron,
            every=args.every,
            timezone=args.timezone,
            after=args.start,
            count=args.count,
        )
    else:
        preview = asyncio.run(
            _with_client(
                args,
                lambda c: commands.schedule_preview(
                    c, args.name, after=args.start, count=args.count
                ),
            )
        )
    _emit(args, preview, render_preview)
    return EXIT_OK


def _cmd_schedule_pause(args: argparse.Namespace) -> int:
    act = commands.schedule_pause if args.schedule_command == "pause" else commands.schedule_resume
    action = asyncio.run(_with_client(args, lambda c: act(c, args.name, args.note)))
    _emit(args, action, render_schedule_action)
    return EXIT_OK


def _cmd_schedule_trigger(args: argparse.Namespace) -> int:
    runs = asyncio.run(_with_client(args, lambda c: commands.schedule_trigger(c, args.name)))
    _emit(args, runs, render_schedule_runs)
    return EXIT_OK


def _cmd_schedule_backfill(args: argparse.Namespace) -> int:
    commands.check_backfill(args.start, args.end)  # before the database is touched
    runs = asyncio.run(
        _with_client(args, lambda c: commands.schedule_backfill(c, args.name, args.start, args.end))
    )
    _emit(args, runs, render_schedule_runs)
    return EXIT_OK


def _cmd_schedule_delete(args: argparse.Namespace) -> int:
    action = asyncio.run(_with_client(args, lambda c: commands.schedule_delete(c, args.name)))
    _emit(args, action, render_schedule_action)
    return EXIT_OK


def _cmd_schedule_log(args: argparse.Namespace) -> int:
    log = asyncio.run(_with_client(args, lambda c: commands.schedule_log(c, args.name, args.limit)))
    _emit(args, log, render_schedule_log)
    return EXIT_OK
