"""``@hs.dag``: a DAG is a workflow whose code runs the graph. Each node is a task on the
workflow's deterministic loop that waits for its upstreams, applies its trigger rule and
runs its activity; so a DAG run has a history, replays, blocks on divergence, and can be
cancelled, paused and reset like any run.

Every node that reaches a final state records a ``dag.node`` marker (its state and, for a
map, its counts); every activity a node schedules carries the node's name in its options.
:mod:`harvest_studio.model.dag_runs` reads node states back from those.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, overload

from ..model.dag import (
    GATE_KINDS,
    DagDefinitionError,
    DagSpec,
    Node,
    NodeSpec,
    Param,
    build_spec,
    split_retry,
)
from ..model.definitions import (
    DEFAULT_QUEUE,
    ActivityDefinition,
    WorkflowDefinition,
    fingerprint,
)
from ..model.durations import Duration, optional_seconds
from ..model.errors import ActivityError, DagFailedError, UsageError
from ..model.retry import RetryPolicy
from ..model.schedules import ScheduleDeclaration
from ..model.trigger_rules import decide
from .workflow_context import WorkflowContext

DAG_RUNTIME_VERSION = "1"
"""part of every DAG's fingerprint: a runtime that issues other commands is another code
version, so runs started under the old one are not replayed by the new one"""
NODE_MARKER = "dag.node"
RUN_FAILING_STATES = frozenset({"failed", "upstream_failed", "timed_out"})
_TIMED_OUT = object()  # what a gate's wait_signal returns when its timeout passed
MARK_SIGNAL = "dag.mark:"
"""the signal ``dag.mark:<node>`` ends a node by hand (``client.mark_node``)"""


@dataclass(frozen=True)
class DagDefinition(WorkflowDefinition):
    """A DAG: a :class:`WorkflowDefinition` whose runs execute ``spec``'s graph."""

    spec: DagSpec | None = field(default=None, compare=False)
    schedule: ScheduleDeclaration | None = field(default=None, compare=False)
    """the schedule declared with the DAG (workers that serve it keep it in the database)"""

    @property
    def graph(self) -> DagSpec:
        assert self.spec is not None
        return self.spec

    def check_args(self, args: Sequence[Any]) -> None:
        self.graph.bind(split_retry(args)[0])

    def arity(self) -> tuple[int, int | None] | None:
        return None  # a DAG's params are checked by its graph

    def details(self) -> dict[str, Any] | None:
        return {"dag": self.graph.to_json()}


@overload
def dag(fn: Callable[..., Any], /) -> DagDefinition: ...
@overload
def dag(
    *,
    name: str | None = None,
    params: dict[str, type | None] | None = None,
    queue: str = ...,
    execution_timeout: Duration | None = ...,
    sla: Duration | None = ...,
    on_sla_miss: ActivityDefinition | str | None = ...,
    schedule: str | None = ...,
    every: Duration | None = ...,
    timezone: str | None = ...,
    catchup: str = ...,
    max_active_runs: int | None = ...,
    overlap: str | None = ...,
    jitter: Duration | None = ...,
    schedule_args: Sequence[Any] | None = ...,
) -> Callable[[Callable[..., Any]], DagDefinition]: ...


