"""Handlers of the analysis bench's commands: ``harvest export`` (run histories out of
PostgreSQL as Parquet), ``harvest lint`` (workflow code checked for determinism) and
``harvest replay-check`` (stored histories replayed against the code as it is now)."""

from __future__ import annotations

import argparse

from .. import commands
from ..client import connect
from ..model.errors import UsageError
from .common import EXIT_FAILURE, EXIT_OK, _emit


def _cmd_export(args: argparse.Namespace) -> int:
    from ..tools.analysis.exporting import check_target, export_parquet

    check_target(args.parquet)  # before the database is touched
    client = connect(args.database_url, namespace=args.namespace)
    try:
        written = export_parquet(
            client, args.parquet, since=args.since, all_namespaces=args.all_namespaces
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
    from ..tools.replay_check import replay_check

    app = commands.load_app(args.module)
    if not app.workflows:
        raise UsageError(f"replay-check: {args.module} defines no workflow")
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
