"""The in-kernel worker behind ``%harvest worker``: code versions and a worker thread.

A notebook redefines workflows by re-running cells. Each definition with new code has a new
fingerprint, and a run must keep replaying the code it started with (a run's
``WorkflowStarted`` event records the fingerprint it was started for). So the kernel keeps,
per workflow name, every version it has seen (:class:`CodeVersions`), and the worker is
given one *proxy* definition per name whose code picks, each time a run's code starts or
replays, the version matching that run's recorded fingerprint, else the newest. Runs started
after a redefinition record the new fingerprint and get the new code at once; older runs
keep theirs for as long as the kernel lives.

Activities are not replayed, so their proxies simply call the newest version: re-running an
activity's cell takes effect from its next attempt.

This module does not import IPython; :mod:`._magics` is the IPython front end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .. import store
from ..client import Client
from ..commands.render import fmt_duration, fmt_time, key_values, table
from ..engine import Worker, WorkerOptions
from ..model.definitions import ActivityDefinition, WorkflowDefinition
from ..model.errors import UsageError
from ..store.connection import describe_url
from ..tools.code_versions import CodeVersions, activity_proxy, workflow_proxy
from .worker_log import WorkerLog

Definition = WorkflowDefinition | ActivityDefinition


# ---------------------------------------------------------------------------------------
# status
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ServedWorkflow:
    name: str
    fingerprint: str  # registered: what a run started by name records
    newest: str  # the newest version the kernel holds
    versions: int
    queue: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class WorkerStatus:
    """What ``%harvest worker start|stop|status`` reports."""

    action: str  # started, restarted, stopped, status
    state: str  # running, stopped, crashed, not started
    worker_id: str | None = None
    database: str | None = None
    namespace: str | None = None
    queues: tuple[str, ...] = ()
    workflows: tuple[ServedWorkflow, ...] = ()
    activities: tuple[str, ...] = ()
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    lease_seconds: float = WorkerOptions.lease_seconds
    stats: Mapping[str, int] = field(default_factory=dict)
    warnings: int = 0  # kept by `%harvest worker log`
    not_served: tuple[str, ...] = ()  # defined in the notebook, unknown to the worker
    needs_restart: tuple[str, ...] = ()  # why `%harvest worker start` would change things

    @property
    def running(self) -> bool:
        return self.state == "running"

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "state": self.state,
            "worker_id": self.worker_id,
            "database": self.database,
            "namespace": self.namespace,
            "queues": list(self.queues),
            "workflows": [w.to_json() for w in self.workflows],
            "activities": list(self.activities),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "stopped_at": self.stopped_at.isoformat() if self.stopped_at else None,
            "lease_seconds": self.lease_seconds,
            "stats": dict(self.stats),
            "not_served": list(self.not_served),
            "needs_restart": list(self.needs_restart),
        }


def kernel_restart_note(lease_seconds: float) -> str:
    within = fmt_duration(lease_seconds)
    return (
        "A kernel restart loses nothing: runs and their histories live in PostgreSQL; work "
        f"this worker holds is reclaimed when its lease expires (within {within}) and the "
        "next worker (`%harvest worker start` in the new kernel) resumes it."
    )


def render_worker_status(status: WorkerStatus) -> str:
    """Plain text for ``%harvest worker ...``."""
    heads = {
        "started": "in-kernel worker started",
        "restarted": "in-kernel worker restarted with the notebook's current definitions",
        "stopped": "in-kernel worker stopped",
    }
    head = heads.get(status.action, f"in-kernel worker: {status.state}")
    if status.state == "not started":
        return (
            "in-kernel worker: not started\n"
            "`%harvest worker start` serves the workflows and activities defined in this "
            "notebook on a background thread."
        )
    pairs: list[tuple[str, Any]] = [
        ("State", status.state),
        ("Worker", status.worker_id or "-"),
        ("Database", status.database or "-"),
        ("Namespace", status.namespace or "-"),
        ("Queues", ", ".join(status.queues) or "-"),
    ]
    if status.started_at is not None:
        pairs.append(("Started", fmt_time(status.started_at)))
    if status.stopped_at is not None:
        pairs.append(("Stopped", fmt_time(status.stopped_at)))
    if status.stats:
        pairs.append(("Handled", ", ".join(f"{k} {v}" for k, v in sorted(status.stats.items()))))
    if status.warnings:
        pairs.append(("Warnings", f"{status.warnings} (`%harvest worker log` shows them)"))
    out = head + "\n" + key_values(pairs, indent="  ")
    if status.workflows:
        rows = [
            (
                w.name,
                w.fingerprint,
                "same" if w.newest == w.fingerprint else w.newest,
                w.versions,
                w.queue,
            )
            for w in status.workflows
        ]
        out += "\n\nWorkflows (each run replays the version it started with while this "
        out += "kernel holds it, else the newest):\n"
        out += table(["NAME", "REGISTERED", "NEWEST", "VERSIONS", "QUEUE"], rows, indent="  ")
    if status.activities:
        out += "\n\nActivities (the newest version runs): " + ", ".join(status.activities)
    if status.not_served:
        out += (
            "\n\nDefined but not served: " + ", ".join(status.not_served)
            + " (run `%harvest worker start` to serve them)"
        )
    if status.needs_restart:
        out += "\n\nRestart to apply: " + "; ".join(status.needs_restart)
    if status.state in ("running", "crashed"):
        out += "\n\n" + kernel_restart_note(status.lease_seconds)
    return out


# ---------------------------------------------------------------------------------------
# the worker
# ---------------------------------------------------------------------------------------
class KernelWorker:
    """One :class:`~harvest_studio.Worker` on its own thread serving the notebook's code.

    :meth:`start` (re)starts it with the definitions :class:`CodeVersions` holds; cells keep
    running while it works. :meth:`sync_registrations` tells the database about code versions
    defined while it runs, so runs started by name (from anywhere) get the new code.
    """

    def __init__(self, versions: CodeVersions) -> None:
        self.versions = versions
        self.worker: Worker | None = None
        self.started_at: datetime | None = None
        self.stopped_at: datetime | None = None
        self._served: dict[str, WorkflowDefinition] = {}  # name -> proxy
        self._served_activities: dict[str, ActivityDefinition] = {}  # name -> proxy
        self._registered: dict[str, str] = {}  # workflow name -> fingerprint registered
        self.log = WorkerLog()

    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.running

    def start(self, client: Client, *, queues: list[str] | None = None,
              **tuning: Any) -> WorkerStatus:
        """Stop the current worker (draining in-flight work), start a new one with every
        workflow and activity the kernel holds, newest versions registered."""
        names = self.versions.workflow_names()
        activity_names = self.versions.activity_names()
        if not names and not activity_names:
            raise UsageError(
                "this notebook defines no @hs.workflow or @hs.activity (define one in a cell, "
                "then `%harvest worker start`)"
            )
        restarted = self.worker is not None
        self.stop()
        workflows = []
        for name in names:
            newest = self.versions.newest_workflow(name)
            if newest is not None:
                workflows.append(workflow_proxy(self.versions, newest))
        activities = []
        for name in activity_names:
            newest_activity = self.versions.newest_activity(name)
            if newest_activity is not None:
                activities.append(activity_proxy(self.versions, newest_activity))
        # what activities print stays with their attempts (explorer, card): echoed from the
        # worker's threads it would land under whichever cell runs at the time
        tuning.setdefault("echo_output", False)
        worker = Worker(client, workflows=workflows, activities=activities, queues=queues,
                        **tuning)
        self.log.attach()  # its warnings go to `%harvest worker log`, not to random cells
        worker.start()
        self.worker = worker
        self._served = {w.name: w for w in workflows}
        self._served_activities = {a.name: a for a in activities}
        self._registered = {w.name: w.fingerprint for w in workflows}
        self.started_at = datetime.now(UTC)
        self.stopped_at = None
        return self.status("restarted" if restarted else "started")

    def stop(self, timeout: float | None = None) -> WorkerStatus:
        """Stop claiming, let in-flight work finish (up to the worker's ``drain_timeout``)."""
        if self.worker is not None:
            self.worker.stop(timeout)
            self.stopped_at = datetime.now(UTC)
        return self.status("stopped")

    def sync_registrations(self, client: Client) -> None:
        """Register the newest version of each served workflow where it changed since it
        was registered (a cell redefined it, or re-ran an older definition), through
        ``client`` (same database and namespace as the worker), so runs started by name,
        from anywhere, get the notebook's newest code. Reads nothing when nothing changed."""
        worker = self.worker
        if worker is None or not self.running:
            return
        rows = []
        for name, served in self._served.items():
            newest = self.versions.newest_workflow(name)
            if newest is None or newest.fingerprint == self._registered.get(name):
                continue
            if newest.queue != served.queue:
                continue  # a new queue needs a restart (the status says so)
            rows.append(store.workflow_registration(newest))
        if not rows:
            return
        if client.url != worker.url or client.namespace != worker.namespace:
            return  # the magics moved to another database or namespace

        async def register() -> None:
            async with client.aio.pool.connection() as conn:
                await store.register_types(conn, worker.namespace, rows)

        client._run(register(), timeout=10)
        for row in rows:
            self._registered[row.name] = row.fingerprint

    def status(self, action: str = "status") -> WorkerStatus:
        worker = self.worker
        if worker is None:
            return WorkerStatus(action=action, state="not started")
        if worker.running:
            state = "running"
        elif self.stopped_at is not None:
            state = "stopped"
        else:
            state = "crashed"
        served = []
        for name, proxy in sorted(self._served.items()):
            versions = self.versions.workflow_versions(name)
            newest = versions[-1].fingerprint if versions else proxy.fingerprint
            served.append(
                ServedWorkflow(
                    name, self._registered.get(name, proxy.fingerprint), newest,
                    len(versions), proxy.queue,
                )
            )
        not_served = [
            n for n in self.versions.workflow_names() + self.versions.activity_names()
            if n not in self._served and n not in self._served_activities
        ]
        needs_restart = []
        for name, proxy in sorted(self._served.items()):
            newest_wf = self.versions.newest_workflow(name)
            if newest_wf is not None and (newest_wf.queue, newest_wf.execution_timeout) != (
                proxy.queue, proxy.execution_timeout
            ):
                needs_restart.append(f"workflow {name} has a new queue or execution timeout")
        for name, proxy_activity in sorted(self._served_activities.items()):
            newest_act = self.versions.newest_activity(name)
            if newest_act is None:
                continue
            if newest_act.is_async != proxy_activity.is_async:
                needs_restart.append(f"activity {name} changed between def and async def")
            elif newest_act.options != proxy_activity.options:
                needs_restart.append(f"activity {name} has new options")
        stats = {k: int(v) for k, v in worker.stats.items() if v}
        return WorkerStatus(
            action=action,
            state=state,
            worker_id=worker.worker_id,
            database=describe_url(worker.url),
            namespace=worker.namespace,
            queues=tuple(worker.queues),
            workflows=tuple(served),
            activities=tuple(sorted(self._served_activities)),
            started_at=self.started_at,
            stopped_at=self.stopped_at,
            lease_seconds=worker.options.lease_seconds,
            stats=stats,
            warnings=self.log.warnings,
            not_served=tuple(not_served),
            needs_restart=tuple(needs_restart),
        )

    def close(self, timeout: float | None = None) -> None:
        """Stop the worker (used when the extension is unloaded or the kernel exits)."""
        if self.worker is not None and self.worker.running:
            self.stop(timeout)
        self.log.detach()
