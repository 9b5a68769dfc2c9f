"""Renderings of the audit trail, API tokens and workers."""

from __future__ import annotations

from collections.abc import Sequence

from ...client import PurgeReport
from ..hooks import DeliveryLog, HookAdded, HookList
from ..operations import (
    AuditList,
    TokenCreated,
    TokenList,
    TokenRevoked,
    WorkerDrained,
    WorkerList,
)
from .format import fmt_duration, fmt_time, key_values, table


def render_audit(listing: AuditList) -> str:
    rows = [
        (
            r.seq, fmt_time(r.at), r.actor, r.front_end, r.action,
            r.target or "-", r.outcome if r.detail is None else f"{r.outcome}: {r.detail}",
        )
        for r in listing.records
    ]
    text = table(
        ("SEQ", "AT", "ACTOR", "VIA", "ACTION", "TARGET", "OUTCOME"), rows,
        empty="(no audit rows)",
    )
    if listing.next_before is not None:
        text += f"\n(older rows: --before {listing.next_before})"
    return text


def render_token_created(made: TokenCreated) -> str:
    t = made.token
    where = f" in namespace {t.namespace}" if t.namespace else ""
    return (
        f"{made.secret}\n"
        f"token {t.name!r} ({t.token_id}), scope {t.scope}{where}. This is the only time the"
        " secret is shown: keep it now."
    )


def render_tokens(listing: TokenList) -> str:
    rows = [
        (
            t.token_id, t.name, t.scope, t.namespace or "(all)", t.created_by,
            fmt_time(t.created_at), fmt_time(t.last_used_at),
            "revoked" if t.revoked_at is not None else "live",
        )
        for t in listing.tokens
    ]
    return table(
        ("ID", "NAME", "SCOPE", "NAMESPACE", "BY", "CREATED", "LAST USED", "STATE"), rows,
        empty="(no tokens)",
    )


def render_token_revoked(done: TokenRevoked) -> str:
    t = done.token
    return key_values([("revoked", f"{t.name} ({t.token_id})"), ("scope", t.scope)])


def render_workers(listing: WorkerList) -> str:
    rows = [
        (
            w.worker_id, w.state, w.hostname, w.pid, ",".join(w.queues),
            f"{w.running_tasks}/{w.slots if w.slots is not None else '-'}",
            w.version or "-", fmt_time(w.started_at), fmt_time(w.heartbeat_at),
        )
        for w in listing.workers
    ]
    return table(
        ("WORKER", "STATE", "HOST", "PID", "QUEUES", "TASKS", "VERSION", "STARTED", "HEARTBEAT"),
        rows, empty="(no live workers; --all shows gone ones)",
    )


def render_worker_drained(done: WorkerDrained) -> str:
    w = done.worker
    if w.state == "gone":
        return f"worker {w.worker_id} is already gone"
    since = fmt_duration(max(0.0, (w.heartbeat_at - w.started_at).total_seconds()))
    return (f"worker {w.worker_id} is draining: it claims nothing more, finishes its "
            f"{w.running_tasks} running task(s) or hands them back, and exits (up {since})")


def render_purge(report: PurgeReport, files: Sequence[str] = ()) -> str:
    where = "every namespace" if report.namespace is None else f"namespace {report.namespace}"
    when = ("their namespace's retention" if report.ended_before is None
            else f"ended before {fmt_time(report.ended_before)}")
    if report.dry_run:
        return f"would purge {report.runs} run(s) of {where} ({when}); nothing was deleted"
    text = f"purged {report.runs} run(s) of {where} ({when}) in {report.batches} batch(es)"
    if files:
        text += f"; archived {report.events} event(s) first to:\n" + "\n".join(
            f"  {f}" for f in files)
    return text


def render_hook_added(added: HookAdded) -> str:
    hook = added.made.webhook
    return (f"{added.made.secret}\nwebhook {hook.name!r} posts {', '.join(hook.events)} to "
            f"{hook.url}. Verify deliveries with this secret (X-Harvest-Signature); it is "
            "shown only this once.")


def render_hooks(listing: HookList) -> str:
    rows = [(h.name, h.url, ",".join(h.events), h.workflow_type or "(all)",
             "-" if h.sla_seconds is None else fmt_duration(h.sla_seconds), h.pending, h.failed)
            for h in listing.hooks]
    return table(("NAME", "URL", "EVENTS", "WORKFLOW", "SLA", "PENDING", "FAILED"), rows,
                 max_width=None, empty="(no webhooks)")


def render_deliveries(log: DeliveryLog) -> str:
    rows = [(d["id"], d["webhook"], d["event"], d["run_id"], d["state"], d["attempts"],
             d["last_status"] or "-", d["last_error"] or "-", fmt_time(d["created_at"]))
            for d in log.deliveries]
    return table(("ID", "WEBHOOK", "EVENT", "RUN", "STATE", "TRIES", "HTTP", "ERROR", "AT"),
                 rows, empty="(no deliveries)")
