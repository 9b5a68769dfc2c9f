"""Benchmark (9): ``hs.simulate`` — 10,000 runs of a 50-node DAG. Target: ≤ 1 s.

The DAG: a root, seven layers of seven nodes each taking two upstreams of the layer before,
and a sink (51 nodes); log-normal durations (median 1 s, p90 3 s), one node failing 20% of
its attempts with retries, 4 slots (so nodes wait for slots). Prints each repeat and the
median, for the simulation alone and for a what-if comparison (two simulations).

    python -m benchmarks.simulate_bench [--runs 10000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import harvest_studio as hs


@hs.activity
def work(ctx: hs.ActivityContext, *upstream: object) -> int:
    return 1


@hs.dag
def layered(d: hs.Dag) -> None:
    previous = [d.task(work, name="n0")]
    number = 1
    for _layer in range(7):
        current = []
        for i in range(7):
            upstream = previous[i % len(previous): i % len(previous) + 2]
            current.append(d.task(work, name=f"n{number}", upstream=upstream))
            number += 1
        previous = current
    d.task(work, name="sink", upstream=previous)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    durations = {n.name: hs.simulation.lognormal(1.0, 3.0) for n in layered.graph.nodes}
    options = {"durations": durations, "failures": {"n3": 0.2}, "workers": 1, "slots": 4}
    hs.simulate(layered, runs=100, **options)  # imports and first-call costs
    timings, compare_timings = [], []
    for repeat in range(args.repeats):
        began = time.perf_counter()
        sim = hs.simulate(layered, runs=args.runs, seed=repeat, **options)
        timings.append(time.perf_counter() - began)
        began = time.perf_counter()
        sim.compare(workers=2)
        compare_timings.append(time.perf_counter() - began)
        print(f"repeat {repeat + 1}: simulate {timings[-1]:.3f} s, "
              f"compare {compare_timings[-1]:.3f} s, p50 {sim.makespan.p50:.2f} s")
    load = os.getloadavg()[0]
    print(f"{len(layered.graph.nodes)}-node DAG, {args.runs:,} runs: simulate median "
          f"{statistics.median(timings):.3f} s (target 1 s), compare (one more simulation) "
          f"median {statistics.median(compare_timings):.3f} s; load average {load:.2f}")


if __name__ == "__main__":
    main()
