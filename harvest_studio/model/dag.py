"""DAGs as data: the graph an ``@hs.dag`` builder describes (nodes, edges, trigger rules and
per-node options) and its checks at definition time (the rules themselves are in
:mod:`.trigger_rules`).

A builder runs once, when the DAG is defined, with placeholders for its params: the graph
does not depend on a run's input, so it can be drawn, stored per code version and checked
before anything runs. Params and upstream results reach the activities at run time.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import serde
from .definitions import ActivityDefinition, check_priority
from .durations import Duration, optional_seconds
from .errors import UsageError
from .retry import RetryPolicy
from .trigger_rules import TRIGGER_RULES

ON_FAILURE = ("fail_dag", "continue", "retry_forever")
ON_TIMEOUT = ("fail", "continue")
GATE_KINDS = ("signal", "approval")
MAP_FAILURE = ("fail_fast", "collect")


RETRY_KEY = "$dag_retry"
"""a last start argument ``{RETRY_KEY: {"from", "nodes", "items"}}`` makes a run that
retries an earlier one: the results it names are reused, not computed again"""


def split_retry(args: Sequence[Any]) -> tuple[list[Any], dict[str, Any]]:
    """A DAG run's start arguments without the retry instructions, and those (or ``{}``)."""
    if args and isinstance(args[-1], dict) and set(args[-1]) == {RETRY_KEY}:
        reuse = args[-1][RETRY_KEY]
        return list(args[:-1]), reuse if isinstance(reuse, dict) else {}
    return list(args), {}


class DagDefinitionError(UsageError):
    """A DAG that cannot run: a cycle, an unknown upstream, a bad rule or option."""

    code = "bad_dag"


class DagParamError(UsageError):
    """A DAG run started with params that do not match the DAG's declaration."""

    code = "bad_dag_params"


@dataclass(frozen=True)
class Node:
    """A node of a DAG under construction. Pass it as an argument of another node to make
    an edge and hand over its result, or list it in ``upstream=`` for an edge alone."""

    name: str

    def __repr__(self) -> str:
        return f"<dag node {self.name}>"


@dataclass(frozen=True)
class Param:
    """A DAG param inside the builder: a placeholder for the run's value."""

    name: str

    def __repr__(self) -> str:
        return f"<dag param {self.name}>"

    def __str__(self) -> str:
        raise DagDefinitionError(
            f"param {self.name!r} has no value while the DAG is built; pass it to a task "
            "as an argument instead of formatting it"
        )


@dataclass
class NodeSpec:
    """One node: the activity it runs, its arguments (values, params, upstream results),
    its edges, its trigger rule and options."""

    name: str
    kind: str  # "task" | "map"
    activity: str
    args: list[Any]
    upstream: list[str]
    arg_upstream: list[str]
    trigger_rule: str = "all_success"
    run_if: Callable[..., Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None
    on_failure: str = "fail_dag"
    over: str | None = None
    max_parallel: int | None = None
    map_failure: str = "fail_fast"
    definition: ActivityDefinition | None = None
    """the ``@activity`` given (its own options apply), or None when given by name"""
    signal: str | None = None
    """gate nodes: the signal they wait for"""
    timeout: float | None = None
    on_timeout: str = "fail"
    delay: float | None = None
    not_before: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "activity": self.activity,
            "args": [_encode_arg(a) for a in self.args],
            "upstream": self.upstream,
            "trigger_rule": self.trigger_rule,
            "run_if": self.run_if is not None,
            "on_failure": self.on_failure,
            "over": self.over,
            "max_parallel": self.max_parallel,
            "map_failure": self.map_failure,
            "queue": self.queue,
            "signal": self.signal,
            "timeout": self.timeout,
            "on_timeout": self.on_timeout,
            "delay": self.delay,
            "not_before": self.not_before,
        }


def _encode_arg(value: Any) -> Any:
    if isinstance(value, Node):
        return {"$node": value.name}
    if isinstance(value, Param):
        return {"$param": value.name}
    return value


