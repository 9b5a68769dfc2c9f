"""``%harvest`` subcommands that make new runs from old ones or follow their links:
reset, retry, rerun, children and chain."""

from __future__ import annotations

import argparse

from IPython.core.error import UsageError as IPythonUsageError

from ... import commands
from ...commands import render
from ..display import HarvestOutput
from .context import MagicsContext
from .parser import one_line


def do_reset(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    commands.check_reset(args.to_event, args.to, args.reapply_signals)
    report: commands.ResetReport = magics.run(
        lambda c: commands.reset(
            c, args.ref, to_event=args.to_event, to=args.to,
            reapply_signals=args.reapply_signals, dry_run=args.dry_run, reason=args.reason,
        )
    )
    if not report.valid and not report.dry_run:
        near = ", ".join(
            f"{label} event {seq}"
            for label, seq in (("before:", report.nearest_valid_before),
                               ("after:", report.nearest_valid_after))
            if seq is not None
        ) or "none"
        raise IPythonUsageError(one_line(
            f"{commands.InvalidResetPointError.code}: event {report.boundary} of run "
            f"{report.run_id} is not a valid reset point ({report.reason}); nearest "
            f"valid points {near}; nothing was written"
        ))
    magics.touched()
    return HarvestOutput(report, render.render_reset(report))


def do_retry(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    report = magics.run(lambda c: commands.retry(c, args.ref, reason=args.reason))
    magics.touched()
    return HarvestOutput(report, render.render_reset(report))


def do_rerun(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    started = magics.run(lambda c: commands.rerun(c, args.ref))
    magics.touched()
    return HarvestOutput(started, render.render_started(started))


def do_children(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    tree = magics.run(lambda c: commands.children(c, args.ref))
    return HarvestOutput(tree, render.render_tree(tree))


def do_chain(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    found = magics.run(lambda c: commands.chain(c, args.ref))
    return HarvestOutput(found, render.render_chain(found))