def dag(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    params: dict[str, type | None] | None = None,
    queue: str = DEFAULT_QUEUE,
    execution_timeout: Duration | None = None,
    sla: Duration | None = None,
    on_sla_miss: ActivityDefinition | str | None = None,
    schedule: str | None = None,
    every: Duration | None = None,
    timezone: str | None = None,
    catchup: str = "most_recent",
    max_active_runs: int | None = None,
    overlap: str | None = None,
    jitter: Duration | None = None,
    schedule_args: Sequence[Any] | None = None,
) -> Any:
    """Declare a DAG: ``fn(d: hs.Dag, *params)`` adds nodes with ``d.task`` and ``d.map``.

    The function runs once, here, with placeholders for the params: the graph is checked
    now (cycles, unknown upstreams, bad rules raise :class:`DagDefinitionError`) and does
    not depend on a run's input. ``params`` maps each param to a type checked when a run
    starts (by default the function's parameters, unchecked). ``sla``: a run still going
    that long after its start records a ``dag.sla_missed`` marker and runs the activity
    ``on_sla_miss(dag name, sla seconds)`` if given.

    ``schedule`` (cron, in ``timezone``) or ``every`` declares a schedule named after the
    DAG, kept in the database by the workers that serve it (``catchup``, ``jitter``,
    ``overlap`` as for :meth:`Client.create_schedule`; ``max_active_runs=1`` means
    ``overlap="buffer_all"``: a slot that comes while a run is going waits its turn).
    ``schedule_args`` are the scheduled runs' params; by default each param without a
    default gets ``"{slot_date}"``, the slot's date in the schedule's timezone (Airflow's
    ``ds``). Start runs by hand like a workflow::

        @hs.dag(params={"day": str})
        def nightly(d: hs.Dag, day: str) -> None:
            raw = d.task(extract, day, retry=hs.RetryPolicy(max_attempts=3))
            d.task(load, d.map(transform, over=raw, max_parallel=8))

        run = client.start(nightly, "2026-12-01")
        run.result()          # {"extract": ..., "transform": [...], "load": ...}
    """
    if max_active_runs is not None and max_active_runs != 1:
        raise UsageError(
            "max_active_runs can be 1 (later runs wait their turn) or left out; for runs "
            "that overlap freely use overlap='allow_all'"
        )

    def wrap(builder: Callable[..., Any]) -> DagDefinition:
        dag_name = name or builder.__name__
        spec = build_spec(dag_name, builder, params)
        spec.sla = optional_seconds(sla)
        if on_sla_miss is not None and spec.sla is None:
            raise DagDefinitionError(f"DAG {dag_name}: on_sla_miss needs an sla")
        spec.on_sla_miss = on_sla_miss
        digest = hashlib.sha256(
            f"{fingerprint(builder)}:{DAG_RUNTIME_VERSION}".encode()
        ).hexdigest()[:16]

        async def run_dag(ctx: WorkflowContext, *args: Any) -> dict[str, Any]:
            params, reuse = split_retry(args)
            return await _DagRun(ctx, spec, spec.bind(params), reuse).run()

        run_dag.__name__ = dag_name
        declared = None
        if schedule is not None or every is not None:
            args = _schedule_args(spec, schedule_args)
            spec.bind(args)
            declared = ScheduleDeclaration.make(
                dag_name, dag_name, args, cron=schedule, every=every, timezone=timezone,
                jitter=jitter, catchup=catchup,
                overlap=overlap or ("buffer_all" if max_active_runs == 1 else "skip"),
            )
        return DagDefinition(
            name=dag_name,
            fn=run_dag,
            fingerprint=digest,
            queue=queue,
            execution_timeout=optional_seconds(execution_timeout),
            spec=spec,
            schedule=declared,
        )

    return wrap(fn) if fn is not None else wrap


def _schedule_args(spec: DagSpec, given: Sequence[Any] | None) -> list[Any]:
    if given is not None:
        return list(given)
    args: list[Any] = []
    for name, kind in spec.params.items():
        if name in spec.defaults:
            break
        if kind not in (None, str):
            raise DagDefinitionError(
                f"DAG {spec.name}: param {name!r} ({kind.__name__}) needs a value for scheduled "
                "runs: give schedule_args="
            )
        args.append("{slot_date}")
    return args


