"""Renderings of runs: ``list``, ``show``, ``children`` and ``chain``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ...client import RunInfo, RunPage
from ..results import RunChain, RunTree
from .format import (
    _attributes,
    _error_line,
    _parse_iso,
    compact,
    fmt_duration,
    fmt_time,
    key_values,
    table,
)
from .pending import wait_line, waits


def run_status(info: RunInfo) -> str:
    """Status as shown to people: a running run's conditions follow in parentheses, e.g.
    ``RUNNING (BLOCKED)``, ``RUNNING (PAUSED)``, ``RUNNING (PAUSED, CANCEL REQUESTED)``."""
    if info.status != "RUNNING":
        return info.status
    marks = [
        label
        for label, on in (
            ("BLOCKED", info.is_blocked),
            ("PAUSED", info.paused),
            ("CANCEL REQUESTED", info.cancel_requested),
        )
        if on
    ]
    return f"{info.status} ({', '.join(marks)})" if marks else info.status


def _run_duration(info: RunInfo) -> float | None:
    if info.closed_at is None:
        return None
    return (info.closed_at - info.created_at).total_seconds()


def render_runs(page: RunPage | Sequence[RunInfo]) -> str:
    """The ``harvest list`` table, with a hint for the next page."""
    runs = page.runs if isinstance(page, RunPage) else list(page)
    rows = [
        (
            r.run_id,
            "(= run id)" if r.workflow_id == r.run_id else r.workflow_id,
            r.workflow_type,
            run_status(r),
            r.created_at,
            fmt_duration(_run_duration(r)) if r.closed_at else "running",
            r.events,
        )
        for r in runs
    ]
    out = table(
        ["RUN ID", "WORKFLOW ID", "TYPE", "STATUS", "STARTED", "TOOK", "EVENTS"],
        rows,
        max_width=[None, 40, 30, None, None, None, None],
        empty="(no runs)",
    )
    token = page.next_page_token if isinstance(page, RunPage) else None
    if token:
        out += f"\n\nmore runs: add --page-token '{token}'"
    return out


def _blocked_lines(blocked: Mapping[str, Any]) -> list[tuple[str, Any]]:
    kind = str(blocked.get("kind", "blocked"))
    pairs: list[tuple[str, Any]] = [("Blocked", f"{kind}: {blocked.get('message', '')}")]
    if kind == "non_determinism":
        pairs += [
            ("  at event", blocked.get("seq")),
            ("  expected", compact(blocked.get("expected"), 200)),
            ("  actual", compact(blocked.get("actual"), 200)),
        ]
        if blocked.get("worker_id"):
            pairs.append(("  seen by", blocked["worker_id"]))
        pairs.append(
            ("", "the run resumes by itself once compatible code is running again")
        )
    elif kind == "code_error":
        error = blocked.get("error") or {}
        trace = [line.strip() for line in str(error.get("traceback", "")).splitlines()]
        frames = [i for i, line in enumerate(trace) if line.startswith("File ")]
        pairs += [("  at event", blocked.get("seq"))]
        if frames:  # the innermost frame and its line of code
            where = frames[-1]
            code = trace[where + 1] if where + 1 < len(trace) - 1 else ""
            pairs.append(("  raised at", f"{trace[where]}: {code}" if code else trace[where]))
        if blocked.get("worker_id"):
            pairs.append(("  seen by", blocked["worker_id"]))
        pairs.append(("", "the run goes on by itself once fixed code is running"))
    else:
        skip = {"kind", "message"}
        pairs += [(f"  {k}", compact(v, 200)) for k, v in blocked.items() if k not in skip]
    return pairs


def _pending_row(p: Mapping[str, Any]) -> tuple[Any, ...]:
    if p.get("kind") == "timer":
        fires = _parse_iso(p.get("fires_at"))
        return ("timer", f"event {p.get('seq')}", "WAITING", None,
                f"fires {fmt_time(fires, ms=True)}", "-")
    if p.get("kind") == "signal":
        received = _parse_iso(p.get("visible_at"))
        return ("signal", str(p.get("type_name")), "INBOX", None,
                f"received {fmt_time(received, ms=True)}, not yet handled", "-")
    state = p.get("state")
    if p.get("kind") == "activity":
        what = f"{p.get('type_name')} (event {p.get('activity_seq')})"
        attempt = p.get("retry_attempt")
    else:
        what = f"{p.get('type_name')} (workflow task)"
        attempt = None
    visible = _parse_iso(p.get("visible_at"))
    if state == "RUNNING":
        detail = f"on {p.get('worker_id')}"
    elif visible is not None and visible > datetime.now(visible.tzinfo):
        label = "next attempt" if p.get("last_error") else "waits until"
        detail = f"{label} {fmt_time(visible, ms=True)}"
    else:
        detail = "queued"
    if p.get("crash_strikes"):
        detail += f"; crashed {p['crash_strikes']}x"
    return (p.get("kind"), what, state, attempt, detail, _error_line(p.get("last_error")))


def _traceback_tail(error: Mapping[str, Any], frames: int = 2) -> str | None:
    """The last ``frames`` frames of a stored traceback (location and source line)."""
    tb = error.get("traceback")
    if not isinstance(tb, str) or not tb.strip():
        return None
    kept: list[list[str]] = []
    for line in tb.rstrip().splitlines():
        stripped = line.strip()
        if line.startswith("  File "):
            kept.append([stripped])
        elif kept and line.startswith("    ") and stripped.strip("^~ "):
            kept[-1].append("  " + stripped)
    if not kept:
        return None
    return "\n".join(text for frame in kept[-frames:] for text in frame)


def waiting_for_worker(queues: Sequence[str], how: str = "harvest worker your.module") -> str:
    """Why a run makes no progress when no live worker serves the queues of its tasks, and
    ``how`` to start one."""
    names = ", ".join(repr(q) for q in queues)
    noun = "queue" if len(queues) == 1 else "queues"
    return f"no worker serves {noun} {names}; the run goes on when one starts (`{how}`)"


def render_run(info: RunInfo) -> str:
    """The ``harvest show`` view: facts, then blocked reason, error and pending work."""
    pairs: list[tuple[str, Any]] = [
        ("Run", info.run_id),
        ("Workflow id", info.workflow_id),
        ("Type", info.workflow_type),
        ("Namespace", info.namespace),
        ("Queue", info.queue),
        ("Status", run_status(info)),
        ("Started", fmt_time(info.created_at, ms=True)),
    ]
    if info.status == "RUNNING" and info.paused:
        pairs.append(
            ("Paused", f"yes: no workflow code runs until `harvest resume {info.run_id}`")
        )
    if info.status == "RUNNING" and info.held:
        pairs.append(("Waiting", "for a slot: a workflow limit (max_workflows) of its type or "
                                 "queue is full; it starts when an admitted run ends"))
    if info.status == "RUNNING" and info.unserved_queues:
        pairs.append(("Waiting", waiting_for_worker(info.unserved_queues)))
    if info.status == "RUNNING":
        now = datetime.now(info.created_at.tzinfo)
        for wait in waits(info):
            if wait["kind"] in ("signal", "condition"):  # tasks, timers: Pending
                pairs.append(("Waiting", wait_line(wait, now)))
    if info.status == "RUNNING" and info.cancel_requested:
        pairs.append(
            ("Cancel", "requested: the code sees CancelledError when it next runs, "
                       "then the run ends CANCELLED")
        )
    if info.closed_at is not None:
        took = fmt_duration(_run_duration(info))
        pairs.append(("Closed", f"{fmt_time(info.closed_at, ms=True)} (took {took})"))
    pairs += _lineage_lines(info)
    pairs += [
        ("Events", info.events),
        ("Fingerprint", info.fingerprint or "-"),
        ("Input", compact(info.input, 200)),
    ]
    if info.search_attributes:
        ordered = dict(sorted(info.search_attributes.items()))
        pairs.append(("Search attrs", _attributes(ordered, 400)))
    if info.memo is not None:
        pairs.append(("Memo", compact(info.memo, 400)))
    if info.status == "COMPLETED":
        pairs.append(("Result", compact(info.result, 400)))
    if info.status == "CONTINUED_AS_NEW":
        nxt = info.result.get("continued_as") if isinstance(info.result, dict) else None
        pairs.append(("Continued as", f"run {nxt}" if nxt else "-"))
    if info.error:
        pairs.append(("Error", _error_line(info.error)))
        tail = _traceback_tail(info.error)
        if tail:
            pairs.append(("Raised at", tail))
    if info.blocked:
        pairs += _blocked_lines(info.blocked)
    out = key_values(pairs)
    if info.pending:
        rows = [_pending_row(p) for p in info.pending]
        out += "\n\nPending:\n" + table(
            ["KIND", "WHAT", "STATE", "ATTEMPT", "DETAIL", "LAST ERROR"], rows, indent="  "
        )
    return out


def _lineage_lines(info: RunInfo) -> list[tuple[str, Any]]:
    """Where a run came from: its parent, the run it continued, the run it was reset from."""
    pairs: list[tuple[str, Any]] = []
    if info.parent_run_id:
        policy = info.parent_close_policy or "-"
        pairs.append(("Parent", f"run {info.parent_run_id} (on parent close: {policy})"))
    if info.continued_from:
        pairs.append(("Continued from", f"run {info.continued_from}"))
    if info.reset_from:
        pairs.append(("Reset from", f"run {info.reset_from}"))
    return pairs


# ---------------------------------------------------------------------------------------
# trees and chains
# ---------------------------------------------------------------------------------------
def render_tree(tree: RunTree) -> str:
    """``harvest children``: the run, then each child under its parent, indented."""
    rows = [
        (
            "  " * depth + r.run_id,
            "(= run id)" if r.workflow_id == r.run_id else r.workflow_id,
            r.workflow_type,
            run_status(r),
            r.parent_close_policy if depth else "-",
            r.created_at,
        )
        for r, depth in zip(tree.runs, tree.depths, strict=True)
    ]
    out = table(
        ["RUN ID", "WORKFLOW ID", "TYPE", "STATUS", "ON PARENT CLOSE", "STARTED"],
        rows,
        max_width=[None, 40, 30, None, None, None],
    )
    kids = len(tree.runs) - 1
    if kids == 0:
        out += "\n\n(no child runs)"
    else:
        out += f"\n\n{kids} descendant run(s)"
    return out


def render_chain(chain: RunChain) -> str:
    """``harvest chain``: every run of a continue-as-new chain, oldest first."""
    rows = [
        (
            ("* " if r.run_id == chain.ref_run_id else "  ") + r.run_id,
            run_status(r),
            compact(r.input, 40),
            r.created_at,
            fmt_duration(_run_duration(r)) if r.closed_at else "running",
            r.events,
        )
        for r in chain.runs
    ]
    out = f"workflow id {chain.workflow_id}: {len(chain.runs)} run(s), oldest first\n"
    out += table(["  RUN ID", "STATUS", "INPUT", "STARTED", "TOOK", "EVENTS"], rows,
                 max_width=[None, None, 40, None, None, None])
    last = chain.last
    if last.status == "COMPLETED":
        out += f"\n\nresult of the chain: {compact(last.result, 200)}"
    elif last.status != "RUNNING":
        out += f"\n\nthe chain ended {last.status}: {_error_line(last.error)}"
    return out
