"""Handlers of the operations commands: ``audit``, ``token create|list|revoke``,
``workers list|drain`` and ``serve``."""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from .. import commands
from ..commands.render import (
    dumps,
    render_audit,
    render_deliveries,
    render_hook_added,
    render_hooks,
    render_namespace_action,
    render_purge,
    render_token_created,
    render_token_revoked,
    render_tokens,
    render_worker_drained,
    render_workers,
)
from ..model.errors import UsageError
from ..store.connection import (
    ENV_URL,
    database_url,
    describe_url,
    embedded_data_dir,
    stop_embedded,
)
from .common import EXIT_OK, _emit, _print, _with_client


def _cmd_audit(args: argparse.Namespace) -> int:
    listing = asyncio.run(
        _with_client(
            args,
            lambda c: commands.audit_list(
                c, run=args.run, target=args.target, actor=args.actor, action=args.action,
                since=args.since, before=args.before, limit=args.limit,
                all_namespaces=args.all_namespaces,
            ),
        )
    )
    _emit(args, listing, render_audit)
    return EXIT_OK


def _cmd_token_create(args: argparse.Namespace) -> int:
    made = asyncio.run(
        _with_client(
            args, lambda c: commands.token_create(c, args.name, args.scope, args.token_namespace)
        )
    )
    _emit(args, made, render_token_created)
    return EXIT_OK


def _cmd_token_list(args: argparse.Namespace) -> int:
    listing = asyncio.run(
        _with_client(args, lambda c: commands.token_list(c, include_revoked=args.all))
    )
    _emit(args, listing, render_tokens)
    return EXIT_OK


def _cmd_token_revoke(args: argparse.Namespace) -> int:
    done = asyncio.run(_with_client(args, lambda c: commands.token_revoke(c, args.ref)))
    _emit(args, done, render_token_revoked)
    return EXIT_OK


def _cmd_workers(args: argparse.Namespace) -> int:
    if args.action == "drain":
        if not args.worker_id:
            raise UsageError("workers drain needs a worker id (see `harvest workers list`)")
        done = asyncio.run(
            _with_client(args, lambda c: commands.worker_drain(c, args.worker_id))
        )
        _emit(args, done, render_worker_drained)
        return EXIT_OK
    if args.worker_id:
        raise UsageError("workers list takes no worker id")
    listing = asyncio.run(
        _with_client(args, lambda c: commands.workers_list(c, include_gone=args.all))
    )
    _emit(args, listing, render_workers)
    return EXIT_OK


def _cmd_purge(args: argparse.Namespace) -> int:
    archive = None
    if args.archive is not None and not args.dry_run:
        from ..tools.archive import RunArchive

        archive = RunArchive(args.archive, args.format)
    report = asyncio.run(_with_client(args, lambda c: commands.purge(
        c, args.ended_before, all_namespaces=args.all_namespaces, archive=archive,
        dry_run=args.dry_run)))
    files = [str(f) for f in archive.files] if archive is not None else []
    if args.json:
        _print(dumps({**report.to_json(), "archive_files": files}))
    else:
        _print(render_purge(report, files))
    return EXIT_OK


def _cmd_namespace_retention(args: argparse.Namespace) -> int:
    keep = None if args.keep.lower() in ("forever", "none", "off") else args.keep
    action = asyncio.run(
        _with_client(args, lambda c: commands.namespace_retention(c, args.name, keep))
    )
    _emit(args, action, render_namespace_action)
    return EXIT_OK


def _cmd_db_stop(args: argparse.Namespace) -> int:
    if args.database_url or os.environ.get(ENV_URL):
        raise UsageError("db stop stops the embedded server only; this command was given "
                         "a database URL")
    pid = stop_embedded()
    _print(f"stopped the embedded server (pid {pid}) of {embedded_data_dir()}" if pid
           else f"the embedded server of {embedded_data_dir()} is not running")
    return EXIT_OK


def _cmd_hooks(args: argparse.Namespace) -> int:
    if args.hooks_command == "add":
        added = asyncio.run(_with_client(args, lambda c: commands.hooks_add(
            c, args.name, args.url, args.event or ["run.ended"],
            workflow_type=args.workflow_type, sla=args.sla)))
        _emit(args, added, render_hook_added)
    elif args.hooks_command == "list":
        _emit(args, asyncio.run(_with_client(args, commands.hooks_list)), render_hooks)
    elif args.hooks_command == "remove":
        asyncio.run(_with_client(args, lambda c: commands.hooks_remove(c, args.name)))
        _print(f"removed webhook {args.name}")
    else:
        log = asyncio.run(_with_client(args, lambda c: commands.hooks_deliveries(
            c, args.name, state=args.state, limit=args.limit)))
        _emit(args, log, render_deliveries)
    return EXIT_OK


def _cmd_serve(args: argparse.Namespace) -> int:
    try:
        from ..api.server import serve
    except ImportError as exc:
        raise UsageError(
            f"harvest serve needs the serve extra ({exc.name} is missing): "
            "pip install 'harvest-studio[serve]'"
        ) from None
    url = database_url(args.database_url)
    try:
        from ..dashboard import mount_dashboard

        extend, ui = mount_dashboard, ", dashboard under /ui"
    except ImportError:  # the API alone: the dashboard extra is not installed
        extend, ui = _no_dashboard, " (no dashboard: pip install 'harvest-studio[dashboard]')"
    _print(f"serving {describe_url(url)} on http://{args.host}:{args.port}"
           f" (API under /api/v1, OpenAPI at /api/v1/openapi.json{ui})")
    serve(url, host=args.host, port=args.port, log_level=args.log_level, extend=extend)
    return EXIT_OK


def _no_dashboard(app: Any) -> None:
    from fastapi.responses import PlainTextResponse

    async def missing() -> PlainTextResponse:
        return PlainTextResponse("The dashboard needs Panel: pip install "
                                 "'harvest-studio[dashboard]'", status_code=501)

    app.add_api_route("/ui", missing, include_in_schema=False)