class _DagRun:
    """One run of a DAG, on the workflow's loop."""

    def __init__(
        self,
        ctx: WorkflowContext,
        spec: DagSpec,
        params: dict[str, Any],
        reuse: dict[str, Any] | None = None,
    ) -> None:
        self.ctx = ctx
        self.spec = spec
        self.params = params
        reuse = reuse or {}
        self.retry_of = reuse.get("from")
        self.reused_nodes: dict[str, Any] = dict(reuse.get("nodes") or {})
        self.reused_items: dict[str, dict[str, Any]] = dict(reuse.get("items") or {})
        self.state: dict[str, str] = {}
        self.results: dict[str, Any] = {}
        self.finished: dict[str, asyncio.Future[str]] = {}

    async def run(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        for node in self.spec.nodes:
            self.finished[node.name] = loop.create_future()
        if self.spec.sla is not None:
            watch = asyncio.ensure_future(self._watch_sla(self.spec.sla))
        await asyncio.gather(*(self._node(node) for node in self.spec.nodes))
        if self.spec.sla is not None and not watch.done():
            watch.cancel()
        failing = {
            n.name: self.state[n.name]
            for n in self.spec.nodes
            if self.state[n.name] in RUN_FAILING_STATES and n.on_failure != "continue"
        }
        if failing:
            listed = ", ".join(f"{k} {v}" for k, v in failing.items())
            raise DagFailedError(f"DAG {self.spec.name} failed: {listed}", failing)
        return {n.name: self.results[n.name] for n in self.spec.nodes if n.name in self.results}

    async def _node(self, node: NodeSpec) -> None:
        if node.name in self.reused_nodes:
            # succeeded in the run this one retries: its result, recorded here, stands
            self.results[node.name] = self.reused_nodes[node.name]
            self._finish(
                node.name,
                "succeeded",
                {"reused_from": self.retry_of, "result": self.results[node.name]},
            )
            return
        mark = asyncio.ensure_future(self.ctx.wait_signal(MARK_SIGNAL + node.name))
        work = asyncio.ensure_future(self._work(node))
        try:
            await asyncio.wait({mark, work}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            mark.cancel()
            work.cancel()
            self._finish(node.name, "cancelled", None)
            raise
        if work.done():
            mark.cancel()
            state, detail = work.result()
        else:  # marked by hand before it finished: what it was doing is cancelled
            work.cancel()
            state, detail = self._marked(node.name, mark.result())
        self._finish(node.name, state, detail)

    async def _work(self, node: NodeSpec) -> tuple[str, dict[str, Any]]:
        verdict = await self._wait_for_rule(node)
        if verdict != "run":
            return verdict, {}
        await asyncio.gather(*(self.finished[u] for u in node.arg_upstream))
        return await self._execute(node)

    def _marked(self, name: str, payload: Any) -> tuple[str, dict[str, Any]]:
        mark = payload if isinstance(payload, dict) else {}
        state = "skipped" if mark.get("state") == "skipped" else "succeeded"
        if state == "succeeded":
            self.results[name] = mark.get("result")
        return state, {"marked_by": mark.get("by") or "someone", "reason": mark.get("reason")}

    async def _watch_sla(self, seconds: float) -> None:
        await self.ctx.sleep(seconds)
        self.ctx.record_marker("dag.sla_missed", {"dag": self.spec.name, "sla": seconds})
        hook = self.spec.on_sla_miss
        if hook is not None:
            with contextlib.suppress(ActivityError):  # a broken hook does not fail the DAG
                await self.ctx.schedule_activity(hook, [self.spec.name, seconds], {})

    async def _wait_for_rule(self, node: NodeSpec) -> str:
        waited = node.arg_upstream if node.trigger_rule == "always" else node.upstream
        while True:
            verdict = decide(node.trigger_rule, [self.state.get(u) for u in node.upstream])
            if verdict is not None:
                return verdict
            pending = [self.finished[u] for u in waited if not self.finished[u].done()]
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)

    async def _execute(self, node: NodeSpec) -> tuple[str, dict[str, Any]]:
        if node.run_if is not None:
            try:
                go = node.run_if(*(self.results.get(u) for u in node.upstream))
            except Exception as exc:
                return "failed", {"error": f"run_if raised {type(exc).__name__}: {exc}"}
            if not go:
                return "skipped", {"run_if": False}
        if node.kind in GATE_KINDS:
            return await self._gate(node)
        if node.delay is not None or node.not_before is not None:
            self._mark(node.name, "waiting", {"until": node.not_before, "delay": node.delay})
            if node.delay is not None:
                await self.ctx.sleep(node.delay)
            if node.not_before is not None:
                await self.ctx.sleep_until(datetime.fromisoformat(node.not_before))
        if node.kind == "map":
            return await self._map(node)
        try:
            self.results[node.name] = await self._activity(node, node.name, self._args(node))
        except ActivityError as exc:
            return ("timed_out" if exc.timeout_type else "failed"), {"error": str(exc)}
        except UsageError as exc:  # e.g. an upstream result that cannot be an argument
            return "failed", {"error": str(exc)}
        return "succeeded", {}

    async def _gate(self, node: NodeSpec) -> tuple[str, dict[str, Any]]:
        assert node.signal is not None
        self._mark(node.name, "waiting", {"signal": node.signal})
        value = await self.ctx.wait_signal(node.signal, timeout=node.timeout, default=_TIMED_OUT)
        if value is _TIMED_OUT:
            if node.on_timeout == "continue":
                self.results[node.name] = None
                return "succeeded", {"timed_out": True}
            return "timed_out", {"error": f"no signal {node.signal!r} within {node.timeout} s"}
        if node.kind == "approval":
            decision = value if isinstance(value, dict) else {"approved": bool(value)}
            if not decision.get("approved"):
                who = decision.get("by") or "someone"
                why = f": {decision['comment']}" if decision.get("comment") else ""
                return "failed", {"error": f"rejected by {who}{why}"}
            value = decision
        self.results[node.name] = value
        return "succeeded", {}

    async def _map(self, node: NodeSpec) -> tuple[str, dict[str, Any]]:
        assert node.over is not None
        items = self.results.get(node.over)
        if not isinstance(items, list):
            kind = type(items).__name__
            return "failed", {"error": f"map over {node.over}: needs a list, got {kind}"}
        results: list[Any] = [None] * len(items)
        outcomes: list[str] = ["not_started"] * len(items)
        reused = self.reused_items.get(node.name, {})
        gate = asyncio.Semaphore(node.max_parallel or max(1, len(items)))
        stop = False

        async def item(index: int, value: Any) -> None:
            nonlocal stop
            if str(index) in reused:  # succeeded in the run this one retries
                results[index], outcomes[index] = reused[str(index)], "succeeded"
                return
            async with gate:
                if stop:
                    return
                try:
                    results[index] = await self._activity(
                        node, f"{node.name}[{index}]", [value, *self._args(node)]
                    )
                    outcomes[index] = "succeeded"
                except ActivityError as exc:
                    outcomes[index] = "timed_out" if exc.timeout_type else "failed"
                    stop = node.map_failure == "fail_fast"

        await asyncio.gather(*(item(i, v) for i, v in enumerate(items)))
        counts = {k: outcomes.count(k) for k in ("succeeded", "failed", "timed_out", "not_started")}
        detail: dict[str, Any] = {"items": len(items), **counts}
        if reused:
            kept = {str(i): results[i] for i in range(len(items)) if str(i) in reused}
            detail.update(reused=len(kept), reused_from=self.retry_of, reused_results=kept)
        if counts["succeeded"] == len(items):
            self.results[node.name] = results
            return "succeeded", detail
        if node.map_failure == "collect":
            self.results[node.name] = results  # partial: downstream all_done nodes see it
        return "failed", detail

    def _activity(self, node: NodeSpec, label: str, args: list[Any]) -> asyncio.Future[Any]:
        overrides = {k: v for k, v in node.options.items() if k != "retry"}
        retry = node.options.get("retry")
        if isinstance(retry, RetryPolicy):
            overrides["retry"] = retry.to_json()
        overrides["node"] = label
        activity = node.definition or node.activity
        return self.ctx.schedule_activity(activity, args, overrides, node.queue)

    def _args(self, node: NodeSpec) -> list[Any]:
        def value(arg: Any) -> Any:
            if isinstance(arg, Node):
                return self.results.get(arg.name)
            if isinstance(arg, Param):
                return self.params[arg.name]
            return arg

        return [value(a) for a in node.args]

    def _mark(self, name: str, state: str, detail: dict[str, Any]) -> None:
        self.ctx.record_marker(NODE_MARKER, {"node": name, "state": state, **detail})

    def _finish(self, name: str, state: str, detail: dict[str, Any] | None) -> None:
        self.state[name] = state
        if detail is not None:
            self._mark(name, state, detail)
        future = self.finished[name]
        if not future.done():
            future.set_result(state)


__all__ = ["DagDefinition", "DagDefinitionError", "dag"]
