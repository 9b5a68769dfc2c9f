"""Renderings of what the other commands did: db status, started runs, run actions,
results, queries, updates, resets and namespaces."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..results import (
    DbStatus,
    NamespaceAction,
    NamespaceList,
    QueryAnswer,
    ResetReport,
    RunAction,
    RunResult,
    StartedRun,
    UpdateOutcome,
)
from .format import (
    _args,
    _error_line,
    _parse_iso,
    compact,
    fmt_duration,
    key_values,
    shorten,
    table,
    to_json,
)


def render_db_status(status: DbStatus) -> str:
    pairs: list[tuple[str, Any]] = [("Database", status.url)]
    if status.migrated_now:
        names = ", ".join(f"{m['version']:04d}_{m['name']}" for m in status.migrated_now)
        pairs.append(("Migrated now", names))
    state = "up to date" if status.up_to_date else f"{len(status.pending)} migration(s) pending"
    pairs.append(("Schema", state))
    out = key_values(pairs) + "\n\n"
    rows = [
        (m["version"], m["name"], "applied", _parse_iso(m.get("applied_at")))
        for m in status.applied
    ]
    rows += [(m["version"], m["name"], "PENDING", None) for m in status.pending]
    out += table(["VERSION", "NAME", "STATE", "APPLIED AT"], rows, empty="(no migrations)")
    if status.pending:
        out += "\n\nrun `harvest db migrate` to apply them"
    return out


def render_started(started: StartedRun) -> str:
    if started.signal is not None and not started.started:
        return (
            f"signalled {started.signal} to running {started.workflow_type}: workflow id "
            f"{started.workflow_id}, run id {started.run_id} (no new run)"
        )
    if not started.started:
        why = (
            "id conflict policy use_existing" if started.reused != "idempotency_key"
            else "the idempotency key started it"
        )
        return (
            f"already running {started.workflow_type}: workflow id {started.workflow_id}, "
            f"run id {started.run_id} (no new run: {why})"
        )
    with_signal = f" with signal {started.signal}" if started.signal is not None else ""
    verb = "reran" if started.rerun_of is not None else "started"
    text = (
        f"{verb} {started.workflow_type}{with_signal}: workflow id {started.workflow_id}, "
        f"run id {started.run_id}"
    )
    if started.rerun_of is not None:
        text += f" (a fresh run with the input of run {started.rerun_of})"
    if started.replaced_run_id is not None:
        text += f" (terminated the open run {started.replaced_run_id})"
    return text


def _run_ref(action: RunAction) -> str:
    if action.workflow_id == action.run_id:
        return f"run {action.run_id}"
    return f"run {action.run_id} (workflow id {action.workflow_id})"


def render_action(action: RunAction) -> str:
    """One line saying what ``signal``/``cancel``/``terminate``/``pause``/``resume`` did."""
    run = _run_ref(action)
    reason = f": {shorten(action.reason, 80)}" if action.reason else ""
    held = "; the run is paused, so its code sees this once resumed" if action.paused else ""
    if action.action == "signal":
        if not action.changed:
            return (
                f"duplicate signal ignored (idempotency key {action.idempotency_key}): "
                f"{run} already has it"
            )
        return f"signalled {action.signal} to {run}{held}"
    if action.action == "cancel":
        if not action.changed:
            return f"cancel already requested for {run}; nothing changed"
        return f"cancel requested for {run}{reason}{held}"
    if action.action == "terminate":
        return f"terminated {run}{reason}"
    if action.action == "pause":
        if not action.changed:
            return f"{run} is already paused; nothing changed"
        return f"paused {run}{reason}"
    if action.action == "resume":
        if not action.changed:
            return f"{run} is not paused; nothing changed"
        return f"resumed {run}{reason}"
    return f"{action.action} {run}"


def render_result(outcome: RunResult) -> str:
    pairs: list[tuple[str, Any]] = [("Status", outcome.status)]
    if outcome.ok:
        pairs.append(("Result", compact(outcome.result, 2000)))
    else:
        pairs.append(("Error", _error_line(outcome.error)))
    return key_values(pairs)


# ---------------------------------------------------------------------------------------
# queries, updates, reset
# ---------------------------------------------------------------------------------------
def _ref(run_id: str, workflow_id: str) -> str:
    if workflow_id == run_id:
        return f"run {run_id}"
    return f"run {run_id} (workflow id {workflow_id})"


def render_query(answer: QueryAnswer) -> str:
    """``query NAME(ARGS) on run ...:`` then the answer as indented JSON."""
    call = f"{answer.query}({_args(answer.args, 80)})"
    body = json.dumps(to_json(answer.result), indent=2, ensure_ascii=False)
    return f"query {call} on {_ref(answer.run_id, answer.workflow_id)}:\n{body}"


def render_update(outcome: UpdateOutcome) -> str:
    call = f"{outcome.update}({_args(outcome.args, 80)})"
    if outcome.stage == "admitted":
        return (
            f"update {call} id {outcome.update_id} admitted by "
            f"{_ref(outcome.run_id, outcome.workflow_id)}; its result: the same update "
            f"with --update-id {outcome.update_id}"
        )
    body = json.dumps(to_json(outcome.result), indent=2, ensure_ascii=False)
    return (
        f"update {call} id {outcome.update_id} on "
        f"{_ref(outcome.run_id, outcome.workflow_id)}:\n{body}"
    )


def _points(points: Sequence[int], limit: int = 20) -> str:
    if not points:
        return "(none)"
    shown = ", ".join(str(p) for p in points[-limit:])
    return shown if len(points) <= limit else f"... {shown}"


def render_reset(report: ResetReport) -> str:
    """What a reset, its dry run or a retry found and did."""
    run = _ref(report.run_id, report.workflow_id)
    point = f"event {report.boundary} ({report.boundary_event})"
    signals = report.later_signals
    if report.applied and report.action == "retry":
        head = (
            f"retried {run} from {point}, just before the failed activity was scheduled: "
            f"new run {report.new_run_id}"
        )
    elif report.applied:
        head = f"reset {run} to {point}: new run {report.new_run_id}"
    elif report.valid:
        head = f"dry run: {point} of {run} is a valid reset point; nothing was written"
    else:
        dry = "dry run: " if report.dry_run else ""
        head = f"{dry}{point} of {run} is not a valid reset point; nothing was written"
    pairs: list[tuple[str, Any]] = []
    if not report.valid:
        pairs.append(("Why", report.reason or "-"))
    if not report.applied:
        pairs += [
            ("Nearest valid", f"{_nearest(report.nearest_valid_before)} before, "
                              f"{_nearest(report.nearest_valid_after)} after"),
            ("Valid points", _points(report.valid_points)),
        ]
    if signals:
        fate = "re-delivered" if report.reapply_signals == "buffer" else "dropped"
        if not report.applied:
            fate = "would be " + fate
        pairs.append(("Later signals", f"{signals} recorded after the boundary, {fate} "
                                       f"(--reapply-signals {report.reapply_signals})"))
    else:
        pairs.append(("Later signals", "none after the boundary"))
    if report.applied:
        source = (
            "TERMINATED (it was running)" if report.source_terminated
            else f"left as it was ({report.status})"
        )
        pairs.append(("Source run", source))
    elif report.valid and report.dry_run:
        pairs.append(("Apply", "run the same command without --dry-run"))
    return head + "\n" + key_values(pairs, indent="  ")


def _nearest(seq: int | None) -> str:
    return "none" if seq is None else f"event {seq}"


# ---------------------------------------------------------------------------------------
# namespaces
# ---------------------------------------------------------------------------------------
def render_namespaces(listing: NamespaceList) -> str:
    rows = [
        (n.name, n.runs, n.running,
         "forever" if n.retention_seconds is None else fmt_duration(n.retention_seconds),
         n.created_at, n.description or "-")
        for n in listing.namespaces
    ]
    return table(["NAME", "RUNS", "RUNNING", "RETENTION", "CREATED", "DESCRIPTION"], rows,
                 empty="(no namespaces)")


def render_namespace_action(action: NamespaceAction) -> str:
    if action.action == "create":
        if not action.changed:
            return f"namespace {action.name} already exists; nothing changed"
        return f"created namespace {action.name}"
    if action.action == "delete":
        return f"deleted namespace {action.name}"
    if action.action == "retention":
        return f"namespace {action.name} {action.description or 'keeps its ended runs forever'}"
    return f"{action.action} namespace {action.name}"
