"""A DAG turned into the arrays the simulation works on.

Every node becomes one **column**; a map node becomes ``K`` item columns (``K``: the most
items any simulated run has) followed by a join column that ends when its items have. Each
column knows its downstream columns, its trigger rule, the pools of slots it needs (the
worker processes of its queue, its activity type's ``max_concurrent`` cap, its map's
``max_parallel``), its retry policy and its timeouts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...model.dag import GATE_KINDS, DagSpec, NodeSpec
from ...model.definitions import DEFAULT_QUEUE, DEFAULT_START_TO_CLOSE
from ...model.errors import UsageError
from ...model.retry import RetryPolicy
from ...model.trigger_rules import TRIGGER_RULES

MAP_JOIN = len(TRIGGER_RULES)
"""the rule code of a map's join column: it ends when all its items have"""
RULE_CODES = {name: i for i, name in enumerate(TRIGGER_RULES)}

TASK, GATE, ITEM, JOIN = 0, 1, 2, 3
"""column kinds: an activity, a wait for a signal (no slot), a map item, a map's join"""

TIMER_KIND = "timer"
"""a node that is a workflow's timer (see :mod:`.shapes`): it needs no slot"""

UNLIMITED_ATTEMPTS = 100
"""what ``max_attempts=0`` (retry for ever) is simulated as"""


@dataclass(frozen=True)
class Resources:
    """What a run's columns compete for: the worker processes' slots per queue, the slots
    of each capped activity type and of each map with ``max_parallel``."""

    workers: dict[str, int]
    slots: int
    caps: dict[str, int]


@dataclass
class Plan:
    """The columns of one DAG (see the module's doc), as arrays indexed by column."""

    dag: str
    nodes: list[str]
    column_names: list[str]
    node_of: np.ndarray
    kind: np.ndarray
    rule: np.ndarray
    down: np.ndarray  # columns x most downstream, padded with the column count
    indeg: np.ndarray
    fail_dag: np.ndarray
    max_attempts: np.ndarray
    initial_interval: np.ndarray
    backoff_coefficient: np.ndarray
    max_interval: np.ndarray
    jitter: np.ndarray
    start_to_close: np.ndarray
    schedule_to_close: np.ndarray
    delay: np.ndarray
    fail_fast: np.ndarray
    groups: np.ndarray  # columns x 3: the slot pool of each column's queue, cap and map
    group_slots: list[int]
    group_names: list[str]
    items: dict[str, tuple[int, int]] = field(default_factory=dict)
    """map node -> (first item column, item count K)"""

    @property
    def columns(self) -> int:
        return len(self.column_names)


def activity_options(node: NodeSpec) -> dict[str, Any]:
    """A node's effective options: its own, over its activity's, over the defaults."""
    own = node.options
    base = node.definition.options if node.definition is not None else None
    retry = own.get("retry") or (base.retry if base else RetryPolicy())
    start_to_close = own.get("start_to_close",
                             base.start_to_close if base else DEFAULT_START_TO_CLOSE)
    schedule_to_close = own.get("schedule_to_close", base.schedule_to_close if base else None)
    queue = node.queue or (base.queue if base else DEFAULT_QUEUE)
    cap = base.max_concurrent if base else None
    return {"retry": retry, "start_to_close": start_to_close,
            "schedule_to_close": schedule_to_close, "queue": queue, "cap": cap}


def _rule(node: NodeSpec) -> str:
    # "always" runs at once, but a node that takes upstream results waits for them to end
    return "all_done" if node.trigger_rule == "always" and node.arg_upstream \
        else node.trigger_rule


