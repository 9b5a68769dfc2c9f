"""The operator's pages: workers and queues (drain), dead letters by fingerprint (replay or
discard a group), schedules (next fire times; pause, resume, trigger), DAGs (the graph of
each DAG's newest run) and the audit trail."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import panel as pn

from .. import commands
from ..commands.render import (
    dag_svg,
    fmt_duration,
    fmt_time,
    render_dlq_action,
    render_worker_drained,
)
from ..model.errors import HarvestError
from .identity import Viewer, current_viewer
from .layout import Confirmed, badge, esc, message_pane, page, table

REFRESH_MS = 3000


def _live(viewer: Viewer, draw: Callable[[], Awaitable[str]], css: str) -> pn.pane.HTML:
    """An HTML pane drawn now and every few seconds; an error is shown in it."""
    pane = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=[css])

    async def redraw() -> None:
        try:
            pane.object = await draw()
        except HarvestError as exc:
            pane.object = f"<div style='color:#cf222e'>{esc(exc.code)}: {esc(exc)}</div>"

    pn.state.onload(redraw)
    pn.state.add_periodic_callback(redraw, period=REFRESH_MS)  # type: ignore[arg-type]
    return pane


def _picker(label: str, css: str) -> pn.widgets.TextInput:
    return pn.widgets.TextInput(name=label, width=360, css_classes=[css])


def workers_page() -> pn.Column:
    viewer = current_viewer()
    assert viewer is not None

    async def workers() -> str:
        listing = await viewer.read(commands.workers_list, include_gone=True)
        return table(["WORKER", "STATE", "HOST", "PID", "QUEUES", "TASKS", "VERSION",
                      "HEARTBEAT"], [
            [f"<code>{esc(w.worker_id)}</code>", esc(w.state), esc(w.hostname), esc(w.pid),
             esc(",".join(w.queues)), esc(f"{w.running_tasks}/{w.slots or '-'}"),
             esc(w.version or "-"), esc(fmt_time(w.heartbeat_at))]
            for w in listing.workers], empty="(no workers)")

    async def queues() -> str:
        listing = await viewer.read(commands.queue_list)
        return table(["QUEUE", "READY", "DELAYED", "RUNNING", "OLDEST READY", "WORKERS",
                      "PAUSED"], [
            [esc(q.name), esc(q.ready), esc(q.delayed), esc(q.running),
             esc("-" if q.oldest_ready_seconds is None
                 else fmt_duration(max(q.oldest_ready_seconds, 0.0))),
             esc(q.workers), esc("yes" if q.limit is not None and q.limit.paused else "")]
            for q in listing.queues], empty="(no queues with tasks)")

    chosen = _picker("Worker id", "hs-worker-id")

    async def drain(reason: str) -> str:
        return render_worker_drained(await viewer.change(
            commands.worker_drain, (chosen.value or "").strip(), scope="admin"))

    said = message_pane()
    drainer = Confirmed(viewer, "Drain", drain, reason=False, scope="admin", message=said)
    return page(viewer, "Workers and queues", _live(viewer, workers, "hs-workers"),
                pn.Row(chosen, drainer.view), said, pn.pane.Markdown("### Queues"),
                _live(viewer, queues, "hs-queues"))


def dlq_page() -> pn.Column:
    viewer = current_viewer()
    assert viewer is not None

    async def groups() -> str:
        found = await viewer.read(commands.dlq_group)
        return table(["FINGERPRINT", "COUNT", "ERROR", "WHERE", "WORKFLOWS", "LAST", "SAMPLE"], [
            [f"<code>{esc(g.key)}</code>", esc(g.count), esc(f"{g.type}: {g.message}"),
             f"<code>{esc(g.frame or '-')}</code>", esc(", ".join(g.workflow_types)),
             esc(fmt_time(g.last)), f"<code>{esc(g.sample.id)}</code>"]
            for g in found.groups], empty="(no open dead letters)")

    chosen = _picker("Fingerprint", "hs-fingerprint")

    def bulk(verb: str) -> Confirmed:
        async def act(reason: str) -> str:
            where = commands.DlqFilter(fingerprint=(chosen.value or "").strip() or None)
            if verb == "Replay":
                done = await viewer.change(commands.dlq_replay, (), where, note=reason or None)
            else:
                done = await viewer.change(commands.dlq_discard, (), where, reason=reason)
            return render_dlq_action(done)
        return Confirmed(viewer, verb, act, message=said)

    said = message_pane()
    return page(viewer, "Dead letters", _live(viewer, groups, "hs-dlq"),
                pn.Row(chosen, bulk("Replay").view, bulk("Discard").view), said)


def schedules_page() -> pn.Column:
    viewer = current_viewer()
    assert viewer is not None

    async def listing() -> str:
        found = await viewer.read(commands.schedule_list)
        return table(["SCHEDULE", "WORKFLOW", "SPEC", "NEXT", "STATE", "LAST RUN"], [
            [esc(s.name), esc(s.workflow_type), esc(s.spec.describe()),
             esc(fmt_time(s.next_fire_at)),
             esc("paused" if s.paused else "active"), esc(s.last_run_id or "-")]
            for s in found.schedules], empty="(no schedules)")

    chosen = _picker("Schedule", "hs-schedule")

    async def decisions() -> str:
        name = (chosen.value or "").strip()
        if not name:
            return "<em>name a schedule above to see its decisions</em>"
        log = await viewer.read(commands.schedule_log, name, limit=50)
        return table(["AT", "DECISION", "SLOT", "RUN", "DETAIL"], [
            [esc(fmt_time(e.at)), esc(e.action), esc(fmt_time(e.slot)), esc(e.run_id or "-"),
             esc(e.detail or "")] for e in log.entries], empty="(no decisions yet)")

    def act_on(verb: str, command: Any) -> Confirmed:
        async def act(reason: str) -> str:
            name = (chosen.value or "").strip()
            args: tuple[Any, ...] = (name,) if verb == "Trigger" else (name, reason or None)
            await viewer.change(command, *args)
            return f"{verb.lower()} {name}: done"
        return Confirmed(viewer, verb, act, reason=verb != "Trigger", message=said)

    said = message_pane()
    actions = [act_on("Pause", commands.schedule_pause),
               act_on("Resume", commands.schedule_resume),
               act_on("Trigger", commands.schedule_trigger)]
    return page(viewer, "Schedules", _live(viewer, listing, "hs-schedules"),
                pn.Row(chosen, *(a.view for a in actions)), said,
                pn.pane.Markdown("### Decisions"), _live(viewer, decisions, "hs-decisions"))


def dags_page() -> pn.Column:
    viewer = current_viewer()
    assert viewer is not None

    async def graphs() -> str:
        found = await viewer.read(commands.dag_list)
        parts = []
        client = await viewer.client()
        for dag in found.dags:
            parts.append(f"<h3>{esc(dag.name)}</h3>")
            if dag.last_run_id is None:
                parts.append(dag_svg(dag.graph).svg + "<div><em>no run yet</em></div>")
                continue
            info = await client.dag_run(dag.last_run_id)
            parts.append(f"<div>newest run <code>{esc(info.run.run_id)}</code> "
                         f"{badge(info.run.status)}</div>"
                         f"{dag_svg(info.graph or dag.graph, info.nodes).svg}")
        return "".join(parts) or "<em>(no DAGs)</em>"

    return page(viewer, "DAGs", _live(viewer, graphs, "hs-dags"))


def audit_page() -> pn.Column:
    viewer = current_viewer()
    assert viewer is not None

    async def rows() -> str:
        listing = await viewer.read(commands.audit_list, limit=100)
        return table(["SEQ", "AT", "ACTOR", "VIA", "ACTION", "TARGET", "OUTCOME"], [
            [esc(r.seq), esc(fmt_time(r.at)), esc(r.actor), esc(r.front_end), esc(r.action),
             esc(r.target or "-"), esc(r.outcome)]
            for r in listing.records], empty="(no audit rows)")

    return page(viewer, "Audit trail", _live(viewer, rows, "hs-audit"))
