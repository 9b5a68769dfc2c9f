"""``%harvest`` subcommands that make new runs from old ones or follow their links:
reset, retry, rerun, children and chain."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from IPython.core.error import UsageError as IPythonUsageError

from ... import commands
from ...commands import render
from ..display import HarvestOutput
from .parser import one_line

if TYPE_CHECKING:
    from .core import HarvestMagics


def do_reset(magics: HarvestMagics, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    commands.check_reset(args.to_event, args.to, args.reapply_signals)
    report: commands.ResetReport = magics._run(
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
    magics._touched()
    return HarvestOutput(report, render.render_reset(report))


def do_retry(magics: HarvestMagics, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    report = magics._run(lambda c: commands.retry(c, args.ref, reason=args.reason))
    magics._touched()
    return HarvestOutput(report, render.render_reset(report))


def do_rerun(magics: HarvestMagics, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    started = magics._run(lambda c: commands.rerun(c, args.ref))
    magics._touched()
    return HarvestOutput(started, render.render_started(started))


def do_children(magics: HarvestMagics, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    tree = magics._run(lambda c: commands.children(c, args.ref))
    return HarvestOutput(tree, render.render_tree(tree))


def do_chain(magics: HarvestMagics, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    found = magics._run(lambda c: commands.chain(c, args.ref))
    return HarvestOutput(found, render.render_chain(found))
