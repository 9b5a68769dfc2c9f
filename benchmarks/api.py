"""The HTTP API under load: ``harvest serve`` (one uvicorn process) on a private Postgres.

    python -m benchmarks.api [--clients 50] [--seconds 10] [--subscribers 200]

1. describe and list: ``--clients`` concurrent clients, each looping over its requests
   for ``--seconds``. Half call ``GET /api/v1/runs/{ref}`` (a random run of 1,000) and half
   ``GET /api/v1/runs?limit=100``. Reported: requests per second and p50/p99 latency of each,
   every request authenticated with a bearer token as in production.
2. SSE fan-out: ``--subscribers`` clients follow one busy run's event stream
   (``GET /api/v1/runs/{ref}/events``) while a worker process drives it through 100
   activities. Reported: the delay from an event's commit (its ``at``) to its receipt by each
   subscriber (p50/p99 over every event and subscriber), and that every subscriber got every
   event once, in order.

No peer is run: neither DBOS nor Absurd serves an HTTP API over its tables to compare with
(DBOS's admin server has no run listing or history; Absurd has none).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

import harvest_studio as hs
from harvest_studio.store.connection import ensure_migrated

from . import _pg
from .peers import percentiles

ROOT = Path(__file__).resolve().parent.parent


@hs.activity
def step(ctx: hs.ActivityContext, i: int) -> int:
    time.sleep(0.01)
    return i


@hs.workflow
async def busy(ctx: hs.WorkflowContext, steps: int) -> int:
    for i in range(steps):
        await ctx.execute_activity(step, i)
    return steps


def _worker_main(url: str, stop: Any) -> None:
    async def main() -> None:
        done = asyncio.Event()
        worker = hs.Worker(url=url, workflows=[busy], activities=[step])
        watcher = asyncio.get_running_loop().run_in_executor(None, stop.wait)
        watcher.add_done_callback(lambda _: done.set())
        await worker.run(done)

    asyncio.run(main())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(url: str) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "harvest_studio", "--database-url", url, "serve", "--port",
         str(port), "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("harvest serve did not come up")


async def _load(base: str, token: str, refs: list[str], clients: int, seconds: float
                ) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"describe": [], "list": []}
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits,
                                 timeout=30) as http:
        end = time.perf_counter() + seconds

        async def one(n: int) -> None:
            kind = "describe" if n % 2 == 0 else "list"
            rng = random.Random(n)
            while time.perf_counter() < end:
                path = (f"/api/v1/runs/{rng.choice(refs)}" if kind == "describe"
                        else "/api/v1/runs?limit=100")
                t0 = time.perf_counter()
                response = await http.get(path)
                assert response.status_code == 200, response.text
                times[kind].append((time.perf_counter() - t0) * 1000)

        await asyncio.gather(*(one(n) for n in range(clients)))
    return times


async def _fan_out(base: str, token: str, client: hs.AsyncClient, subscribers: int
                   ) -> tuple[list[float], int, int]:
    handle = await client.start(busy, 100)
    delays: list[float] = []
    counts: list[int] = []
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=subscribers + 5)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits,
                                 timeout=120) as http:

        async def follow() -> None:
            seqs: list[int] = []
            async with http.stream("GET", f"/api/v1/runs/{handle.run_id}/events") as r:
                assert r.status_code == 200
                async for line in r.aiter_lines():
                    if line.startswith("data: ") and '"seq"' in line:
                        event = json.loads(line[6:])
                        seqs.append(event["seq"])
                        at = datetime.fromisoformat(event["at"]).timestamp()
                        delays.append((time.time() - at) * 1000)
            assert seqs == list(range(1, len(seqs) + 1)), "out of order or repeated"
            counts.append(len(seqs))

        await asyncio.gather(*(follow() for _ in range(subscribers)))
    info = await client.describe(handle.run_id)
    return delays, min(counts), info.events


async def main_async(url: str, clients: int, seconds: float, subscribers: int) -> None:
    await ensure_migrated(url)
    async with hs.AsyncClient(url) as client:
        refs = []
        for i in range(1000):
            handle = await client.start("nothing", i, force=True, id=f"seed-{i}")
            refs.append(handle.workflow_id)
        token = (await client.create_token("bench", "read")).secret
        process, base = _serve(url)
        stop = multiprocessing.Event()
        worker = multiprocessing.Process(target=_worker_main, args=(url, stop))
        worker.start()
        try:
            await _load(base, token, refs, clients, 2.0)  # warm-up
            times = await _load(base, token, refs, clients, seconds)
            for kind, samples in times.items():
                p = percentiles(samples)
                print(f"{kind:8s} {len(samples) / seconds:7.1f} req/s  p50 {p['p50_ms']:.2f} ms"
                      f"  p99 {p['p99_ms']:.2f} ms  ({clients // 2} clients)")
            total = sum(len(s) for s in times.values()) / seconds
            print(f"together {total:7.1f} req/s with {clients} concurrent clients")
            delays, fewest, events = await _fan_out(base, token, client, subscribers)
            p = percentiles(delays)
            print(f"SSE fan-out: {subscribers} subscribers of one run with {events} events: "
                  f"each got {fewest}+ events in order; commit-to-receipt p50 "
                  f"{p['p50_ms']:.1f} ms, p99 {p['p99_ms']:.1f} ms")
        finally:
            stop.set()
            worker.join(30)
            process.send_signal(signal.SIGINT)
            process.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--subscribers", type=int, default=200)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    url = _pg.create_database(_pg.start_server(), "bench_api")
    asyncio.run(main_async(url, args.clients, args.seconds, args.subscribers))


if __name__ == "__main__":
    main()
