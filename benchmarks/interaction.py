"""Benchmarks for talking to runs: signal round trip, and a query on a run with 1,000 events.

    python -m benchmarks.interaction [--samples 100]

Signal round trip: a run waits for a signal and ends when it gets it; the clock runs from
sending the signal until the caller is told the run ended (send, decision, completion,
notification). Query: a worker answers by replaying the run's committed history.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import harvest_studio as hs
from harvest_studio.store.connection import ensure_migrated

from . import _pg
from .peers import percentiles


@hs.activity
def noop(ctx: hs.ActivityContext, i: int) -> int:
    return i


@hs.workflow
async def waits_for_ping(ctx: hs.WorkflowContext) -> Any:
    ctx.record_marker("ready")  # makes "parked on the signal" visible in history
    return await ctx.wait_signal("ping")


@hs.workflow
async def busy(ctx: hs.WorkflowContext, steps: int) -> int:
    done = {"n": 0}
    ctx.set_query_handler("progress", lambda: done["n"])
    for i in range(steps):
        await ctx.execute_activity(noop, i)
        done["n"] += 1
    await ctx.wait_signal("finish")
    return done["n"]


async def signal_round_trips(client: hs.AsyncClient, samples: int) -> list[float]:
    out = []
    for i in range(samples + 10):
        handle = await client.start(waits_for_ping, force=True)
        while (await client.describe(handle.ref)).events < 2:  # parked on the signal
            await asyncio.sleep(0.002)
        t0 = time.perf_counter()
        await client.signal(handle.ref, "ping", i)
        await handle.result(timeout=30)
        if i >= 10:  # warm-up
            out.append((time.perf_counter() - t0) * 1000)
    return out


async def queries(client: hs.AsyncClient, samples: int) -> tuple[int, list[float]]:
    handle = await client.start(busy, 333, force=True)
    while (await client.describe(handle.ref)).events < 1000:
        await asyncio.sleep(0.05)
    events = (await client.describe(handle.ref)).events
    out = []
    for _ in range(samples):
        t0 = time.perf_counter()
        await client.query(handle.ref, "progress")
        out.append((time.perf_counter() - t0) * 1000)
    await client.signal(handle.ref, "finish")
    return events, out


async def main_async(url: str, samples: int) -> None:
    await ensure_migrated(url)
    worker = hs.Worker(url=url, workflows=[waits_for_ping, busy], activities=[noop])
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    async with hs.AsyncClient(url) as client:
        while not worker._serving:
            await asyncio.sleep(0.01)
        trips = percentiles(await signal_round_trips(client, samples))
        print(f"signal round trip ({samples} samples): p50 {trips['p50_ms']:.2f} ms,"
              f" p95 {trips['p95_ms']:.2f} ms, p99 {trips['p99_ms']:.2f} ms")
        events, times = await queries(client, samples)
        q = percentiles(times)
        print(f"query on a run with {events} events ({samples} samples): p50 {q['p50_ms']:.2f}"
              f" ms, p95 {q['p95_ms']:.2f} ms")
    stop.set()
    await task


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    url = _pg.create_database(_pg.start_server(), "bench_interaction")
    asyncio.run(main_async(url, args.samples))


if __name__ == "__main__":
    main()
