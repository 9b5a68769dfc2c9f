"""What ``%harvest`` commands return: a command result shown as text or as HTML.

:class:`HarvestOutput` carries the command layer's result in ``.data`` and displays itself
through IPython's ``_repr_mimebundle_``: ``text/plain`` is always the CLI's rendering (so
logs, terminals and papermill read the same text), ``text/html`` is for JupyterLab.
No IPython import here.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from ..client import RunInfo
from ..commands import RunHistory
from ..commands.render import (
    fmt_clock,
    fmt_duration,
    fmt_time,
    run_status,
    summarize,
    to_json,
)
from ..tools.replay import ReplayReport, describe_command

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


class HarvestOutput:
    """The result of a ``%harvest`` command.

    ``data`` is the command layer's result (a :class:`~harvest_studio.RunInfo`,
    ``StartedRun``, ``RunHistory``...); its public attributes can be read on this object
    too: ``run = %harvest start greet '"ada"'`` then ``run.run_id``.
    """

    def __init__(self, data: Any, text: str, html_text: str | None = None,
                 title: str | None = None) -> None:
        self.data = data
        self.text = text
        self.title = title
        self._html = html_text

    @property
    def html(self) -> str:
        if self._html is not None:
            return self._html
        return pre_block(self.text, self.title)

    def to_json(self) -> Any:
        """The result as plain JSON data (what ``harvest ... --json`` prints)."""
        return to_json(self.data)

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> dict[str, str]:
        return {"text/plain": self.text, "text/html": self.html}

    def __repr__(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or "data" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["data"], name)


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




def replay_html(report: ReplayReport) -> str:
    """HTML for ``%harvest replay``: the headline in colour, then the divergence and code."""
    colour = "#1a7f37" if report.ok else "#cf222e"
    head = (
        f"<div><strong>{esc(report.workflow_type)}</strong> <code>{esc(report.workflow_id)}"
        f"</code> (run <code>{esc(report.run_id)}</code>, {esc(report.status)}) on local "
        f'code: <span style="color:{colour};font-weight:600">{esc(report.headline())}</span>'
        "</div>"
    )
    rows: list[list[str]] = []
    if not report.ok:
        if report.seq is not None:
            rows += [
                ["Event", esc(report.seq)],
                ["Expected (history)", f"<code>{esc(describe_command(report.expected))}</code>"],
                ["Actual (local code)", f"<code>{esc(describe_command(report.actual))}</code>"],
            ]
        rows.append(["Message", esc(report.message or "")])
    rows += [[esc(k or ""), esc(v)] for k, v in report.code_lines()]
    if report.blocked:
        rows.append(["Blocked", esc(report.blocked_note())])
    table = html_table(["", ""], rows)
    return f'<div class="harvest-output">{head}{table}</div>'
