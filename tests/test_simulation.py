"""``hs.simulate``: exact answers on DAGs with known durations (critical path, slots, caps,
trigger rules, retries, maps, timeouts), what-ifs with common random numbers, typed errors
for bad input, and the simulation against 200 real runs of a DAG with random durations."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import numpy as np
import pytest

import harvest_studio as hs
from harvest_studio.tools.simulation import Latency


@hs.activity
def step(ctx: hs.ActivityContext, *upstream: Any) -> int:
    return 1


@hs.activity(max_concurrent=1)
def exclusive(ctx: hs.ActivityContext, *upstream: Any) -> int:
    return 1


@hs.activity
def listing(ctx: hs.ActivityContext) -> list[int]:
    return [1, 2, 3]


@hs.dag
def diamond(d: hs.Dag) -> None:
    a = d.task(step, name="a")
    b = d.task(step, a, name="b")
    c = d.task(step, a, name="c")
    d.task(step, b, c, name="e")


def test_a_diamond_with_known_durations_has_its_critical_path_and_makespan() -> None:
    sim = hs.simulate(diamond, runs=200, durations={"a": 1, "b": 2, "c": 3, "e": 1})
    assert sim.makespan.p50 == pytest.approx(5.0)
    assert sim.makespan.p99 == pytest.approx(5.0)
    assert sim.criticality == {"a": 1.0, "b": 0.0, "c": 1.0, "e": 1.0}
    assert sim.failure_rate == 0.0
    # one slot: every node waits for the one before it
    serial = hs.simulate(diamond, runs=50, durations={"a": 1, "b": 2, "c": 3, "e": 1},
                         slots=1)
    assert serial.makespan.p50 == pytest.approx(7.0)
    assert serial.queue_waits["b"] + serial.queue_waits["c"] == pytest.approx(2.0)
    assert serial.utilisation["default"] == pytest.approx(1.0)


def test_the_engines_latencies_are_added_where_they_fall() -> None:
    sim = hs.simulate(diamond, runs=10, durations={"a": 1, "b": 2, "c": 3, "e": 1},
                      latency=Latency(start=0.1, decide=0.02, claim=0.01, end=0.05))
    # start, a, decide+claim before c and before e, then the run's end
    assert sim.makespan.p50 == pytest.approx(0.1 + 0.01 + 1 + 2 * 0.03 + 3 + 1 + 0.05)


@hs.dag
def capped(d: hs.Dag) -> None:
    root = d.task(step, name="root")
    for i in range(3):
        d.task(exclusive, root, name=f"x{i}")


def test_a_capped_activity_type_runs_one_at_a_time_and_a_cap_can_be_lifted() -> None:
    durations = {"root": 1, "x0": 2, "x1": 2, "x2": 2}
    sim = hs.simulate(capped, runs=20, durations=durations)
    assert sim.makespan.p50 == pytest.approx(7.0)
    lifted = sim.compare(caps={"exclusive": 3})
    assert lifted.other.makespan.p50 == pytest.approx(3.0)
    assert lifted.difference["p50"] == pytest.approx(-4.0)


@hs.dag
def rules(d: hs.Dag) -> None:
    fast = d.task(step, name="fast")
    slow = d.task(step, name="slow")
    broken = d.task(step, name="broken", on_failure="continue",
                    retry=hs.RetryPolicy(max_attempts=1))
    d.task(step, name="first", upstream=[fast, slow], trigger_rule="one_success")
    d.task(step, name="after_broken", upstream=[broken, slow])
    d.task(step, name="cleanup", upstream=[broken, slow], trigger_rule="all_done")
    d.task(step, name="alert", upstream=[broken], trigger_rule="one_failed")


def test_trigger_rules_decide_when_their_outcome_is_known() -> None:
    durations = {"fast": 1, "slow": 5, "broken": 2, "first": 1, "after_broken": 1,
                 "cleanup": 1, "alert": 1}
    sim = hs.simulate(rules, runs=20, durations=durations, failures={"broken": 1.0})
    # the DAG ends with cleanup (after slow, 5 s, + 1); broken failed -> the run failed
    assert sim.makespan.p50 == pytest.approx(6.0)
    assert sim.failure_rate == 1.0  # after_broken is upstream_failed and fails the DAG
    assert sim.criticality["slow"] == 1.0 and sim.criticality["cleanup"] == 1.0
    # without the failure, alert is skipped and after_broken runs after slow
    ok = hs.simulate(rules, runs=20, durations=durations)
    assert ok.failure_rate == 0.0 and ok.makespan.p50 == pytest.approx(6.0)


@hs.dag
def retried(d: hs.Dag) -> None:
    d.task(step, name="flaky", retry=hs.RetryPolicy(max_attempts=3, initial_interval=1,
                                                     backoff_coefficient=2, jitter=0))


def test_retries_wait_out_their_backoff_and_can_be_changed_in_a_what_if() -> None:
    sim = hs.simulate(retried, runs=20, durations={"flaky": 1}, failures={"flaky": 1.0})
    # three attempts of 1 s with 1 s and 2 s of backoff between them, then failed
    assert sim.makespan.p50 == pytest.approx(6.0)
    assert sim.failure_rate == 1.0
    fewer = sim.compare(retry=hs.RetryPolicy(max_attempts=1))
    assert fewer.other.makespan.p50 == pytest.approx(1.0)
    half = hs.simulate(retried, runs=4000, durations={"flaky": 1}, failures={"flaky": 0.5})
    assert half.failure_rate == pytest.approx(0.125, abs=0.02)


@hs.dag
def mapped(d: hs.Dag) -> None:
    items = d.task(listing, name="split")
    each = d.map(step, over=items, max_parallel=2, name="each")
    d.task(step, each, name="load")


def test_a_map_fans_out_its_items_within_max_parallel() -> None:
    durations = {"split": 1, "each": 2, "load": 1}
    sim = hs.simulate(mapped, runs=20, durations=durations, items={"each": 5})
    assert sim.makespan.p50 == pytest.approx(1 + 3 * 2 + 1)  # 5 items, 2 at a time
    none = hs.simulate(mapped, runs=20, durations=durations, items={"each": 0})
    assert none.makespan.p50 == pytest.approx(2.0)
    varied = hs.simulate(mapped, runs=2000, durations=durations, items={"each": [1, 2, 3, 4]})
    assert 4.0 <= varied.makespan.p50 <= 6.0 and varied.makespan.max == pytest.approx(6.0)


@hs.dag
def bounded(d: hs.Dag) -> None:
    d.task(step, name="slow", start_to_close=2,
           retry=hs.RetryPolicy(max_attempts=2, initial_interval=1, jitter=0))


def test_an_attempt_past_its_start_to_close_times_out() -> None:
    sim = hs.simulate(bounded, runs=10, durations={"slow": 5})
    assert sim.makespan.p50 == pytest.approx(2 + 1 + 2) and sim.failure_rate == 1.0


def test_what_ifs_draw_the_same_numbers_for_the_same_attempts() -> None:
    durations = {"a": hs.simulation.lognormal(1, 3), "b": hs.simulation.uniform(0.5, 2),
                 "c": hs.simulation.exponential(1.0), "e": 1}
    sim = hs.simulate(diamond, runs=3000, durations=durations, seed=7)
    again = hs.simulate(diamond, runs=3000, durations=durations, seed=7)
    assert np.array_equal(sim.samples, again.samples)
    # more workers change nothing here (no node ever waits for a slot): every run is equal
    same = sim.compare(workers=4)
    assert np.array_equal(sim.samples, same.other.samples)
    # a faster c: no run gets slower, and the runs where c was critical get faster
    faster = sim.compare(faster={"c": 0.5})
    assert (faster.other.samples <= sim.samples + 1e-12).all()
    assert faster.difference["p50"] < 0
    assert "what if" in faster._repr_html_() and "<svg" in faster._repr_html_()
    assert "p50" in str(faster)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"runs": 0}, "runs must be"),
        ({"durations": {"a": 1}}, "no duration for node 'b'"),
        ({"durations": {"a": -1, "b": 1, "c": 1, "e": 1}}, "finite and >= 0"),
        ({"durations": {"zz": 1}}, "not nodes of this DAG"),
        ({"durations": "guess"}, "'history' or a mapping"),
        ({"workers": 0}, "whole number >= 1"),
        ({"workers": {"other": 1}}, "no worker serves it"),
        ({"slots": 1.5}, "slots must be"),
        ({"failures": {"a": 2}}, "from 0 to 1"),
        ({"caps": {"step": 0}}, r"caps\["),
    ],
)
def test_bad_input_is_a_one_line_usage_error(options: dict[str, Any], message: str) -> None:
    given = {"durations": {"a": 1, "b": 1, "c": 1, "e": 1}} | options
    with pytest.raises(hs.UsageError, match=message) as caught:
        hs.simulate(diamond, **given)
    assert "\n" not in str(caught.value)


def test_a_map_needs_its_item_counts_and_a_non_dag_is_refused() -> None:
    with pytest.raises(hs.UsageError, match="how many items"):
        hs.simulate(mapped, durations={"split": 1, "each": 1, "load": 1})
    with pytest.raises(hs.UsageError, match=r"@hs\.dag"):
        hs.simulate(step, durations={})
    with pytest.raises(hs.UsageError, match="cannot change"):
        hs.simulate(diamond, durations={"a": 1, "b": 1, "c": 1, "e": 1}).compare(seed=2)


# -- against reality ----------------------------------------------------------------------

@hs.activity(start_to_close="10s",
             retry=hs.RetryPolicy(max_attempts=8, initial_interval=0.1, jitter=0.2))
async def timed(ctx: hs.ActivityContext, low: float, high: float, fail: float,
                *upstream: Any) -> int:
    await asyncio.sleep(random.uniform(low, high))
    if random.random() < fail:
        raise ConnectionError("flaky")
    return 1


@hs.activity(start_to_close="10s")
async def split_up(ctx: hs.ActivityContext, *upstream: Any) -> list[int]:
    await asyncio.sleep(random.uniform(0.05, 0.15))
    return list(range(random.randint(2, 5)))


@hs.activity(start_to_close="10s")
async def per_item(ctx: hs.ActivityContext, item: int) -> int:
    await asyncio.sleep(random.uniform(0.05, 0.2))
    return item


@hs.dag
def pipeline(d: hs.Dag) -> None:
    extract = d.task(timed, 0.05, 0.25, 0.0, name="extract")
    clean = d.task(timed, 0.1, 0.4, 0.15, extract, name="clean")
    enrich = d.task(timed, 0.05, 0.5, 0.0, extract, name="enrich")
    items = d.task(split_up, extract, name="split")
    each = d.map(per_item, over=items, max_parallel=2, name="each")
    d.task(timed, 0.05, 0.15, 0.0, clean, enrich, each, name="publish")


def test_the_simulation_matches_200_real_runs(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[pipeline], activities=[timed, split_up, per_item],
                 tuning={"max_concurrent_tasks": 64})
    for _wave in range(20):  # 10 at a time: never more attempts than slots
        runs = [client.start(pipeline) for _ in range(10)]
        for run in runs:
            run.result(timeout=60)
    db = hs.analytics.load(client)
    [(p50, p90)] = db.con.execute(
        "SELECT quantile_cont(s, 0.5), quantile_cont(s, 0.9) FROM (SELECT"
        " (epoch_ms(closed_at) - epoch_ms(created_at)) / 1000.0 AS s FROM runs"
        " WHERE workflow_type = 'pipeline' AND status = 'COMPLETED')"
    ).fetchall()
    sim = hs.simulate(pipeline, runs=10_000, history=db, slots=64)
    print(f"measured p50 {p50:.3f} p90 {p90:.3f}; simulated {sim.makespan}")
    assert sim.makespan.p50 == pytest.approx(p50, rel=0.10)
    assert sim.makespan.p90 == pytest.approx(p90, rel=0.10)
    # what it drew from: clean fails 15% of its attempts (1/0.85 attempts on average), the
    # map gets 2 to 5 items
    assert sim.attempts["clean"] == pytest.approx(1 / 0.85, rel=0.1)
    assert 2 <= sim.attempts["each"] <= 5 and sim.criticality["extract"] == 1.0
    db.close()


@hs.workflow
async def checkout(ctx: hs.WorkflowContext) -> None:
    await ctx.execute_activity(timed, 0.05, 0.15, 0.0)
    await ctx.gather(ctx.execute_activity(timed, 0.05, 0.1, 0.0),
                     ctx.execute_activity(split_up))
    await ctx.sleep(0.2)
    await ctx.execute_activity(timed, 0.1, 0.2, 0.0)


def test_a_plain_workflow_is_simulated_in_its_most_common_shape(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[checkout], activities=[timed, split_up])
    for _wave in range(4):
        runs = [client.start(checkout) for _ in range(10)]
        for run in runs:
            run.result(timeout=60)
    db = hs.analytics.load(client)
    sim = hs.simulate(checkout, runs=5000, history=db)
    assert sim.note == "the shape of 40 of 40 runs (5 steps)"
    assert list(sim.criticality) == ["timed #1", "timed #2", "split_up", "sleep 0.2s",
                                     "timed #3"]
    assert sim.criticality["sleep 0.2s"] == 1.0 and sim.criticality["timed #3"] == 1.0
    [(p50,)] = db.con.execute(
        "SELECT quantile_cont(epoch_ms(closed_at) - epoch_ms(created_at), 0.5) / 1000.0"
        " FROM runs WHERE workflow_type = 'checkout'").fetchall()
    assert sim.makespan.p50 == pytest.approx(p50, rel=0.15)
    by_name = hs.simulate("checkout", runs=100, history=db)
    assert by_name.note == sim.note
    with pytest.raises(hs.UsageError, match="no finished runs of nothing"):
        hs.simulate("nothing", history=db)
    db.close()
