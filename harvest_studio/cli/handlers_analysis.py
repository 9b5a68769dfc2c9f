"""Handlers of the analysis bench's commands: ``harvest export`` (run histories out of
PostgreSQL as Parquet), ``harvest lint`` (workflow code checked for determinism) and
``harvest replay-check`` (stored histories replayed against the code as it is now)."""

from __future__ import annotations

import argparse
from typing import Any

from .. import commands
from ..client import connect
from ..model.errors import UsageError
from .common import EXIT_FAILURE, EXIT_OK, _emit


def _cmd_export(args: argparse.Namespace) -> int:
    from ..tools.analysis.exporting import check_target, export_parquet
    from ..tools.replay_check import export_histories

    check_target(args.parquet or args.histories)  # before the database is touched
    if args.parquet and args.type:
        raise UsageError("export: --type goes with --histories")
    client = connect(args.database_url, namespace=args.namespace)
    try:
        written: Any
        if args.parquet:
            written = export_parquet(
                client, args.parquet, since=args.since, all_namespaces=args.all_namespaces
            )
        else:
            if args.all_namespaces:
                raise UsageError("export: --histories exports one namespace (--namespace)")
            written = export_histories(
                client, args.histories, since=args.since, types=args.type or ()
            )
    finally:
        client.close()
    _emit(args, written, str)
    return EXIT_OK


def _cmd_lint(args: argparse.Namespace) -> int:
    from ..tools.lint import lint_paths

    report = lint_paths(args.targets)
    _emit(args, report, str)
    return EXIT_OK if report.clean else EXIT_FAILURE


def _cmd_replay_check(args: argparse.Namespace) -> int:
    from ..tools.replay_check import replay_check, replay_files

    app = commands.load_app(args.module)
    if not app.workflows:
        raise UsageError(f"replay-check: {args.module} defines no workflow")
    if args.histories:
        if args.since or args.sample:
            raise UsageError("replay-check: --since and --sample read the database, not files")
        files = replay_files(args.histories, app.workflows, types=args.type or ())
        _emit(args, files, str)
        return EXIT_OK if files.clean else EXIT_FAILURE
    client = connect(args.database_url, namespace=args.namespace)
    try:
        report = replay_check(
            client, app.workflows, since=args.since, types=args.type or (),
            sample=args.sample,
        )
    finally:
        client.close()
    _emit(args, report, str)
    return EXIT_OK if report.clean else EXIT_FAILURE
