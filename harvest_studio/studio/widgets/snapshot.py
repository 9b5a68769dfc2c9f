"""Static pictures of the explorer and the run card, for the ``text/html`` part of their
output: what a saved notebook shows where no kernel (and no widget state) is — GitHub,
nbviewer, ``jupyter nbconvert --to html``. Plain HTML and inline SVG, no script; every
piece of user text is escaped. Pure functions (no anywidget import)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from ...tools.profile import seconds_text

ROW = 18
LABEL_W = 190
WIDTH = 900  # px of the timeline, labels included
MAX_LANES = 40

# the explorer's palette (static/explorer.css), inlined: a saved notebook has no stylesheet
COLOURS = {
    "scheduled": "#d0d7de", "backoff": "#f6e0a8", "attempt": "#54aeff", "ok": "#4ac26b",
    "failed": "#ff8182", "timeout": "#d4a72c", "timer": "#a475f9", "cancelled": "#afb8c1",
    "child": "#54aeff", "decision": "#57606a", "start": "#0969da", "close": "#1f2328",
    "signal": "#bf8700", "cancel": "#cf222e", "update": "#8250df", "reset": "#e16f24",
    "wait": "#e8a33d", "band": "#9ecbff",
}
STATUS_COLOURS = {"RUNNING": "#0969da", "COMPLETED": "#1a7f37", "FAILED": "#cf222e",
                  "TIMED_OUT": "#cf222e", "CANCELLED": "#9a6700", "TERMINATED": "#9a6700",
                  "CONTINUED_AS_NEW": "#8250df"}
_FONT = "font-family:system-ui,sans-serif;font-size:12px"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def header_html(summary: Mapping[str, Any]) -> str:
    """The run's name, status, size, what it waits on, and its outcome."""
    status = str(summary.get("status") or "?")
    colour = STATUS_COLOURS.get(status, "#57606a")
    lines = [
        f"<strong>{_e(summary.get('workflow_type', '?'))}</strong> "
        f"<code>{_e(summary.get('workflow_id', ''))}</code> run "
        f"<code>{_e(str(summary.get('run_id', ''))[:8])}</code> "
        f"<span style='color:{colour};font-weight:600'>{_e(status)}</span> · "
        f"{_e(summary.get('events', 0))} events · "
        f"{_e(seconds_text(float(summary.get('duration') or 0.0)))}"
    ]
    if summary.get("blocked_reason"):
        lines.append(f"<span style='color:#9a6700'>blocked: {_e(summary['blocked_reason'])}"
                     "</span>")
    for wait in summary.get("waiting_on") or []:
        until = f", {wait.get('until_label')} at {wait['until']}" if wait.get("until") else ""
        lines.append(f"<span style='color:#9a6700'>{_e(str(wait.get('what')) + until)}</span>")
    if summary.get("last_error"):
        colour = "#9a6700" if status == "RUNNING" else "#cf222e"
        lines.append(f"<span style='color:{colour}'>error: {_e(summary['last_error'])}</span>")
    elif summary.get("retried_errors"):
        lines.append(f"<span style='color:#57606a'>{_e(summary['retried_errors'])} failed "
                     "attempt(s) retried</span>")
    if status == "COMPLETED" and summary.get("result") is not None:
        lines.append(f"result: <code>{_e(_short(summary['result']))}</code>")
    return "".join(f"<div>{line}</div>" for line in lines)


def card_html(summary: Mapping[str, Any]) -> str:
    """The run card as static HTML."""
    return (f"<div class='hs-snapshot' style='{_FONT};border:1px solid #d0d7de;"
            f"border-radius:6px;padding:6px 10px;max-width:640px'>{header_html(summary)}</div>")


def explorer_html(summary: Mapping[str, Any], lanes: Sequence[Mapping[str, Any]]) -> str:
    """The explorer's header and timeline as static HTML with an inline SVG."""
    return (f"<div class='hs-snapshot' style='{_FONT}'>{header_html(summary)}"
            f"{timeline_svg(lanes, float(summary.get('duration') or 0.0))}"
            "<div style='color:#57606a'>a picture saved with the notebook; run the cell "
            "for the live explorer</div></div>")


def timeline_svg(lanes: Sequence[Mapping[str, Any]], duration: float) -> str:
    """The lanes as an SVG: bars where things ran, points where events happened; at most
    ``MAX_LANES`` lanes (the rest counted)."""
    shown = list(lanes[:MAX_LANES])
    end = max([duration, 0.001] + [float(it[1] or it[0]) for lane in shown
                                   for it in lane["items"]])
    span = WIDTH - LABEL_W - 10

    def x(t: float) -> float:
        return round(LABEL_W + t / end * span, 1)

    parts = []
    for i, lane in enumerate(shown):
        y = i * ROW
        if i % 2:
            parts.append(f"<rect x='0' y='{y}' width='{WIDTH}' height='{ROW}' "
                         "fill='rgba(128,128,128,0.06)'/>")
        parts.append(f"<text x='4' y='{y + ROW - 5}' fill='currentColor'>"
                     f"{_e(str(lane['label'])[:30])}</text>")
        for a, b, kind, label, _s0, _s1 in lane["items"]:
            colour = COLOURS.get(kind, "#8c959f")
            tip = f"<title>{_e(label)}</title>"
            if b is not None and b == a:
                parts.append(f"<circle class='hs-snap-bar' cx='{x(a)}' cy='{y + ROW / 2}' r='4'"
                             f" fill='{colour}'>{tip}</circle>")
            else:
                stop = duration if b is None else b
                parts.append(f"<rect class='hs-snap-bar' x='{x(a)}' y='{y + 3}' "
                             f"width='{max(x(stop) - x(a), 2)}' height='{ROW - 6}' rx='2' "
                             f"fill='{colour}'>{tip}</rect>")
    more = len(lanes) - len(shown)
    height = len(shown) * ROW + (ROW if more else 0)
    if more:
        parts.append(f"<text x='4' y='{height - 5}' fill='#57606a'>… and {more} more lanes"
                     "</text>")
    axis = (f"<text x='{LABEL_W}' y='{height + 12}' fill='#57606a'>0</text>"
            f"<text x='{WIDTH - 10}' y='{height + 12}' text-anchor='end' fill='#57606a'>"
            f"{_e(seconds_text(end))}</text>")
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{height + 16}' "
            f"style='font-size:11px;display:block'>{''.join(parts)}{axis}</svg>")


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"
