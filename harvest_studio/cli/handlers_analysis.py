"""Handlers of ``harvest export``: run histories out of PostgreSQL for analysis
elsewhere (the analysis bench's tables as Parquet)."""

from __future__ import annotations

import argparse

from ..client import connect
from .common import EXIT_OK, _emit


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
