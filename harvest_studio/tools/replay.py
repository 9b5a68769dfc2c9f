"""Replaying a run's stored history through local code, writing nothing.

:func:`replay_run` answers "would this code still run that run?": it reads the run's
history, feeds it to a fresh :class:`~._replay.WorkflowInstance` built on the chosen code,
exactly as a worker does before it decides, and reports either a clean replay or the first
divergence (event seq, the command history recorded vs the one the code issued) with both
code fingerprints. No task is claimed and nothing is written to the database.

Which code: an explicit :class:`~harvest_studio.WorkflowDefinition`, or a choice among
versions (a :class:`~._kernel_worker.CodeVersions` or a list of definitions): the version
whose fingerprint the run recorded when it started, else the newest of the run's workflow
type.

The history replayed is what the run has committed; events still waiting in its inbox (a
signal not yet decided on) are not part of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..client import AsyncClient, Client
from ..commands.render import key_values
from ..engine.replay import WorkflowInstance
from ..model.definitions import WorkflowDefinition
from ..model.errors import NonDeterminismError, UsageError
from ..model.events import HistoryEvent
from .code_versions import CodeVersions

Code = WorkflowDefinition | CodeVersions | Iterable[WorkflowDefinition]

# how the code was chosen
EXPLICIT = "explicit"
RECORDED = "recorded"  # the version with the run's recorded fingerprint
NEWEST = "newest"  # the run's version is not held: the newest of its type

_CHOSEN = {
    EXPLICIT: "passed explicitly",
    RECORDED: "the run's own version",
    NEWEST: "the newest version here; the run's own version is not held",
}


@dataclass(frozen=True)
class ReplayReport:
    """The outcome of :func:`replay_run`."""

    run_id: str
    workflow_id: str
    workflow_type: str
    status: str
    events: int  # history events replayed
    run_fingerprint: str | None  # recorded when the run started
    local_fingerprint: str  # of the code replayed
    chosen: str  # explicit, recorded or newest
    ok: bool
    seq: int | None = None  # first divergent event
    expected: dict[str, Any] | None = None  # what history recorded there
    actual: dict[str, Any] | None = None  # what the local code issued (None: nothing)
    message: str | None = None
    blocked: dict[str, Any] | None = None  # the run's blocked reason, if it is blocked

    @property
    def same_code(self) -> bool:
        return self.run_fingerprint == self.local_fingerprint

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "workflow_id": self.workflow_id,
            "workflow_type": self.workflow_type,
            "status": self.status,
            "events": self.events,
            "run_fingerprint": self.run_fingerprint,
            "local_fingerprint": self.local_fingerprint,
            "chosen": self.chosen,
            "ok": self.ok,
            "seq": self.seq,
            "expected": self.expected,
            "actual": self.actual,
            "message": self.message,
            "blocked": self.blocked,
        }

    def headline(self) -> str:
        """``replays cleanly (12 events)``, ``diverges at event 7`` or ``cannot be replayed``."""
        if self.ok:
            return f"replays cleanly ({self.events} events)"
        if self.seq is None:
            return "cannot be replayed"
        return f"diverges at event {self.seq}"

    def code_lines(self) -> list[tuple[str, Any]]:
        """Which code ran: the run's fingerprint and the local one, and how it was chosen."""
        run_code = self.run_fingerprint or "- (not recorded)"
        local = f"{self.local_fingerprint} ({_CHOSEN.get(self.chosen, self.chosen)})"
        pairs: list[tuple[str, Any]] = [("Run code", run_code), ("Local code", local)]
        if self.run_fingerprint is not None and not self.same_code:
            pairs.append(("", "the fingerprints differ: the code changed since the run started"))
        return pairs

    def blocked_note(self) -> str:
        """What this replay says about the run being blocked."""
        if self.ok:
            return ("the run is still marked blocked; a worker retries it with backoff and it "
                    "resumes once the worker's code replays like this")
        return "yes, a worker could not replay it either (see `%harvest show`)"

    def __str__(self) -> str:
        return render_replay(self)


