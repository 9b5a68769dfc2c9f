"""Schedules for :class:`AsyncClient`: create, list, pause, resume, trigger, backfill,
delete, preview and the decision log. Workers' schedulers start the runs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import store
from ..model.definitions import WorkflowDefinition
from ..model.durations import Duration
from ..model.errors import UsageError
from ..model.limits import check_name
from ..model.schedules import (
    MAX_SLOTS,
    ScheduleDeclaration,
    ScheduleError,
    ScheduleSpec,
    aware_moment,
    slot_workflow_id,
)
from ._audit import audited
from ._flow import FlowClient
from ._retry import retried
from .handles import AsyncRunHandle


@dataclass(frozen=True)
class ScheduleInfo:
    """A schedule and where it stands."""

    name: str
    workflow_type: str
    args: list[Any]
    spec: ScheduleSpec
    overlap: str
    catchup: str
    max_runs: int | None
    failure_limit: int | None
    paused: bool
    note: str | None
    next_fire_at: datetime | None
    last_slot: datetime | None
    last_run_id: str | None
    runs_started: int
    consecutive_failures: int
    buffered: int
    created_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ScheduleInfo:
        return cls(
            name=row["name"],
            workflow_type=row["workflow_type"],
            args=list(row["args"] or []),
            spec=ScheduleSpec.from_json(row["spec"]),
            overlap=row["overlap"],
            catchup=row["catchup"],
            max_runs=row["max_runs"],
            failure_limit=row["failure_limit"],
            paused=row["paused"],
            note=row["note"],
            next_fire_at=row["fire_at"],
            last_slot=row["last_slot"],
            last_run_id=row["last_run_id"],
            runs_started=row["runs_started"],
            consecutive_failures=row["consecutive_failures"],
            buffered=row["buffered"],
            created_at=row["created_at"],
        )

    def to_json(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return None if moment is None else moment.isoformat()

        return {
            "name": self.name,
            "workflow_type": self.workflow_type,
            "args": self.args,
            "spec": self.spec.to_json(),
            "overlap": self.overlap,
            "catchup": self.catchup,
            "max_runs": self.max_runs,
            "failure_limit": self.failure_limit,
            "paused": self.paused,
            "note": self.note,
            "next_fire_at": iso(self.next_fire_at),
            "last_slot": iso(self.last_slot),
            "last_run_id": self.last_run_id,
            "runs_started": self.runs_started,
            "consecutive_failures": self.consecutive_failures,
            "buffered": self.buffered,
            "created_at": iso(self.created_at),
        }


@dataclass(frozen=True)
class ScheduleLogEntry:
    """One decision of a schedule: a slot started, skipped, buffered or caught up, a pause."""

    at: datetime
    action: str
    slot: datetime | None
    run_id: str | None
    detail: str | None


class SchedulesClient(FlowClient):
    """Schedules: when to start runs of a workflow or DAG."""

    @audited("schedule.create", "schedule", "name")
    @retried(True)
    async def create_schedule(
        self,
        name: str,
        workflow: WorkflowDefinition | str,
        *args: Any,
        cron: str | None = None,
        every: Duration | None = None,
        anchor: datetime | str | None = None,
        timezone: str | None = None,
        jitter: Duration | None = None,
        start_at: datetime | str | None = None,
        end_at: datetime | str | None = None,
        overlap: str = "skip",
        catchup: str = "most_recent",
        max_runs: int | None = None,
        failure_limit: int | None = None,
        paused: bool = False,
        note: str | None = None,
        replace: bool = False,
    ) -> ScheduleInfo:
        """Start runs of ``workflow(*args)`` on a ``cron`` expression (in ``timezone``) or
        ``every`` interval (from ``anchor``). A slot's run has the workflow id
        ``sched:{name}:{slot, ISO UTC}`` and the search attributes ``schedule`` and
        ``scheduled_at``. ``overlap`` decides what a slot does while the previous run is
        still going (``skip``, ``buffer_one``, ``buffer_all``, ``cancel_other``,
        ``terminate_other``, ``allow_all``); ``catchup`` which slots missed during downtime
        still fire (``skip_all``, ``most_recent``, ``all``, ``window:<duration>``);
        ``failure_limit`` pauses it after that many failed runs in a row.
        ``replace=True`` overwrites a schedule of that name (else :class:`UsageError`).

        Example::

            client.create_schedule("nightly", nightly, "2026-12-01", cron="0 2 * * *",
                                   timezone="Europe/Berlin", catchup="most_recent")
        """
        check_name("a schedule name", name)
        if isinstance(workflow, WorkflowDefinition):
            workflow.check_args(args)
            type_name = workflow.name
        elif isinstance(workflow, str) and workflow:
            type_name = workflow
        else:
            raise UsageError(
                f"a schedule needs a @workflow, a DAG or a workflow name, got {workflow!r}"
            )
        declared = ScheduleDeclaration.make(
            name,
            type_name,
            args,
            cron=cron,
            every=every,
            anchor=anchor,
            timezone=timezone,
            jitter=jitter,
            start_at=start_at,
            end_at=end_at,
            overlap=overlap,
            catchup=catchup,
            max_runs=max_runs,
            failure_limit=failure_limit,
        )
        async with self.pool.connection() as conn:
            await self._check_namespace(conn)
            if isinstance(workflow, WorkflowDefinition):
                await store.register_types(
                    conn, self.namespace, [store.workflow_registration(workflow)], served=False
                )
            elif await store.registered_workflow(conn, self.namespace, type_name) is None:
                raise UsageError(f"no workflow type {type_name!r} is known in {self.namespace!r}")
            fields = {
                **declared.definition_fields(),
                **declared.fresh_state(await store.engine_now(conn)),
                "paused": paused,
                "note": note,
                "source": "api",
            }
            async with conn.transaction():
                row = await store.upsert_schedule(
                    conn, self.namespace, name, fields, replace=replace
                )
                if row is None:
                    raise UsageError(
                        f"a schedule {name!r} exists; pass replace=True to overwrite it"
                    )
                await store.log_schedule(
                    conn, self.namespace, name, "created", detail=declared.spec.describe()
                )
        return ScheduleInfo.from_row(row)

    @retried(True)
    async def schedules(self) -> list[ScheduleInfo]:
        async with self.pool.connection() as conn:
            rows = await store.list_schedules(conn, self.namespace)
        return [ScheduleInfo.from_row(r) for r in rows]

    @retried(True)
    async def describe_schedule(self, name: str) -> ScheduleInfo:
        async with self.pool.connection() as conn:
            row = await store.get_schedule(conn, self.namespace, name)
        if row is None:
            raise UsageError(f"no schedule {name!r} in namespace {self.namespace!r}")
        return ScheduleInfo.from_row(row)

    @audited("schedule.pause", "schedule", "name")
    async def pause_schedule(self, name: str, note: str | None = None) -> ScheduleInfo:
        """Stop starting runs (slots that pass meanwhile are not caught up on resume)."""
        return await self._set_schedule_paused(name, True, note)

    @audited("schedule.resume", "schedule", "name")
    async def resume_schedule(self, name: str, note: str | None = None) -> ScheduleInfo:
        """Start runs again from the next slot after now."""
        return await self._set_schedule_paused(name, False, note)

    @retried(True)
    async def _set_schedule_paused(self, name: str, paused: bool, note: str | None) -> ScheduleInfo:
        async with self.pool.connection() as conn, conn.transaction():
            row = await self._locked(conn, name)
            changes: dict[str, Any] = {"paused": paused, "note": note}
            if not paused:
                spec = ScheduleSpec.from_json(row["spec"])
                first = next(iter(spec.slots_after(await store.engine_now(conn))), None)
                changes.update(
                    next_slot=first, fire_at=spec.fire_at(name, first), consecutive_failures=0
                )
            await store.update_schedule(conn, self.namespace, name, changes)
            await store.log_schedule(
                conn, self.namespace, name, "paused" if paused else "resumed", detail=note
            )
            updated = await store.get_schedule(conn, self.namespace, name)
        assert updated is not None
        return ScheduleInfo.from_row(updated)

    @audited("schedule.trigger", "schedule", "name")
    async def trigger_schedule(self, name: str) -> AsyncRunHandle:
        """Start a run of the schedule now (its slot is now), whatever its overlap policy."""
        async with self.pool.connection() as conn, conn.transaction():
            row = await self._locked(conn, name)
            slot = await store.engine_now(conn)
            run_id = str(uuid.uuid4())
            outcome = await store.claim_and_start_slot(conn, self.namespace, row, slot, run_id)
            if outcome != "started":
                raise UsageError(f"a run of {slot_workflow_id(name, slot)} is still open")
            await store.update_schedule(
                conn,
                self.namespace,
                name,
                {"last_run_id": run_id, "runs_started": row["runs_started"] + 1},
            )
            await store.log_schedule(
                conn, self.namespace, name, "triggered", slot=slot, run_id=run_id
            )
        return AsyncRunHandle(self, slot_workflow_id(name, slot), run_id)

    @audited("schedule.backfill", "schedule", "name")
    async def backfill_schedule(
        self, name: str, start: datetime | str, end: datetime | str
    ) -> list[AsyncRunHandle]:
        """Start the runs of every slot in ``[start, end]`` (at most 1,000) that has none;
        slots decided before keep their run, so a second backfill starts nothing new.
        Returns the slots' runs in slot order (overlap and catch-up do not apply)."""
        async with self.pool.connection() as conn, conn.transaction():
            row = await self._locked(conn, name)
            spec = ScheduleSpec.from_json(row["spec"])
            begin, finish = aware_moment(start, "start"), aware_moment(end, "end")
            assert begin is not None and finish is not None
            if finish < begin:
                raise ScheduleError("a backfill's end must not be before its start")
            slots = spec.slots_between(begin, finish, MAX_SLOTS + 1)
            if len(slots) > MAX_SLOTS:
                raise ScheduleError(f"a backfill covers at most {MAX_SLOTS} slots; narrow it")
            registered = await store.registered_workflow(conn, self.namespace, row["workflow_type"])
            started = 0
            for slot in slots:
                run_id = str(uuid.uuid4())
                # (a slot decided before keeps its run; one whose id is taken is skipped)
                outcome = await store.claim_and_start_slot(
                    conn, self.namespace, row, slot, run_id, registered
                )
                if outcome != "started":
                    continue
                await store.log_schedule(
                    conn, self.namespace, name, "backfill", slot=slot, run_id=run_id
                )
                started += 1
            if started:
                await store.update_schedule(
                    conn, self.namespace, name, {"runs_started": row["runs_started"] + started}
                )
            runs = await store.slot_runs(conn, self.namespace, name, slots)
        return [
            AsyncRunHandle(self, slot_workflow_id(name, s), runs[s]) for s in slots if runs.get(s)
        ]

    @audited("schedule.delete", "schedule", "name")
    @retried(True)
    async def delete_schedule(self, name: str) -> bool:
        """Delete a schedule (runs it started are kept, and so is its log)."""
        async with self.pool.connection() as conn:
            deleted = await store.delete_schedule(conn, self.namespace, name)
            if deleted:
                await store.log_schedule(conn, self.namespace, name, "deleted")
        return deleted

    @retried(True)
    async def schedule_log(self, name: str, limit: int = 50) -> list[ScheduleLogEntry]:
        """The schedule's decisions, newest first."""
        async with self.pool.connection() as conn:
            rows = await store.read_log(conn, self.namespace, name, limit)
        return [
            ScheduleLogEntry(r["at"], r["action"], r["slot"], r["run_id"], r["detail"])
            for r in rows
        ]

    async def _locked(self, conn: Any, name: str) -> dict[str, Any]:
        row = await store.get_schedule(conn, self.namespace, name, lock=True)
        if row is None:
            raise UsageError(f"no schedule {name!r} in namespace {self.namespace!r}")
        return row

