"""``%harvest load`` and ``%%harvest sql`` (run histories in DuckDB, queried from cells: the
kernel keeps one loaded database, a second load adds only what is new) and ``%harvest
lint`` (the notebook's workflows, or files and modules, checked for determinism)."""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError as IPythonUsageError

from ..display import HarvestOutput
from .context import MagicsContext


def do_load(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    from ...tools.analysis import HistoryDB

    db: HistoryDB | None = magics.history_db
    if db is None:
        db = HistoryDB(magics.client, file=args.file)
        magics.history_db = db
    elif args.file and (db.file is None or str(db.file) != args.file):
        raise IPythonUsageError(
            "usage_error: load: --file goes with the kernel's first load (this kernel's "
            f"histories are in {db.file or 'memory'})"
        )
    report = db.load(
        since=args.since, namespace=args.namespace, all_namespaces=args.all_namespaces
    )
    return HarvestOutput(report, str(report), title="%harvest load")


def do_sql(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> Any:
    query = body if body is not None else " ".join(args.query)
    if not query.strip():
        raise IPythonUsageError("usage_error: sql: give a query (on the line or as the cell)")
    db = magics.history_db
    if db is None:
        raise IPythonUsageError("usage_error: sql: nothing loaded yet: run %harvest load first")
    result = db.sql(query, magics.user_ns)
    if args.output:
        if not args.output.isidentifier():
            raise IPythonUsageError(f"usage_error: sql: -o {args.output}: not a variable name")
        magics.user_ns[args.output] = result.df()
    return result


def do_lint(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    from ...tools.lint import lint_cells, lint_paths

    if args.history:
        if args.targets:
            raise IPythonUsageError("usage_error: lint: --history reads the loaded runs, not files")
        if magics.history_db is None:
            raise IPythonUsageError(
                "usage_error: lint: --history needs loaded runs: run %harvest load first"
            )
        report = magics.history_db.lint()
    elif args.targets:
        report = lint_paths(args.targets)
    else:
        cells = magics.user_ns.get("_ih") or []
        report = lint_cells([c for c in cells if isinstance(c, str)], magics.user_ns)
    return HarvestOutput(report, str(report), title="%harvest lint")


def do_profile(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> Any:
    from ...tools.profile import aprofile_run

    if args.workflow_type:
        if args.ref or args.interactive:
            raise IPythonUsageError("usage_error: profile: --type profiles many runs; give "
                                    "either REF or --type")
        if magics.history_db is None:
            raise IPythonUsageError(
                "usage_error: profile: --type reads the loaded runs: run %harvest load first")
        return magics.history_db.profile(args.workflow_type, limit=args.limit)
    if not args.ref:
        raise IPythonUsageError("usage_error: profile: give a run (REF) or --type TYPE")
    if args.limit is not None:
        raise IPythonUsageError("usage_error: profile: --limit goes with --type")
    prof = magics.run(lambda c: aprofile_run(c, args.ref))
    return prof.gantt() if args.interactive else prof
