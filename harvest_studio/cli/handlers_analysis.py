"""Handlers of the analysis bench's commands: ``harvest export`` (run histories out of
PostgreSQL as Parquet) and ``harvest lint`` (workflow code checked for determinism)."""

from __future__ import annotations

import argparse

from ..client import connect
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
