"""``%harvest audit`` and ``%harvest workers``: the audit trail and the worker registry
from the notebook."""

from __future__ import annotations

import argparse

from ... import commands
from ...commands import render
from ...model.errors import UsageError
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


def do_workers(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    if args.action == "drain":
        if not args.worker_id:
            raise UsageError("workers drain needs a worker id (see %harvest workers)")
        done: commands.WorkerDrained = magics.run(
            lambda c: commands.worker_drain(c, args.worker_id))
        return HarvestOutput(done, render.render_worker_drained(done))
    listing: commands.WorkerList = magics.run(
        lambda c: commands.workers_list(c, include_gone=args.all))
    return HarvestOutput(listing, render.render_workers(listing), title="%harvest workers")