def build_plan(
    spec: DagSpec,
    resources: Resources,
    items: dict[str, int],
    retry: dict[str, RetryPolicy],
) -> Plan:
    """The columns of ``spec``; ``items`` gives each map node its most items, ``retry``
    replaces nodes' retry policies (a what-if)."""
    for name in items:
        if name not in spec.by_name or spec.by_name[name].kind != "map":
            raise UsageError(f"items= names {name!r}, which is not a map node of {spec.name}")
    columns: list[dict[str, Any]] = []
    first_column: dict[str, int] = {}
    last_column: dict[str, int] = {}
    item_ranges: dict[str, tuple[int, int]] = {}
    groups: dict[str, int] = {}
    group_slots: list[int] = []

    def group(name: str, slots: int) -> int:
        if name not in groups:
            groups[name] = len(group_slots)
            group_slots.append(slots)
        return groups[name]

    for index, node in enumerate(spec.nodes):
        options = activity_options(node)
        policy = retry.get(node.name, options["retry"])
        queue = str(options["queue"])
        pool = group(f"queue {queue}", resources.workers.get(queue, resources.workers.get("*", 0))
                     * resources.slots)
        cap_limit = resources.caps.get(node.activity, options["cap"])
        cap = group(f"cap {node.activity}", int(cap_limit)) if cap_limit else -1
        base = {
            "node": index,
            "rule": RULE_CODES[_rule(node)],
            "fail_dag": node.on_failure != "continue",
            "max_attempts": policy.max_attempts or UNLIMITED_ATTEMPTS,
            "initial_interval": float(policy.initial_interval),  # type: ignore[arg-type]
            "backoff_coefficient": policy.backoff_coefficient,
            "max_interval": float(policy.max_interval),  # type: ignore[arg-type]
            "jitter": policy.jitter,
            "start_to_close": options["start_to_close"] or np.inf,
            "schedule_to_close": options["schedule_to_close"] or np.inf,
            "delay": node.delay or 0.0,
            "fail_fast": node.map_failure == "fail_fast",
            "groups": (pool, cap, -1),
            "upstream": [f"{u}" for u in node.upstream],
        }
        if node.kind in GATE_KINDS or node.kind == TIMER_KIND:
            base.update(kind=GATE, groups=(-1, -1, -1), start_to_close=np.inf,
                        max_attempts=1)
            if node.timeout is not None:
                base["start_to_close"] = node.timeout
                base["fail_dag"] = base["fail_dag"] and node.on_timeout == "fail"
        if node.kind == "map":
            count = max(1, int(items.get(node.name, 1)))
            gate = (group(f"map {node.name}", node.max_parallel) if node.max_parallel
                    else -1)
            first_column[node.name] = len(columns)
            item_ranges[node.name] = (len(columns), count)
            for i in range(count):
                columns.append(base | {"name": f"{node.name}[{i}]", "kind": ITEM,
                                       "groups": (pool, cap, gate)})
            join_upstream = [f"{node.name}[{i}]" for i in range(count)]
            columns.append(base | {"name": node.name, "kind": JOIN, "rule": MAP_JOIN,
                                   "groups": (-1, -1, -1), "upstream": join_upstream})
        else:
            first_column[node.name] = len(columns)
            columns.append({"kind": TASK, "name": node.name} | base)
        last_column[node.name] = len(columns) - 1

    index_of = {c["name"]: i for i, c in enumerate(columns)}
    n = len(columns)
    downstream: list[list[int]] = [[] for _ in range(n)]
    indeg = np.zeros(n + 1, dtype=np.int64)
    for i, col in enumerate(columns):
        for up in col["upstream"]:
            source = index_of[up] if up in index_of and columns[index_of[up]]["kind"] == ITEM \
                else last_column[up]
            downstream[source].append(i)
            indeg[i] += 1
    width = max(1, max(len(d) for d in downstream))
    down = np.full((n, width), n, dtype=np.int64)
    for i, targets in enumerate(downstream):
        down[i, : len(targets)] = targets

    def array(key: str, dtype: Any = np.float64) -> np.ndarray:
        return np.array([c[key] for c in columns], dtype=dtype)

    for name, size in zip(groups, group_slots, strict=True):
        if size < 1:
            raise UsageError(f"{name}: no worker serves it (workers={resources.workers})")
    return Plan(
        dag=spec.name,
        nodes=[node.name for node in spec.nodes],
        column_names=[c["name"] for c in columns],
        node_of=array("node", np.int64),
        kind=array("kind", np.int64),
        rule=array("rule", np.int64),
        down=down,
        indeg=indeg,
        fail_dag=array("fail_dag", bool),
        max_attempts=array("max_attempts", np.int64),
        initial_interval=array("initial_interval"),
        backoff_coefficient=array("backoff_coefficient"),
        max_interval=array("max_interval"),
        jitter=array("jitter"),
        start_to_close=array("start_to_close"),
        schedule_to_close=array("schedule_to_close"),
        delay=array("delay"),
        fail_fast=array("fail_fast", bool),
        groups=np.array([c["groups"] for c in columns], dtype=np.int64),
        group_slots=group_slots,
        group_names=list(groups),
        items=item_ranges,
    )
