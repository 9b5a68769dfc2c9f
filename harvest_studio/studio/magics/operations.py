"""``%harvest audit``, ``%harvest workers`` and ``%harvest dlq``: the audit trail, the worker
registry and dead letters from the notebook."""

from __future__ import annotations

import argparse
from typing import Any

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


def do_dlq(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    action = args.action or "group"
    if action == "show":
        detail: commands.DlqDetail = magics.run(lambda c: commands.dlq_show(c, args.id))
        return HarvestOutput(detail, render.render_dlq_detail(detail))
    where = commands.DlqFilter(args.fingerprint, args.kind, args.workflow_type,
                               args.type_name, args.since) if hasattr(args, "kind") \
        else commands.DlqFilter()
    if action == "list":
        listing: commands.DlqList = magics.run(
            lambda c: commands.dlq_list(c, where, limit=args.limit))
        return HarvestOutput(listing, render.render_dlq_list(listing))
    if action == "group":
        groups: commands.DlqGroups = magics.run(lambda c: commands.dlq_group(c, where))
        text, html = render.render_dlq_groups(groups), render.dlq_groups_html(groups)

        def triage() -> Any:
            from ..widgets.triage import triage

            return triage(magics.client, groups, html=html, text=text)

        return HarvestOutput(groups, text, html, title="%harvest dlq", widget=triage)
    if action == "replay":
        done: commands.DlqAction = magics.run(lambda c: commands.dlq_replay(
            c, args.ids, where, everything=args.all, note=args.text, dry_run=args.dry_run))
    else:
        done = magics.run(lambda c: commands.dlq_discard(
            c, args.ids, where, everything=args.all, reason=args.text, dry_run=args.dry_run))
    return HarvestOutput(done, render.render_dlq_action(done))
