"""Run results as HTML (for notebooks now, dashboards later): tables of runs, a run's
facts, a history, and the small pieces they are made of. Every value is escaped here."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from ...client import RunInfo
from ..results import RunHistory
from .format import fmt_clock, fmt_duration, fmt_time
from .history import summarize
from .runs import run_status

_STATUS_COLOURS = {
    "COMPLETED": "#1a7f37",
    "RUNNING": "#0969da",
    "FAILED": "#cf222e",
    "TIMED_OUT": "#cf222e",
    "TERMINATED": "#9a6700",
    "CANCELLED": "#9a6700",
    "CONTINUED_AS_NEW": "#8250df",
}

_TABLE = (
    '<table class="harvest-table" style="border-collapse:collapse;font-size:90%">'
)
_CELL = "padding:2px 8px;text-align:left;vertical-align:top;border-bottom:1px solid #ddd"


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def pre_block(text: str, title: str | None = None) -> str:
    head = f"<div><strong>{esc(title)}</strong></div>" if title else ""
    return (
        f'<div class="harvest-output">{head}'
        f'<pre style="margin:0;white-space:pre-wrap">{esc(text)}</pre></div>'
    )


def status_badge(status: str) -> str:
    colour = _STATUS_COLOURS.get(status.split(" ")[0], "#57606a")
    return f'<span style="color:{colour};font-weight:600">{esc(status)}</span>'


def html_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *,
               empty: str = "(none)") -> str:
    """Rows of already-escaped HTML cells."""
    if not rows:
        return f"<div><em>{esc(empty)}</em></div>"
    head = "".join(f'<th style="{_CELL}">{esc(h)}</th>' for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{c}</td>' for c in row) + "</tr>" for row in rows
    )
    return f"{_TABLE}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _mono(value: Any) -> str:
    return f"<code>{esc(value)}</code>"


def runs_html(runs: Sequence[RunInfo], *, hidden: int = 0, note: str | None = None) -> str:
    rows = [
        [
            _mono(r.run_id),
            esc("(= run id)" if r.workflow_id == r.run_id else r.workflow_id),
            esc(r.workflow_type),
            status_badge(run_status(r)),
            esc(fmt_time(r.created_at)),
            esc(_took(r)),
            esc(r.events),
        ]
        for r in runs
    ]
    out = html_table(
        ["RUN ID", "WORKFLOW ID", "TYPE", "STATUS", "STARTED", "TOOK", "EVENTS"], rows,
        empty="(no runs)",
    )
    return out + _footer(hidden, note)


def _took(info: RunInfo) -> str:
    if info.closed_at is None:
        return "running"
    return fmt_duration((info.closed_at - info.created_at).total_seconds())


def _footer(hidden: int, note: str | None) -> str:
    parts = []
    if hidden:
        parts.append(f"{hidden} more not shown (display_limit); the result's .data has all")
    if note:
        parts.append(note)
    return "".join(f"<div><em>{esc(p)}</em></div>" for p in parts)


def run_html(info: RunInfo, text: str) -> str:
    """``show``: a status line, then the CLI's text (it has every detail)."""
    head = (
        f"<div><strong>{esc(info.workflow_type)}</strong> {_mono(info.workflow_id)} "
        f"{status_badge(run_status(info))}</div>"
    )
    return f'<div class="harvest-output">{head}' + pre_block(text) + "</div>"


def history_html(history: RunHistory, *, hidden: int = 0, note: str | None = None) -> str:
    events = history.events
    origin = events[0].at if events else None
    rows = [
        [
            esc(e.seq),
            esc(fmt_clock(e.at)),
            esc("+" + fmt_duration((e.at - origin).total_seconds()) if origin else "-"),
            esc(e.event_type),
            esc(summarize(e.event_type, e.event.fields())),
        ]
        for e in events
    ]
    head = (
        f"<div><strong>{esc(history.workflow_type)}</strong> {_mono(history.workflow_id)} "
        f"(run {_mono(history.run_id)}) {status_badge(history.status)}</div>"
    )
    table = html_table(["SEQ", "TIME", "SINCE START", "TYPE", "DETAILS"], rows,
                       empty="(no events)")
    return f'<div class="harvest-output">{head}{table}{_footer(hidden, note)}</div>'
