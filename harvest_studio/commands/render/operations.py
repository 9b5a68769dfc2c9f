"""Renderings of the audit trail and of API tokens."""

from __future__ import annotations

from ..operations import AuditList, TokenCreated, TokenList, TokenRevoked
from .format import fmt_time, key_values, table


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
