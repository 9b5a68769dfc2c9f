"""Every version of each workflow and activity a process has seen, by code fingerprint.

A notebook redefines workflows by re-running cells. Each definition with new code has a new
fingerprint, and a run must keep replaying the code it started with (a run's
``WorkflowStarted`` event records the fingerprint it was started for). :class:`CodeVersions`
keeps, per workflow name, every version seen, and :func:`workflow_proxy` gives a worker one
definition per name whose code picks, each time a run's code starts or replays, the version
matching that run's recorded fingerprint, else the newest. Activities are not replayed, so
their proxies (:func:`activity_proxy`) call the newest version.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..engine.activity_context import ActivityContext
from ..engine.workflow_context import WorkflowContext
from ..model.definitions import ActivityDefinition, WorkflowDefinition

Definition = WorkflowDefinition | ActivityDefinition


@dataclass
class _Version:
    definition: Any
    rank: int  # higher = newer (last time this version was newly bound to a name)
    first_seen: datetime


@dataclass(frozen=True)
class NewVersions:
    """What one :meth:`CodeVersions.scan` found that the kernel had not seen before."""

    workflows: list[WorkflowDefinition] = field(default_factory=list)
    activities: list[ActivityDefinition] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.workflows or self.activities)


class CodeVersions:
    """Every workflow and activity version this kernel has seen, by name and fingerprint.

    :meth:`scan` reads a namespace (the notebook's ``user_ns``). A version becomes the
    *newest* of its name when it is newly bound to a variable: running a cell that defines
    a workflow makes its code the newest, even if that code was seen before (re-running an
    older cell brings the older code back). Versions still bound in the namespace rank
    above versions no longer bound. Versions are kept while the kernel lives, so runs
    started with older code can still replay it. Safe to read from the worker thread.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._clock = itertools.count(1)
        self._workflows: dict[str, dict[str, _Version]] = {}
        self._activities: dict[str, dict[str, _Version]] = {}
        self._bound: set[tuple[str, str, str]] = set()

    # -- updating ---------------------------------------------------------------------------
    def scan(self, namespace: Mapping[str, Any]) -> NewVersions:
        """Record the definitions bound in ``namespace`` (names starting with ``_`` are
        skipped: IPython keeps old outputs there). Returns the versions never seen before."""
        found: list[Definition] = []
        for key, value in list(namespace.items()):
            if key.startswith("_"):
                continue
            if isinstance(value, WorkflowDefinition | ActivityDefinition):
                found.append(value)
        return self.add(found, bound=True)

    def add(self, definitions: Iterable[Definition], *, bound: bool = False) -> NewVersions:
        """Record ``definitions``; with ``bound`` they are what is bound right now (a
        version not bound at the previous call becomes the newest of its name)."""
        new = NewVersions()
        now_bound: set[tuple[str, str, str]] = set()
        with self._lock:
            for definition in definitions:
                kind = "workflow" if isinstance(definition, WorkflowDefinition) else "activity"
                table_ = self._workflows if kind == "workflow" else self._activities
                key = (kind, definition.name, definition.fingerprint)
                versions = table_.setdefault(definition.name, {})
                seen = versions.get(definition.fingerprint)
                fresh = key not in self._bound and key not in now_bound
                if seen is None:
                    versions[definition.fingerprint] = _Version(
                        definition, next(self._clock), datetime.now(UTC)
                    )
                    if kind == "workflow":
                        new.workflows.append(definition)  # type: ignore[arg-type]
                    else:
                        new.activities.append(definition)  # type: ignore[arg-type]
                else:
                    if seen.definition is not definition:
                        seen.definition = definition  # same code, the latest function object
                    if fresh or not bound:
                        seen.rank = next(self._clock)
                now_bound.add(key)
            if bound:
                self._bound = now_bound
        return new

    # -- reading ----------------------------------------------------------------------------
    def workflow_names(self) -> list[str]:
        with self._lock:
            return sorted(self._workflows)

    def activity_names(self) -> list[str]:
        with self._lock:
            return sorted(self._activities)

    def _ordered(self, kind: str, name: str) -> list[Any]:
        table_ = self._workflows if kind == "workflow" else self._activities
        with self._lock:
            versions = table_.get(name, {})
            ranked = sorted(
                versions.items(),
                key=lambda item: ((kind, name, item[0]) in self._bound, item[1].rank),
            )
            return [v.definition for _, v in ranked]

    def workflow_versions(self, name: str) -> list[WorkflowDefinition]:
        """The versions of workflow ``name``, oldest first (the newest last)."""
        return self._ordered("workflow", name)

    def newest_workflow(self, name: str) -> WorkflowDefinition | None:
        versions = self.workflow_versions(name)
        return versions[-1] if versions else None

    def newest_activity(self, name: str) -> ActivityDefinition | None:
        versions: list[ActivityDefinition] = self._ordered("activity", name)
        return versions[-1] if versions else None

    def workflow(self, name: str, fingerprint: str | None) -> WorkflowDefinition | None:
        """The version of ``name`` with ``fingerprint`` if the kernel holds it, else the
        newest (``None`` if the kernel never saw the name)."""
        with self._lock:
            versions = self._workflows.get(name, {})
            if fingerprint is not None and fingerprint in versions:
                found: WorkflowDefinition = versions[fingerprint].definition
                return found
        return self.newest_workflow(name)

    def bound_workflow(self, name: str, namespace: Mapping[str, Any]) -> WorkflowDefinition | None:
        """The newest version of workflow ``name`` bound in ``namespace``, else the
        ``WorkflowDefinition`` bound to the variable ``name`` (whatever its workflow name)."""
        bound = [
            v for k, v in list(namespace.items())
            if not k.startswith("_") and isinstance(v, WorkflowDefinition) and v.name == name
        ]
        if bound:
            with self._lock:
                versions = self._workflows.get(name, {})

                def rank(d: WorkflowDefinition) -> int:
                    seen = versions.get(d.fingerprint)
                    return seen.rank if seen is not None else 0

                return max(bound, key=rank)
        value = namespace.get(name)
        return value if isinstance(value, WorkflowDefinition) else None


def recorded_fingerprint(ctx: WorkflowContext) -> str | None:
    """The code fingerprint recorded when the run started (its ``WorkflowStarted`` event)."""
    return ctx.info.fingerprint


def workflow_proxy(versions: CodeVersions, newest: WorkflowDefinition) -> WorkflowDefinition:
    """A definition of ``newest.name`` whose code runs the version each run started with.

    It is registered with ``newest``'s fingerprint, queue and timeout, so a run started by
    name records the newest code.
    """
    name = newest.name

    async def serve(ctx: WorkflowContext, *args: Any) -> Any:
        chosen = versions.workflow(name, recorded_fingerprint(ctx)) or newest
        return await chosen.fn(ctx, *args)

    serve.__name__ = serve.__qualname__ = name
    return dataclasses.replace(newest, fn=serve)


def activity_proxy(versions: CodeVersions, base: ActivityDefinition) -> ActivityDefinition:
    """A definition of ``base.name`` that calls the newest version of the activity (if it is
    still sync or async like ``base``; changing that needs a worker restart)."""
    name = base.name

    def pick() -> ActivityDefinition:
        current = versions.newest_activity(name)
        return current if current is not None and current.is_async == base.is_async else base

    if base.is_async:

        async def call_async(ctx: ActivityContext, *args: Any) -> Any:
            return await pick().fn(ctx, *args)

        fn: Callable[..., Any] = call_async
    else:

        def call_sync(ctx: ActivityContext, *args: Any) -> Any:
            return pick().fn(ctx, *args)

        fn = call_sync
    fn.__name__ = fn.__qualname__ = name
    return dataclasses.replace(base, fn=fn)