def choose_code(
    code: Code | None, workflow_type: str, fingerprint: str | None
) -> tuple[WorkflowDefinition, str]:
    """The definition to replay a run of ``workflow_type`` recorded with ``fingerprint``,
    and how it was chosen."""
    if code is None:
        raise UsageError(
            f"no code to replay workflow {workflow_type!r} with (pass a WorkflowDefinition "
            "or its versions)"
        )
    if isinstance(code, WorkflowDefinition):
        return code, EXPLICIT
    if isinstance(code, CodeVersions):
        found = code.workflow(workflow_type, fingerprint)
    else:
        versions = [d for d in code if d.name == workflow_type]
        same = [d for d in versions if fingerprint is not None and d.fingerprint == fingerprint]
        candidates = same or versions
        found = candidates[-1] if candidates else None
    if found is None:
        raise UsageError(
            f"no local code for workflow {workflow_type!r} (define it, or pass the code to "
            "replay with)"
        )
    return found, RECORDED if found.fingerprint == fingerprint else NEWEST


async def areplay_run(
    client: AsyncClient, ref: str, workflow: Code | None = None
) -> ReplayReport:
    """:func:`replay_run` for the async client."""
    info = await client.describe(ref)
    history = await client.history(info.run_id)
    return replay_history(
        history,
        workflow,
        run_id=info.run_id,
        workflow_id=info.workflow_id,
        workflow_type=info.workflow_type,
        status=info.status,
        fingerprint=info.fingerprint,
        blocked=info.blocked,
    )


def replay_history(
    history: list[HistoryEvent],
    workflow: Code | None,
    *,
    run_id: str,
    workflow_id: str,
    workflow_type: str,
    status: str,
    fingerprint: str | None,
    blocked: dict[str, Any] | None = None,
) -> ReplayReport:
    """Replay one run's ``history`` (from the database or a file) through local code."""
    definition, chosen = choose_code(workflow, workflow_type, fingerprint)
    instance = WorkflowInstance(definition, run_id)
    report: dict[str, Any] = {"ok": True}
    try:
        instance.replay(history)
    except NonDeterminismError as exc:
        report = {
            "ok": False, "seq": exc.seq, "expected": exc.expected, "actual": exc.actual,
            "message": str(exc),
        }
    except Exception as exc:  # the code or the history cannot be replayed at all
        report = {"ok": False, "message": f"replay failed: {type(exc).__name__}: {exc}"}
    finally:
        instance.evict()
    return ReplayReport(
        run_id=run_id,
        workflow_id=workflow_id,
        workflow_type=workflow_type,
        status=status,
        events=len(history),
        run_fingerprint=fingerprint,
        local_fingerprint=definition.fingerprint,
        chosen=chosen,
        blocked=blocked,
        **report,
    )


def replay_run(client: Client, ref: str, workflow: Code | None = None) -> ReplayReport:
    """Replay run ``ref``'s stored history through local code, writing nothing.

    ``workflow`` is the code: a :class:`~harvest_studio.WorkflowDefinition` (used as is), or
    versions to choose from (:class:`~._kernel_worker.CodeVersions`, or definitions): the one
    with the run's recorded fingerprint, else the newest of the run's type. Returns a
    :class:`ReplayReport`: ``ok``, or the first divergence (``seq``, ``expected``,
    ``actual``) and both fingerprints.
    """
    report: ReplayReport = client._run(areplay_run(client.aio, ref, workflow))
    return report


def describe_command(command: dict[str, Any] | None) -> str:
    """``ActivityScheduled(reserve)`` from a divergence's expected/actual description."""
    if command is None:
        return "nothing"
    detail = ", ".join(
        str(command[k]) for k in ("activity_type", "name", "duration") if k in command
    )
    return f"{command.get('type', '?')}({detail})" if detail else str(command.get("type", "?"))


def render_replay(report: ReplayReport) -> str:
    """Plain text for ``%harvest replay`` (and ``str(report)``)."""
    head = (
        f"{report.workflow_type} {report.workflow_id} (run {report.run_id}, {report.status}) "
        f"on local code: {report.headline()}"
    )
    pairs: list[tuple[str, Any]] = []
    if not report.ok:
        if report.seq is not None:
            pairs += [
                ("Event", report.seq),
                ("Expected", f"{describe_command(report.expected)}  (history)"),
                ("Actual", f"{describe_command(report.actual)}  (local code)"),
            ]
        pairs.append(("Message", report.message or ""))
    pairs += report.code_lines()
    if report.blocked:
        pairs.append(("Blocked", report.blocked_note()))
    return head + "\n" + key_values(pairs, indent="  ")