class Dag:
    """The builder an ``@hs.dag`` function receives: ``d.task(...)`` and ``d.map(...)`` add
    nodes and return :class:`Node` handles.

    Example::

        @hs.dag(params={"day": str})
        def nightly(d: hs.Dag, day: str) -> None:
            raw = d.task(extract, day)
            parts = d.map(transform, over=raw, max_parallel=8)
            d.task(load, parts)
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.nodes: list[NodeSpec] = []
        self._names: set[str] = set()
        self._uses: dict[str, int] = {}

    def task(
        self,
        activity: ActivityDefinition | str,
        *args: Any,
        name: str | None = None,
        upstream: Sequence[Node | str] = (),
        trigger_rule: str = "all_success",
        run_if: Callable[..., Any] | None = None,
        retry: RetryPolicy | None = None,
        start_to_close: Duration | None = None,
        schedule_to_start: Duration | None = None,
        schedule_to_close: Duration | None = None,
        heartbeat_timeout: Duration | None = None,
        queue: str | None = None,
        priority: int | None = None,
        on_failure: str = "fail_dag",
        delay: Duration | None = None,
        not_before: datetime | str | None = None,
    ) -> Node:
        """Run ``activity(*args)`` once its upstreams allow (``trigger_rule``). A
        :class:`Node` among ``args`` is an edge and its result; ``upstream=`` adds edges
        without results (nodes or node names). ``run_if(*upstream results)`` returning false
        skips the node. ``on_failure``: ``fail_dag`` (the run fails, other branches go on),
        ``continue`` (this node's failure does not fail the run) or ``retry_forever``.
        ``delay`` waits that long once the node may run; ``not_before`` (an aware datetime
        or ISO string) holds it until then; both are durable timers."""
        node = self._add(
            "task", activity, list(args), name, upstream, trigger_rule, run_if,
            _options(retry, start_to_close, schedule_to_start, schedule_to_close,
                     heartbeat_timeout, priority, on_failure),
            queue, on_failure,
        )
        spec = self.nodes[-1]
        spec.delay = optional_seconds(delay)
        spec.not_before = _moment(not_before, node.name)
        return node

    def wait_signal(
        self,
        signal: str,
        *,
        timeout: Duration | None = None,
        on_timeout: str = "fail",
        name: str | None = None,
        upstream: Sequence[Node | str] = (),
        trigger_rule: str = "all_success",
        on_failure: str = "fail_dag",
    ) -> Node:
        """A gate: once its upstreams allow, wait for the signal ``signal`` sent to the run
        (``client.signal(run, signal, payload)``); its payload is the node's result. If
        ``timeout`` passes first, ``on_timeout="fail"`` ends the node ``timed_out`` and
        ``"continue"`` lets it succeed with ``None``."""
        if not isinstance(signal, str) or not signal:
            raise DagDefinitionError(f"wait_signal needs a signal name, got {signal!r}")
        return self._gate("signal", signal, name or signal, timeout, on_timeout, upstream,
                          trigger_rule, on_failure)

    def approval(
        self,
        *,
        name: str | None = None,
        timeout: Duration | None = None,
        on_timeout: str = "fail",
        upstream: Sequence[Node | str] = (),
        trigger_rule: str = "all_success",
        on_failure: str = "fail_dag",
    ) -> Node:
        """A gate a person opens: it waits for ``client.approve(run, node)`` (or
        ``client.reject``), i.e. the signal ``approve:<node name>`` with
        ``{"approved": bool, "by": ..., "comment": ...}``. Approved: the node succeeds with
        that payload; rejected: it fails. ``timeout``/``on_timeout`` as for ``wait_signal``."""
        node_name = name or self._default_name("approval")
        return self._gate("approval", f"approve:{node_name}", node_name, timeout, on_timeout,
                          upstream, trigger_rule, on_failure)

    def _gate(
        self,
        kind: str,
        signal: str,
        name: str,
        timeout: Duration | None,
        on_timeout: str,
        upstream: Sequence[Node | str],
        trigger_rule: str,
        on_failure: str,
    ) -> Node:
        if on_timeout not in ON_TIMEOUT:
            raise DagDefinitionError(f"on_timeout must be one of {ON_TIMEOUT}, got {on_timeout!r}")
        node = self._add(kind, "", [], name, upstream, trigger_rule, None, {}, None, on_failure)
        spec = self.nodes[-1]
        spec.signal, spec.timeout, spec.on_timeout = signal, optional_seconds(timeout), on_timeout
        return node

    def map(
        self,
        activity: ActivityDefinition | str,
        *args: Any,
        over: Node,
        max_parallel: int | None = None,
        failure: str = "fail_fast",
        name: str | None = None,
        upstream: Sequence[Node | str] = (),
        trigger_rule: str = "all_success",
        run_if: Callable[..., Any] | None = None,
        retry: RetryPolicy | None = None,
        start_to_close: Duration | None = None,
        schedule_to_start: Duration | None = None,
        schedule_to_close: Duration | None = None,
        heartbeat_timeout: Duration | None = None,
        queue: str | None = None,
        priority: int | None = None,
        on_failure: str = "fail_dag",
    ) -> Node:
        """Run ``activity(item, *args)`` for each item of ``over``'s result (a list), at most
        ``max_parallel`` at once; items are nodes ``name[0]``, ``name[1]``… The map's
        result is the list of item results. ``failure``: ``fail_fast`` starts no new item
        after one fails; ``collect`` runs them all (failed items' results are ``None``)."""
        if not isinstance(over, Node):
            raise DagDefinitionError(f"map over= needs a node of this DAG, got {over!r}")
        if max_parallel is not None and (
            isinstance(max_parallel, bool) or not isinstance(max_parallel, int) or max_parallel < 1
        ):
            raise DagDefinitionError(f"max_parallel must be an int >= 1, got {max_parallel!r}")
        if failure not in MAP_FAILURE:
            raise DagDefinitionError(f"map failure must be one of {MAP_FAILURE}, got {failure!r}")
        node = self._add(
            "map", activity, [over, *args], name, upstream, trigger_rule, run_if,
            _options(retry, start_to_close, schedule_to_start, schedule_to_close,
                     heartbeat_timeout, priority, on_failure),
            queue, on_failure,
        )
        spec = self.nodes[-1]
        spec.args = list(args)  # the item comes first at run time; `over` is only the edge
        spec.over, spec.max_parallel, spec.map_failure = over.name, max_parallel, failure
        return node

    def _add(
        self,
        kind: str,
        activity: ActivityDefinition | str,
        args: list[Any],
        name: str | None,
        upstream: Sequence[Node | str],
        trigger_rule: str,
        run_if: Callable[..., Any] | None,
        options: dict[str, Any],
        queue: str | None,
        on_failure: str,
    ) -> Node:
        if isinstance(activity, ActivityDefinition):
            activity_name = activity.name
        elif isinstance(activity, str) and (activity or kind in GATE_KINDS):
            activity_name = activity
        else:
            raise DagDefinitionError(f"a DAG node needs an @activity or its name, got {activity!r}")
        node_name = name if name is not None else self._default_name(activity_name)
        if not isinstance(node_name, str) or not node_name or any(c in node_name for c in "[]"):
            raise DagDefinitionError(f"bad node name {node_name!r}: non-empty, without [ ]")
        if node_name in self._names:
            raise DagDefinitionError(f"DAG {self.name}: two nodes are called {node_name!r}")
        if trigger_rule not in TRIGGER_RULES:
            raise DagDefinitionError(
                f"node {node_name}: unknown trigger rule {trigger_rule!r}; use one of "
                f"{', '.join(TRIGGER_RULES)}"
            )
        if on_failure not in ON_FAILURE:
            raise DagDefinitionError(
                f"node {node_name}: on_failure must be one of {ON_FAILURE}, got {on_failure!r}"
            )
        if run_if is not None and not callable(run_if):
            raise DagDefinitionError(f"node {node_name}: run_if must be callable")
        arg_nodes: list[str] = []
        for value in args:
            if isinstance(value, Node) and value.name not in arg_nodes:
                arg_nodes.append(value.name)
            elif not isinstance(value, Node | Param):
                serde.check(value, what=f"argument of DAG node {node_name}")
        edges = list(arg_nodes)
        for up in upstream:
            up_name = up.name if isinstance(up, Node) else up
            if not isinstance(up_name, str) or not up_name:
                raise DagDefinitionError(f"node {node_name}: bad upstream {up!r}")
            if up_name not in edges:
                edges.append(up_name)
        if run_if is not None and not edges:
            raise DagDefinitionError(
                f"node {node_name}: run_if needs upstream nodes (it receives their results)"
            )
        self._names.add(node_name)
        self.nodes.append(
            NodeSpec(
                name=node_name,
                kind=kind,
                activity=activity_name,
                args=args,
                upstream=edges,
                arg_upstream=arg_nodes,
                trigger_rule=trigger_rule,
                run_if=run_if,
                options=options,
                queue=queue,
                on_failure=on_failure,
                definition=activity if isinstance(activity, ActivityDefinition) else None,
            )
        )
        return Node(node_name)

    def _default_name(self, activity_name: str) -> str:
        used = self._uses.get(activity_name, 0) + 1
        self._uses[activity_name] = used
        candidate = activity_name if used == 1 else f"{activity_name}#{used}"
        while candidate in self._names:
            used += 1
            self._uses[activity_name] = used
            candidate = f"{activity_name}#{used}"
        return candidate


def _moment(value: datetime | str | None, node: str) -> str | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        moment = None
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise DagDefinitionError(
            f"node {node}: not_before must be a timezone-aware datetime or ISO string, "
            f"got {value!r}"
        )
    return moment.isoformat()


def _options(
    retry: RetryPolicy | None,
    start_to_close: Duration | None,
    schedule_to_start: Duration | None,
    schedule_to_close: Duration | None,
    heartbeat_timeout: Duration | None,
    priority: int | None,
    on_failure: str,
) -> dict[str, Any]:
    check_priority(priority)
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise DagDefinitionError(f"retry must be a hs.RetryPolicy, got {retry!r}")
    if on_failure == "retry_forever":
        retry = dataclasses.replace(retry or RetryPolicy(), max_attempts=0)
    options: dict[str, Any] = {
        "start_to_close": optional_seconds(start_to_close),
        "schedule_to_start": optional_seconds(schedule_to_start),
        "schedule_to_close": optional_seconds(schedule_to_close),
        "heartbeat_timeout": optional_seconds(heartbeat_timeout),
        "priority": priority,
        "retry": retry,
    }
    return {k: v for k, v in options.items() if v is not None}


@dataclass
class DagSpec:
    """A checked DAG: its nodes in an order where every node follows its upstreams."""

    name: str
    params: dict[str, type | None]
    defaults: dict[str, Any]
    nodes: list[NodeSpec]
    sla: float | None = None
    """seconds from the run's start; a run still going then records ``dag.sla_missed``"""
    on_sla_miss: ActivityDefinition | str | None = None

    @property
    def by_name(self) -> dict[str, NodeSpec]:
        return {n.name: n for n in self.nodes}

    def downstream(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {n.name: [] for n in self.nodes}
        for node in self.nodes:
            for up in node.upstream:
                out[up].append(node.name)
        return out

    def to_json(self) -> dict[str, Any]:
        hook = self.on_sla_miss
        return {
            "name": self.name,
            "params": {k: (t.__name__ if t is not None else None) for k, t in self.params.items()},
            "nodes": [n.to_json() for n in self.nodes],
            "sla": self.sla,
            "on_sla_miss": hook.name if isinstance(hook, ActivityDefinition) else hook,
        }

    def bind(self, args: Sequence[Any]) -> dict[str, Any]:
        """The run's params from its start arguments, checked; :class:`DagParamError`."""
        names = list(self.params)
        if len(args) > len(names):
            raise DagParamError(
                f"DAG {self.name} takes {len(names)} params ({', '.join(names) or 'none'}), "
                f"got {len(args)} arguments"
            )
        values: dict[str, Any] = {}
        for index, pname in enumerate(names):
            if index < len(args):
                value = args[index]
            elif pname in self.defaults:
                value = self.defaults[pname]
            else:
                raise DagParamError(f"DAG {self.name}: param {pname!r} is required")
            expected = self.params[pname]
            if expected is not None and not _is_instance(value, expected):
                raise DagParamError(
                    f"DAG {self.name}: param {pname!r} must be {expected.__name__}, "
                    f"got {type(value).__name__} {value!r}"
                )
            values[pname] = value
        return values


def _is_instance(value: Any, expected: type) -> bool:
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def build_spec(
    name: str, builder: Callable[..., Any], params: dict[str, type | None] | None
) -> DagSpec:
    """Run ``builder(dag, *param placeholders)`` and check the graph it made."""
    signature = inspect.signature(builder)
    declared = list(signature.parameters.values())[1:]
    if params is None:
        params = {p.name: None for p in declared}
    elif [p.name for p in declared] != list(params):
        raise DagDefinitionError(
            f"DAG {name}: params {list(params)} do not match the function's parameters "
            f"{[p.name for p in declared]}"
        )
    for pname, ptype in params.items():
        if ptype is not None and not isinstance(ptype, type):
            raise DagDefinitionError(f"DAG {name}: the type of param {pname!r} must be a type")
    defaults = {
        p.name: p.default for p in declared if p.default is not inspect.Parameter.empty
    }
    dag = Dag(name)
    builder(dag, *(Param(p) for p in params))
    if not dag.nodes:
        raise DagDefinitionError(f"DAG {name} has no nodes")
    return DagSpec(name, dict(params), defaults, _in_order(name, dag.nodes))


def _in_order(dag_name: str, nodes: list[NodeSpec]) -> list[NodeSpec]:
    by_name = {n.name: n for n in nodes}
    for node in nodes:
        for up in node.upstream:
            if up not in by_name:
                raise DagDefinitionError(f"node {node.name}: unknown upstream {up!r}")
    ordered: list[NodeSpec] = []
    state: dict[str, int] = {}  # 1: on the path being walked, 2: placed

    def visit(node: NodeSpec, path: list[str]) -> None:
        mark = state.get(node.name)
        if mark == 2:
            return
        if mark == 1:
            cycle = [*path[path.index(node.name) :], node.name]
            raise DagDefinitionError(f"DAG {dag_name} has a cycle: {' -> '.join(cycle)}")
        state[node.name] = 1
        for up in node.upstream:
            visit(by_name[up], [*path, node.name])
        state[node.name] = 2
        ordered.append(node)

    for node in nodes:
        visit(node, [])
    return ordered
