"""Start -> result latency of a one-local-activity workflow (target: p50 <= 3 ms across
processes), beside the same workflow with a queued activity and DBOS's one-step workflow
(whose steps, like local activities, run inside the workflow's own process).

Variants alternate round by round (L Q D L Q D ...), each on a fresh database, one run at a
time: the client in this process, the worker in another.

    python -m benchmarks.local_activity [--rounds 3] [--samples 300] [--peers dbos]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
from collections.abc import Callable
from datetime import date
from typing import Any

from . import _pg, harvest_side
from .harvest_app import one_local_step, one_step


def _variants(peers: list[str]) -> dict[str, Callable[[str, int], dict[str, Any]]]:
    variants: dict[str, Callable[[str, int], dict[str, Any]]] = {
        "harvest local": lambda url, n: harvest_side.latency(url, n, one_local_step),
        "harvest queued": lambda url, n: harvest_side.latency(url, n, one_step),
    }
    if "dbos" in peers:
        from .peers import dbos_peer

        def dbos(url: str, n: int) -> dict[str, Any]:
            dbos_peer.setup(url)
            return dbos_peer.latency(url, n)

        variants["dbos step"] = dbos
    return variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--peers", default="dbos")
    args = parser.parse_args()
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    variants = _variants([p.strip() for p in args.peers.split(",") if p.strip()])
    base = _pg.start_server()
    print(f"# {date.today()} {platform.machine()} {platform.python_version()}, "
          f"rounds={args.rounds}, samples={args.samples}, load {os.getloadavg()[0]:.2f}",
          flush=True)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    for round_no in range(args.rounds):
        for index, (name, measure) in enumerate(variants.items()):
            url = _pg.create_database(base, f"local_{index}_{round_no}")
            result = measure(url, args.samples)
            results[name].append(result)
            print(f"{name:15s} p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms",
                  flush=True)
    print("\n## summary (medians over rounds)")
    local = results["harvest local"]
    for name, runs in results.items():
        p50 = statistics.median(r["p50_ms"] for r in runs)
        p99 = statistics.median(r["p99_ms"] for r in runs)
        line = f"{name:15s} p50 {p50:.2f} ms  p99 {p99:.2f} ms"
        if name != "harvest local":
            ratio = statistics.median(
                r["p50_ms"] / h["p50_ms"] for h, r in zip(local, runs, strict=True))
            line += f"   local is x{ratio:.2f} faster at p50"
        print(line)
    print(f"# load {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
