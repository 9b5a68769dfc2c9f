"""``%harvest audit``: the audit trail from the notebook."""

from __future__ import annotations

import argparse

from ... import commands
from ...commands import render
from ..display import HarvestOutput
from .context import MagicsContext


def do_audit(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    listing: commands.AuditList = magics.run(
        lambda c: commands.audit_list(
            c, run=args.run, target=args.target, actor=args.actor, action=args.action,
            since=args.since, before=args.before, limit=args.limit,
            all_namespaces=args.all_namespaces,
        )
    )
    return HarvestOutput(listing, render.render_audit(listing), title="%harvest audit")
