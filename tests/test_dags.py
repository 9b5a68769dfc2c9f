"""DAGs: the trigger-rule table, graph checks at definition time, and DAG runs on a real
PostgreSQL with workers on threads (node states, maps, failure policies, params)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import harvest_studio as hs
from harvest_studio.model.trigger_rules import TRIGGER_RULES, decide

from .conftest import sql, wait_for

# The documented table (docs/guide.md, "Trigger rules"), written out independently of the
# code: (rule, upstream outcomes) -> what the node does. S succeeded, F failed, K skipped.
RUN, SKIP, UPF = "run", "skipped", "upstream_failed"
TABLE: dict[str, dict[str, str]] = {
    "all_success": {"SS": RUN, "SF": UPF, "SK": SKIP, "FF": UPF, "FK": UPF, "KK": SKIP},
    "all_done": {"SS": RUN, "SF": RUN, "SK": RUN, "FF": RUN, "FK": RUN, "KK": RUN},
    "all_failed": {"SS": SKIP, "SF": SKIP, "SK": SKIP, "FF": RUN, "FK": SKIP, "KK": SKIP},
    "one_success": {"SS": RUN, "SF": RUN, "SK": RUN, "FF": UPF, "FK": UPF, "KK": SKIP},
    "one_failed": {"SS": SKIP, "SF": RUN, "SK": SKIP, "FF": RUN, "FK": RUN, "KK": SKIP},
    "none_failed": {"SS": RUN, "SF": UPF, "SK": RUN, "FF": UPF, "FK": UPF, "KK": RUN},
    "none_failed_min_one_success": {
        "SS": RUN, "SF": UPF, "SK": RUN, "FF": UPF, "FK": UPF, "KK": SKIP,
    },
    "always": {"SS": RUN, "SF": RUN, "SK": RUN, "FF": RUN, "FK": RUN, "KK": RUN},
}
STATE = {"S": "succeeded", "F": "failed", "K": "skipped"}


def _key(a: str, b: str) -> str:
    order = "SFK"
    return "".join(sorted(a + b, key=order.index))


def test_the_table_covers_every_rule() -> None:
    assert set(TABLE) == set(TRIGGER_RULES)


@pytest.mark.parametrize("rule", TRIGGER_RULES)
def test_decide_matches_the_documented_table(rule: str) -> None:
    for a, b in itertools.product("SFK", repeat=2):
        assert decide(rule, [STATE[a], STATE[b]]) == TABLE[rule][_key(a, b)], (rule, a, b)
    assert decide(rule, []) == RUN  # vacuously true without upstreams
    # waiting: a rule decides early only when no later outcome can change the answer
    for a in "SFK":
        early = decide(rule, [STATE[a], None])
        if early is not None:
            assert all(TABLE[rule][_key(a, b)] == early for b in "SFK"), (rule, a)


# ---------------------------------------------------------------------------------------
# definitions
# ---------------------------------------------------------------------------------------
lock = threading.Lock()
running = {"now": 0, "peak": 0}
calls: list[str] = []


@pytest.fixture(autouse=True)
def _reset() -> None:
    running.update(now=0, peak=0)
    calls.clear()


@hs.activity(start_to_close="10s")
def pair(ctx: hs.ActivityContext, a: str, b: str) -> list[str]:
    return [a, b]


@hs.activity(start_to_close="10s", retry=hs.RetryPolicy(max_attempts=1))
def outcome(ctx: hs.ActivityContext, kind: str) -> str:
    if kind == "F":
        raise RuntimeError("asked to fail")
    return kind


@hs.activity(start_to_close="10s")
def ok(ctx: hs.ActivityContext, *args: Any) -> str:
    with lock:
        calls.append(ctx.info.activity_type)
    return "ok"


def _rules_dag(d: hs.Dag, k1: str, k2: str) -> None:
    root = d.task(pair, k1, k2)
    u1 = d.task(outcome, k1, name="u1", upstream=[root], on_failure="continue",
                run_if=lambda kinds: kinds[0] != "K")
    u2 = d.task(outcome, k2, name="u2", upstream=[root], on_failure="continue",
                run_if=lambda kinds: kinds[1] != "K")
    for rule in TRIGGER_RULES:
        d.task(ok, name=rule, upstream=[u1, u2], trigger_rule=rule, on_failure="continue")


rules = hs.dag(params={"k1": str, "k2": str}, name="rules")(_rules_dag)


@hs.activity(start_to_close="10s")
def extract(ctx: hs.ActivityContext, day: str) -> list[int]:
    return [1, 2, 3]


@hs.activity(start_to_close="10s")
def transform(ctx: hs.ActivityContext, item: int, factor: int) -> int:
    with lock:
        running["now"] += 1
        running["peak"] = max(running["peak"], running["now"])
    time.sleep(0.002)
    with lock:
        running["now"] -= 1
    if item < 0:
        raise ValueError(f"bad item {item}")
    return item * factor


@hs.activity(start_to_close="10s")
def load(ctx: hs.ActivityContext, parts: list[int]) -> int:
    return sum(parts)


@hs.activity(start_to_close="10s", retry=hs.RetryPolicy(max_attempts=3, initial_interval=0.01))
def flaky_report(ctx: hs.ActivityContext, total: Any) -> str:
    if ctx.attempt < 3:
        raise ConnectionError("try again")
    return f"report of {total}"


@hs.dag(params={"day": str})
def nightly(d: hs.Dag, day: str) -> None:
    raw = d.task(extract, day)
    parts = d.map(transform, 10, over=raw, max_parallel=2)
    loaded = d.task(load, parts)
    d.task(flaky_report, loaded, trigger_rule="all_done")
    d.task(ok, name="alert", upstream=[loaded], trigger_rule="one_failed")
    d.task(ok, loaded, name="publish", run_if=lambda rows: rows > 100)


@hs.activity(start_to_close="10s")
def numbers(ctx: hs.ActivityContext, n: int, bad: int) -> list[int]:
    return [-1 if i == bad else i for i in range(n)]


@hs.dag(params={"n": int, "bad": int, "parallel": int})
def fan_out(d: hs.Dag, n: int, bad: int, parallel: int) -> None:
    items = d.task(numbers, n, bad)
    d.map(transform, 1, over=items, max_parallel=8, name="fast")


@hs.dag(params={"bad": int})
def fail_fast(d: hs.Dag, bad: int) -> None:
    items = d.task(numbers, 10, bad)
    mapped = d.map(transform, 1, over=items, max_parallel=1, name="each")
    d.task(ok, name="after", upstream=[mapped], trigger_rule="all_done")


@hs.dag(params={"bad": int})
def collect(d: hs.Dag, bad: int) -> None:
    items = d.task(numbers, 10, bad)
    mapped = d.map(transform, 1, over=items, max_parallel=3, failure="collect", name="each")
    d.task(ok, mapped, trigger_rule="all_done", name="after", on_failure="continue")


ACTIVITIES = [pair, outcome, ok, extract, transform, load, flaky_report, numbers]


@pytest.fixture
def worker(start_worker: Callable[..., hs.Worker]) -> hs.Worker:
    return start_worker(
        workflows=[rules, nightly, fan_out, fail_fast, collect], activities=ACTIVITIES,
        tuning={"max_concurrent_tasks": 16},
    )


# ---------------------------------------------------------------------------------------
# runs
# ---------------------------------------------------------------------------------------
def test_every_rule_against_every_pair_of_outcomes(client: hs.Client, worker: hs.Worker) -> None:
    runs = {
        (a, b): client.start(rules, a, b) for a, b in itertools.product("SFK", repeat=2)
    }
    for (a, b), run in runs.items():
        try:
            run.result(timeout=30)
        except hs.WorkflowFailedError:
            pass
        nodes = client.dag_run(run.id).nodes
        assert nodes["u1"].state == STATE[a] and nodes["u2"].state == STATE[b]
        for rule in TRIGGER_RULES:
            expected = TABLE[rule][_key(a, b)]
            want = "succeeded" if expected == RUN else expected
            assert nodes[rule].state == want, (rule, a, b, nodes[rule])


def test_a_dag_run_end_to_end(client: hs.Client, worker: hs.Worker) -> None:
    run = client.start(nightly, "2026-12-01")
    result = run.result(timeout=30)
    assert result == {
        "extract": [1, 2, 3],
        "transform": [10, 20, 30],
        "load": 60,
        "flaky_report": "report of 60",
    }
    info = client.dag_run(run.id)
    assert info.status == "COMPLETED"
    states = {name: node.state for name, node in info.nodes.items()}
    assert states == {
        "extract": "succeeded",
        "transform": "succeeded",
        "transform[0]": "succeeded",
        "transform[1]": "succeeded",
        "transform[2]": "succeeded",
        "load": "succeeded",
        "flaky_report": "succeeded",
        "alert": "skipped",
        "publish": "skipped",  # run_if(60) is false
    }
    report = info.nodes["flaky_report"]
    assert report.attempts == 3 and report.result == "report of 60"
    assert report.started_at is not None and report.ended_at is not None
    assert report.started_at <= report.ended_at
    assert info.nodes["transform"].result == [10, 20, 30]
    assert info.nodes["transform"].counts["succeeded"] == 3
    assert [r.id for r in client.dag_runs(nightly)] == [run.id]


def test_map_over_a_thousand_items_respects_max_parallel(
    client: hs.Client, worker: hs.Worker
) -> None:
    run = client.start(fan_out, 1000, -1, 8)
    result = run.result(timeout=120)
    assert result["fast"] == list(range(1000))
    assert 1 < running["peak"] <= 8
    nodes = client.dag_run(run.id).nodes
    assert nodes["fast"].counts == {
        "items": 1000, "succeeded": 1000, "failed": 0, "timed_out": 0, "not_started": 0
    }
    assert sum(1 for n in nodes.values() if n.kind == "item") == 1000


def test_fail_fast_starts_no_item_after_a_failure(client: hs.Client, worker: hs.Worker) -> None:
    run = client.start(fail_fast, 3)
    with pytest.raises(hs.WorkflowFailedError, match="each failed"):
        run.result(timeout=30)
    nodes = client.dag_run(run.id).nodes
    assert nodes["each"].state == "failed"
    assert nodes["each"].counts["succeeded"] == 3 and nodes["each"].counts["not_started"] == 6
    assert nodes["each[3]"].state == "failed" and "bad item -1" in (nodes["each[3]"].error or "")
    assert "each[4]" not in nodes
    assert nodes["after"].state == "succeeded"  # all_done: the rules decide what else runs


def test_collect_runs_every_item_and_hands_on_the_partial_list(
    client: hs.Client, worker: hs.Worker
) -> None:
    run = client.start(collect, 4)
    with pytest.raises(hs.WorkflowFailedError, match="each failed"):
        run.result(timeout=30)
    nodes = client.dag_run(run.id).nodes
    assert nodes["each"].counts["succeeded"] == 9 and nodes["each"].counts["failed"] == 1
    assert nodes["each"].result == [0, 1, 2, 3, None, 5, 6, 7, 8, 9]
    assert nodes["after"].state == "succeeded"


def test_params_are_checked_before_anything_is_written(client: hs.Client, db_url: str) -> None:
    with pytest.raises(hs.DagParamError, match="param 'day' must be str, got int"):
        client.start(nightly, 20261201)
    with pytest.raises(hs.DagParamError, match="takes 1 params"):
        client.start(nightly, "a", "b")
    with pytest.raises(hs.DagParamError, match="'day' is required"):
        client.start(nightly)
    assert sql(db_url, "SELECT count(*) FROM harvest.runs") == [(0,)]


def test_the_graph_is_recorded_per_code_version(client: hs.Client, worker: hs.Worker) -> None:
    run = client.start(nightly, "2026-12-02")
    run.result(timeout=30)
    graph = sql(
        client.url,
        "SELECT details->'dag'->'nodes' FROM harvest.registry WHERE name = 'nightly'"
        " AND fingerprint = %s",
        (nightly.fingerprint,),
    )[0][0]
    assert [n["name"] for n in graph] == [
        "extract", "transform", "load", "flaky_report", "alert", "publish"
    ]
    assert graph[1]["over"] == "extract" and graph[1]["upstream"] == ["extract"]
    assert graph[5]["run_if"] is True


def test_a_plain_workflow_is_not_a_dag_run(client: hs.Client) -> None:
    @hs.workflow
    async def plain(ctx: hs.WorkflowContext) -> int:
        return 1

    run = client.start(plain)
    with pytest.raises(hs.UsageError, match="not a DAG"):
        client.dag_run(run.id)


# ---------------------------------------------------------------------------------------
# checks at definition time
# ---------------------------------------------------------------------------------------
def test_node_names_default_to_the_activity() -> None:
    @hs.dag
    def names(d: hs.Dag) -> None:
        a = d.task(ok)
        b = d.task(ok, a)
        d.task(ok, b, name="last")
        d.task(ok)

    assert [n.name for n in names.graph.nodes] == ["ok", "ok#2", "last", "ok#3"]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda d: (d.task(ok, name="a", upstream=["b"]), d.task(ok, name="b", upstream=["a"])),
         "cycle: a -> b -> a|cycle: b -> a -> b"),
        (lambda d: d.task(ok, upstream=["nowhere"]), "unknown upstream 'nowhere'"),
        (lambda d: d.task(ok, trigger_rule="sometimes"), "unknown trigger rule 'sometimes'"),
        (lambda d: d.task(ok, run_if=lambda: True), "run_if needs upstream"),
        (lambda d: (d.task(ok, name="x"), d.task(ok, name="x")), "two nodes are called 'x'"),
        (lambda d: d.task(ok, on_failure="shrug"), "on_failure must be one of"),
        (lambda d: d.map(ok, over="raw"), "map over= needs a node"),
        (lambda d: d.map(ok, over=d.task(ok), max_parallel=0), "max_parallel must be"),
        (lambda d: d.task(ok, object()), "argument of DAG node"),
        (lambda d: d.task(42), "needs an @activity or its name"),
        (lambda d: None, "has no nodes"),
    ],
)
def test_bad_graphs_are_refused_at_definition(build: Callable[..., Any], message: str) -> None:
    def builder(d: hs.Dag) -> None:
        build(d)

    with pytest.raises(hs.UsageError, match=message):
        hs.dag(builder)


def test_a_param_cannot_be_formatted_while_building() -> None:
    def builder(d: hs.Dag, day: str) -> None:
        d.task(ok, f"file-{day}.csv")

    with pytest.raises(hs.DagDefinitionError, match="pass it to a task"):
        hs.dag(builder)



# ---------------------------------------------------------------------------------------
# retrying failed nodes
# ---------------------------------------------------------------------------------------
broken = {"on": True}
ran: list[str] = []


@hs.activity(start_to_close="10s")
def source(ctx: hs.ActivityContext) -> list[int]:
    ran.append("source")
    return [0, 1, 2, 3]


@hs.activity(start_to_close="10s", retry=hs.RetryPolicy(max_attempts=1))
def square(ctx: hs.ActivityContext, item: int) -> int:
    ran.append(f"square {item}")
    if broken["on"] and item == 2:
        raise RuntimeError("item 2 is broken")
    return item * item


@hs.activity(start_to_close="10s", retry=hs.RetryPolicy(max_attempts=1))
def side(ctx: hs.ActivityContext) -> str:
    ran.append("side")
    if broken["on"]:
        raise RuntimeError("side is broken")
    return "side ok"


@hs.activity(start_to_close="10s")
def total(ctx: hs.ActivityContext, squares: list[int], extra: str) -> str:
    ran.append("total")
    return f"{sum(squares)} {extra}"


@hs.dag
def repairable(d: hs.Dag) -> None:
    items = d.task(source)
    squares = d.map(square, over=items, failure="collect")
    extra = d.task(side, upstream=[items])
    d.task(total, squares, extra)


def test_retry_failed_nodes_keeps_what_succeeded(
    client: hs.Client, start_worker: Callable[..., hs.Worker]
) -> None:
    broken["on"] = True
    ran.clear()
    start_worker(workflows=[repairable], activities=[source, square, side, total])
    first = client.start(repairable)
    with pytest.raises(hs.WorkflowFailedError, match="square failed, side failed"):
        first.result(timeout=30)
    states = {k: v.state for k, v in client.dag_run(first.run_id).nodes.items()}
    assert states["square"] == "failed" and states["side"] == "failed"
    assert states["total"] == "upstream_failed"

    broken["on"] = False
    ran.clear()
    second = client.retry_failed_nodes(first.run_id)
    assert second.result(timeout=30)["total"] == "14 side ok"
    assert sorted(ran) == ["side", "square 2", "total"]  # nothing that succeeded ran again
    info = client.dag_run(second.run_id)
    assert info.nodes["source"].reused_from == first.run_id
    assert info.nodes["source"].result == [0, 1, 2, 3]
    assert info.nodes["square"].result == [0, 1, 4, 9]
    assert info.nodes["square"].counts["reused"] == 3
    assert info.nodes["square[0]"].reused_from == first.run_id
    assert info.nodes["square[2]"].reused_from is None and info.nodes["square[2]"].attempts == 1
    assert second.workflow_id == first.workflow_id
    with pytest.raises(hs.UsageError, match="nothing to retry"):
        client.retry_failed_nodes(second.run_id)


# ---------------------------------------------------------------------------------------
# gates, delays and SLAs
# ---------------------------------------------------------------------------------------
hook_calls: list[Any] = []


@hs.activity(start_to_close="10s")
def sla_hook(ctx: hs.ActivityContext, dag_name: str, seconds: float) -> None:
    hook_calls.append((dag_name, seconds))


@hs.dag
def gated(d: hs.Dag) -> None:
    first = d.task(ok, name="first")
    go = d.wait_signal("go", upstream=[first])
    d.task(ok, go, name="after_go")
    d.wait_signal("never", timeout=0.3, on_timeout="continue", name="optional")
    sign_off = d.approval(name="sign_off", upstream=[first])
    d.task(ok, sign_off, name="shipped")


@hs.dag(sla=0.3, on_sla_miss=sla_hook)
def late(d: hs.Dag) -> None:
    d.wait_signal("finish", timeout=1.0, on_timeout="continue")


@hs.dag(sla=30, on_sla_miss=sla_hook)
def punctual(d: hs.Dag) -> None:
    d.task(ok, delay=0.4, name="held")


def _history_markers(client: hs.Client, run: hs.RunHandle, name: str) -> list[Any]:
    return [
        e.event.details for e in run.history()
        if e.event_type == "MarkerRecorded" and getattr(e.event, "name", "") == name
    ]


def test_gates_wait_for_signals_and_approvals(
    client: hs.Client, start_worker: Callable[..., hs.Worker]
) -> None:
    start_worker(workflows=[gated], activities=[ok])
    run = client.start(gated)
    wait_for(lambda: client.dag_run(run.run_id).nodes["go"].state == "waiting")
    nodes = client.dag_run(run.run_id).nodes
    assert nodes["sign_off"].state == "waiting" and nodes["after_go"].state == "pending"
    client.signal(run.run_id, "go", {"batch": 7})
    client.approve(run.run_id, "sign_off", by="ann", comment="fine")
    result = run.result(timeout=20)
    assert result["go"] == {"batch": 7}
    assert result["sign_off"] == {"approved": True, "by": "ann", "comment": "fine"}
    assert result["optional"] is None  # timed out, on_timeout="continue"
    assert {"shipped", "after_go"} <= set(result)


def test_a_rejected_approval_fails_its_node(
    client: hs.Client, start_worker: Callable[..., hs.Worker]
) -> None:
    start_worker(workflows=[gated], activities=[ok])
    run = client.start(gated)
    client.signal(run.run_id, "go", True)
    client.reject(run.run_id, "sign_off", by="bob", comment="not today")
    with pytest.raises(hs.WorkflowFailedError, match="sign_off failed, shipped upstream_failed"):
        run.result(timeout=20)
    node = client.dag_run(run.run_id).nodes["sign_off"]
    assert node.state == "failed" and node.error == "rejected by bob: not today"


def test_a_missed_sla_is_recorded_and_calls_the_hook(
    client: hs.Client, start_worker: Callable[..., hs.Worker]
) -> None:
    hook_calls.clear()
    start_worker(workflows=[late, punctual], activities=[ok, sla_hook])
    missed = client.start(late)
    missed.result(timeout=20)
    assert _history_markers(client, missed, "dag.sla_missed") == [{"dag": "late", "sla": 0.3}]
    assert hook_calls == [("late", 0.3)]
    kept = client.start(punctual)
    kept.result(timeout=20)
    assert _history_markers(client, kept, "dag.sla_missed") == []
    held = client.dag_run(kept.run_id).nodes["held"]
    assert held.started_at is not None
    assert (held.started_at - kept.describe().created_at).total_seconds() >= 0.4
    assert hook_calls == [("late", 0.3)]


@hs.activity(start_to_close="30s", heartbeat_timeout="5s")
async def slow(ctx: hs.ActivityContext) -> str:
    import asyncio

    for _ in range(100):
        await asyncio.sleep(0.05)
        ctx.heartbeat()
        if ctx.is_cancelled:
            return "stopped"
    return "slept"


@hs.dag
def markable(d: hs.Dag) -> None:
    gate = d.wait_signal("never")
    d.task(ok, gate, name="after_gate")
    d.task(slow, name="long")


def test_nodes_can_be_marked_by_hand(
    client: hs.Client, start_worker: Callable[..., hs.Worker]
) -> None:
    start_worker(workflows=[markable], activities=[ok, slow])
    run = client.start(markable)
    wait_for(lambda: client.dag_run(run.run_id).nodes["long"].state == "running")
    client.mark_node(run.run_id, "never", result={"by": "hand"}, by="ann", reason="files came")
    client.mark_node(run.run_id, "long", "skipped", by="ann", reason="not needed today")
    began = time.monotonic()
    result = run.result(timeout=20)
    assert time.monotonic() - began < 4  # the 5 s activity did not have to finish
    assert result == {"never": {"by": "hand"}, "after_gate": "ok"}
    info = client.dag_run(run.run_id)
    assert info.nodes["long"].state == "skipped"
    markers = [
        e.event.details for e in run.history()
        if e.event_type == "MarkerRecorded" and e.event.details.get("node") == "never"
        and e.event.details.get("state") == "succeeded"
    ]
    assert markers == [
        {"node": "never", "state": "succeeded", "marked_by": "ann", "reason": "files came"}
    ]
    with pytest.raises(hs.UsageError, match="cannot be marked"):
        client.mark_node(run.run_id, "after_gate")
    with pytest.raises(hs.UsageError, match="no DAG node 'nope'"):
        client.mark_node(run.run_id, "nope")


attempts_seen: list[int] = []


@hs.activity(start_to_close="10s", retry=hs.RetryPolicy(max_attempts=1, initial_interval=0.01))
def stubborn(ctx: hs.ActivityContext) -> int:
    attempts_seen.append(ctx.attempt)
    if ctx.attempt < 4:
        raise ConnectionError("not yet")
    return ctx.attempt


@hs.dag
def persistent(d: hs.Dag) -> None:
    d.task(stubborn, on_failure="retry_forever",
           retry=hs.RetryPolicy(max_attempts=2, initial_interval=0.01))


def test_retry_forever_outlasts_the_retry_policy(
    client: hs.Client, start_worker: Callable[..., hs.Worker]
) -> None:
    attempts_seen.clear()
    start_worker(workflows=[persistent], activities=[stubborn])
    run = client.start(persistent)
    assert run.result(timeout=20) == {"stubborn": 4}
    assert attempts_seen == [1, 2, 3, 4]
    assert client.dag_run(run.run_id).nodes["stubborn"].attempts == 4
