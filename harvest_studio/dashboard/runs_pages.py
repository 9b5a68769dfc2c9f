"""The runs list (the filter language, live status, cursor pages) and a run's page (its
input and result, what it waits on, the explorer's timeline, its events, and actions
behind a confirmation)."""

from __future__ import annotations

import json
from typing import Any

import panel as pn

from .. import commands
from ..client import TERMINAL_STATUSES
from ..commands.render import fmt_duration, fmt_time, render_action
from ..model.errors import HarvestError
from ..studio.widgets.lanes import compute_lanes, run_summary
from ..studio.widgets.snapshot import header_html, timeline_svg
from .identity import current_viewer
from .layout import Confirmed, badge, esc, message_pane, page, table

REFRESH_MS = 2000


def runs_page() -> pn.Column:
    viewer = current_viewer()
    assert viewer is not None  # the middleware let only a live token through
    query = pn.widgets.TextInput(name="Filter", placeholder="status = 'FAILED' AND type = 'etl'",
                                 width=420, css_classes=["hs-filter"])
    listing = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["hs-runs"])
    more = pn.widgets.Button(name="Next page", visible=False)
    state: dict[str, Any] = {"cursor": None, "shown": None}

    async def load(cursor: str | None = None) -> None:
        try:
            found = await viewer.read(commands.list_runs, query=query.value or None,
                                      limit=50, page_token=cursor)
        except HarvestError as exc:
            listing.object = f"<div style='color:#cf222e'>{esc(exc.code)}: {esc(exc)}</div>"
            return
        state["shown"], state["cursor"] = cursor, found.next_page_token
        more.visible = found.next_page_token is not None
        rows = []
        for info in found.runs:
            took = ("running" if info.closed_at is None
                    else fmt_duration((info.closed_at - info.created_at).total_seconds()))
            link = f"/ui/run?ref={esc(info.run_id)}&namespace={esc(viewer.namespace)}"
            rows.append([f"<a class='hs-run-link' href='{link}'>{esc(info.workflow_id)}</a>",
                         esc(info.workflow_type), badge(info.status),
                         esc(fmt_time(info.created_at)), esc(took), esc(info.events)])
        listing.object = table(["WORKFLOW ID", "TYPE", "STATUS", "STARTED", "TOOK", "EVENTS"],
                               rows, empty="(no runs match)")

    async def refresh() -> None:  # live status: the page shown now, again
        await load(state["shown"])

    async def filtered(_: Any) -> None:
        await load()

    async def next_page(_: Any) -> None:
        await load(state["cursor"])

    query.param.watch(filtered, "value")
    more.on_click(next_page)
    pn.state.onload(load)
    pn.state.add_periodic_callback(refresh, period=REFRESH_MS)  # type: ignore[arg-type]
    return page(viewer, "Runs", query, listing, more)


def run_page() -> pn.Column:
    viewer = current_viewer()
    assert viewer is not None
    ref = (pn.state.location.query_params.get("ref") if pn.state.location else None) or ""
    header = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["hs-run-header"])
    timeline = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["hs-timeline"])
    details = pn.pane.HTML("", sizing_mode="stretch_width")
    events = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["hs-events"])
    state: dict[str, Any] = {"ended": False}

    async def load() -> None:
        if state["ended"]:
            return
        try:
            client = await viewer.client()
            info = await client.describe(ref)
            history = await client.history(info.run_id)
        except HarvestError as exc:
            header.object = f"<div style='color:#cf222e'>{esc(exc.code)}: {esc(exc)}</div>"
            state["ended"] = True
            return
        summary = run_summary(info, history)
        lanes = compute_lanes(history, info.pending, info.waiting)
        header.object = (f"{header_html(summary)}<div style='color:#57606a'>run id "
                         f"<code>{esc(info.run_id)}</code></div>")
        timeline.object = timeline_svg(lanes, float(summary.get("duration") or 0.0))
        details.object = table(["INPUT", "RESULT", "ERROR"], [[
            f"<code>{esc(json.dumps(info.input, default=str))[:2000]}</code>",
            f"<code>{esc(json.dumps(info.result, default=str))[:2000]}</code>",
            esc(None if info.error is None else f"{info.error.get('type')}: "
                                                 f"{info.error.get('message')}")]])
        events.object = table(["SEQ", "AT", "EVENT"], [
            [esc(e.seq), esc(fmt_time(e.at, ms=True)), esc(e.event_type)]
            for e in history[-200:]])
        state["ended"] = info.status in TERMINAL_STATUSES

    def action(verb: str, command: Any) -> Confirmed:
        async def act(reason: str) -> str:
            done = await viewer.change(command, ref, reason or None)
            state["ended"] = False
            await load()
            return render_action(done)
        return Confirmed(viewer, verb, act, message=said)

    said = message_pane()
    actions = [action(v, c) for v, c in (("Cancel", commands.cancel),
                                         ("Terminate", commands.terminate),
                                         ("Pause", commands.pause), ("Resume", commands.resume))]
    pn.state.onload(load)
    pn.state.add_periodic_callback(load, period=REFRESH_MS)  # type: ignore[arg-type]
    return page(viewer, "Run", header, pn.Row(*(a.view for a in actions)), said, timeline,
                details, pn.pane.Markdown("### Events (the last 200)"), events)
