"""Renderings of flow control: the queues with what they hold, the limits in force, and
what ``pause`` / ``resume`` / ``limit`` did, as text (and the two tables as HTML)."""

from __future__ import annotations

from ...client import FlowLimit
from ..results import FlowAction, LimitList, QueueList
from .format import fmt_duration, table
from .html import esc, html_table


def _num(value: float) -> str:
    return f"{value:g}"


def _has_limits(limit: FlowLimit | None) -> bool:
    return limit is not None and (
        limit.rate is not None or limit.burst is not None or limit.max_concurrent is not None
        or limit.max_workflows is not None
    )


def describe_limits(limit: FlowLimit | None, *, brackets: bool = False) -> str:
    """``5/s burst 10, max 4 running`` (``brackets``: ``5/s (burst 10)``); ``-`` for none.
    Whether it is paused is not part of it."""
    if limit is None:
        return "-"
    parts = []
    if limit.rate is not None:
        rate = f"{_num(limit.rate)}/s"
        if limit.burst is not None:
            rate += f" (burst {_num(limit.burst)})" if brackets else f" burst {_num(limit.burst)}"
        parts.append(rate)
    elif limit.burst is not None:
        parts.append(f"burst {_num(limit.burst)}")
    if limit.max_concurrent is not None:
        parts.append(f"max {limit.max_concurrent} running")
    if limit.max_workflows is not None:
        parts.append(f"max {limit.max_workflows} workflows")
    return ", ".join(parts) or "-"


def _limits_cell(limit: FlowLimit | None) -> str:
    """The LIMITS column of ``queue list``: ``paused, 5/s burst 10, max 4 running``."""
    parts = ["paused"] if limit is not None and limit.paused else []
    if _has_limits(limit):
        parts.append(describe_limits(limit))
    return ", ".join(parts) or "-"


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else fmt_duration(max(seconds, 0.0))


def render_queues(listing: QueueList) -> str:
    rows = [
        (q.name, q.ready, q.delayed, q.running, _age(q.oldest_ready_seconds), q.workers,
         _limits_cell(q.limit))
        for q in listing.queues
    ]
    return table(
        ["QUEUE", "READY", "DELAYED", "RUNNING", "OLDEST READY", "WORKERS", "LIMITS"],
        rows,
        empty="(no queues with tasks or limits)",
    )


def _tokens(limit: FlowLimit) -> float | None:
    # the bucket only means something under a rate
    if limit.rate is None or limit.tokens is None:
        return None
    return round(limit.tokens, 2)


def render_limits(listing: LimitList) -> str:
    rows = [
        (lim.scope, lim.name, lim.paused, lim.rate, lim.burst, _tokens(lim), lim.max_concurrent,
         lim.max_workflows)
        for lim in listing.limits
    ]
    return table(
        ["SCOPE", "NAME", "PAUSED", "RATE", "BURST", "TOKENS", "MAX RUNNING", "MAX WORKFLOWS"],
        rows,
        empty="(no limits)",
    )


def render_flow_action(action: FlowAction) -> str:
    """One line: ``paused queue emails``, ``limited activity charge_card: 5/s (burst 10)``,
    ``lifted all limits on queue emails``."""
    target = f"{action.scope} {action.name}"
    limit = action.limit
    still = " (still paused)" if limit is not None and limit.paused else ""
    if action.action == "limit":
        if not _has_limits(limit):
            return f"lifted all limits on {target}{still}"
        return f"limited {target}: {describe_limits(limit, brackets=True)}{still}"
    if action.action == "pause":
        return f"paused {target}"
    if action.action == "resume":
        if _has_limits(limit):
            return f"resumed {target} (still limited: {describe_limits(limit, brackets=True)})"
        return f"resumed {target}"
    return f"{action.action} {target}"


# ---------------------------------------------------------------------------------------
# HTML (the notebook)
# ---------------------------------------------------------------------------------------
def _paused_badge(paused: bool) -> str:
    return '<span style="color:#9a6700;font-weight:600">paused</span>' if paused else ""


def queues_html(listing: QueueList) -> str:
    rows = []
    for q in listing.queues:
        limits = describe_limits(q.limit) if _has_limits(q.limit) else ""
        badge = _paused_badge(q.limit is not None and q.limit.paused)
        cell = ", ".join(p for p in (badge, esc(limits)) if p) or "-"
        rows.append(
            [f"<code>{esc(q.name)}</code>", esc(q.ready), esc(q.delayed), esc(q.running),
             esc(_age(q.oldest_ready_seconds)), esc(q.workers), cell]
        )
    return html_table(
        ["QUEUE", "READY", "DELAYED", "RUNNING", "OLDEST READY", "WORKERS", "LIMITS"],
        rows,
        empty="(no queues with tasks or limits)",
    )


def limits_html(listing: LimitList) -> str:
    def cell(value: float | int | None) -> str:
        return "-" if value is None else esc(_num(value))

    rows = [
        [
            esc(lim.scope),
            f"<code>{esc(lim.name)}</code>",
            _paused_badge(lim.paused) or "no",
            cell(lim.rate),
            cell(lim.burst),
            cell(_tokens(lim)),
            cell(lim.max_concurrent),
            cell(lim.max_workflows),
        ]
        for lim in listing.limits
    ]
    return html_table(
        ["SCOPE", "NAME", "PAUSED", "RATE", "BURST", "TOKENS", "MAX RUNNING", "MAX WORKFLOWS"],
        rows,
        empty="(no limits)",
    )
