"""Renderings of dead letters: the list, one letter with its attempts, the groups by
fingerprint (also as HTML for the notebook), and what replay or discard did."""

from __future__ import annotations

from ..dead_letters import DlqAction, DlqDetail, DlqGroups, DlqList
from .format import fmt_time, key_values, shorten, table
from .html import esc, html_table


def _error_line(error: dict[str, object]) -> str:
    return f"{error.get('type', 'Error')}: {error.get('message', '')}"


def render_dlq_list(listing: DlqList) -> str:
    rows = [
        (d.id, d.kind, d.workflow_type, d.type_name, d.attempts, d.fingerprint.key,
         fmt_time(d.created_at), shorten(_error_line(d.error), 60))
        for d in listing.letters
    ]
    return table(
        ("ID", "KIND", "WORKFLOW", "FAILED IN", "ATTEMPTS", "FINGERPRINT", "AT", "ERROR"),
        rows, max_width=None, empty="(no open dead letters)",
    )


def render_dlq_detail(detail: DlqDetail) -> str:
    d = detail.letter
    pairs: list[tuple[str, object]] = [
        ("id", d.id), ("kind", d.kind), ("run", f"{d.run_id} ({d.workflow_id})"),
        ("workflow", d.workflow_type), ("failed in", f"{d.task_kind} {d.type_name}"),
        ("attempts", d.attempts), ("at", fmt_time(d.created_at)),
        ("fingerprint", f"{d.fingerprint.key}  {d.fingerprint.type}: "
                        f"{d.fingerprint.message}  @ {d.fingerprint.frame or '-'}"),
        ("error", _error_line(d.error)),
    ]
    if d.heartbeat_details is not None:
        pairs.append(("last heartbeat", d.heartbeat_details))
    if d.resolution is not None:
        pairs.append(("resolved", f"{d.resolution} by {d.resolved_by} at "
                                  f"{fmt_time(d.resolved_at)}: {d.resolution_note or '-'}"))
    if d.new_run_id is not None:
        pairs.append(("new run", d.new_run_id))
    text = key_values(pairs)
    if detail.attempts:
        text += "\n\n" + table(
            ("ATTEMPT", "AT", "ERROR"),
            [(a["attempt"], fmt_time(a["at"]), shorten(_error_line(a["error"] or {}), 80))
             for a in detail.attempts],
        )
    traceback = d.error.get("traceback")
    if isinstance(traceback, str) and traceback.strip():
        text += "\n\n" + traceback.rstrip()
    return text


def render_dlq_groups(groups: DlqGroups) -> str:
    rows = [
        (g.key, g.count, g.type, shorten(g.message, 50), g.frame or "-",
         ",".join(g.workflow_types), fmt_time(g.last), g.sample.id)
        for g in groups.groups
    ]
    return table(
        ("FINGERPRINT", "COUNT", "TYPE", "MESSAGE", "WHERE", "WORKFLOWS", "LAST", "SAMPLE"),
        rows, max_width=None, empty="(no open dead letters)",
    )


def dlq_groups_html(groups: DlqGroups) -> str:
    rows = [
        [f"<code>{esc(g.key)}</code>", esc(g.count), esc(g.type), esc(g.message),
         f"<code>{esc(g.frame or '-')}</code>", esc(", ".join(g.workflow_types)),
         esc(fmt_time(g.last)), f"<code>{esc(g.sample.id)}</code>"]
        for g in groups.groups
    ]
    return html_table(
        ["FINGERPRINT", "COUNT", "TYPE", "MESSAGE", "WHERE", "WORKFLOWS", "LAST", "SAMPLE"],
        rows, empty="(no open dead letters)",
    )


def render_dlq_action(action: DlqAction) -> str:
    if action.dry_run or action.outcome is None:
        return (f"would act on {len(action.selected)} dead letter(s): "
                + ", ".join(action.selected[:20]) + (" ..." if len(action.selected) > 20 else ""))
    out = action.outcome
    verb = "replayed" if out.action == "replay" else "discarded"
    lines = [f"{verb} {len(out.done)} dead letter(s)"]
    for letter, run in out.new_runs.items():
        lines.append(f"  {letter} -> new run {run}")
    if out.skipped:
        lines.append(f"skipped {len(out.skipped)} no longer open: {', '.join(out.skipped[:20])}")
    for letter, error in list(out.failed.items())[:20]:
        lines.append(f"could not {out.action} {letter}: {error}")
    return "\n".join(lines)
