"""Trigger rules: when a DAG node runs, given how its upstreams ended (Airflow's rules,
decided as early as the outcome is known). The table is in docs/dags.md."""

from __future__ import annotations

from collections.abc import Sequence

from .errors import UsageError

TRIGGER_RULES = (
    "all_success",
    "all_done",
    "all_failed",
    "one_success",
    "one_failed",
    "none_failed",
    "none_failed_min_one_success",
    "always",
)
NODE_STATES = (
    "pending",
    "running",
    "succeeded",
    "failed",
    "upstream_failed",
    "skipped",
    "cancelled",
    "timed_out",
    "waiting",
)
FAILED_STATES = frozenset({"failed", "upstream_failed", "timed_out", "cancelled"})
"""what the trigger rules count as a failed upstream"""
def decide(rule: str, states: Sequence[str | None]) -> str | None:
    """What a node does given its upstreams' states (``None``: not finished yet):
    ``"run"``, ``"skipped"``, ``"upstream_failed"``, or ``None`` to wait for more.

    Rules are vacuously satisfied by a node without upstreams. A rule decides as soon as
    the outcome cannot change (``one_success`` runs at the first success, ``all_success``
    fails at the first failure), as in Airflow.
    """
    if rule == "always" or not states:
        return "run"
    done = [s for s in states if s is not None]
    failed = sum(s in FAILED_STATES for s in done)
    succeeded = sum(s == "succeeded" for s in done)
    skipped = sum(s == "skipped" for s in done)
    finished = len(done) == len(states)
    if rule == "all_success":
        if failed:
            return "upstream_failed"
        if not finished:
            return None
        return "skipped" if skipped else "run"
    if rule == "all_done":
        return "run" if finished else None
    if rule == "all_failed":
        if succeeded or skipped:
            return "skipped"
        return "run" if finished else None
    if rule == "one_success":
        if succeeded:
            return "run"
        if not finished:
            return None
        return "skipped" if skipped == len(states) else "upstream_failed"
    if rule == "one_failed":
        if failed:
            return "run"
        return "skipped" if finished else None
    if rule == "none_failed":
        if failed:
            return "upstream_failed"
        return "run" if finished else None
    if rule == "none_failed_min_one_success":
        if failed:
            return "upstream_failed"
        if not finished:
            return None
        return "run" if succeeded else "skipped"
    raise UsageError(f"unknown trigger rule {rule!r}")
