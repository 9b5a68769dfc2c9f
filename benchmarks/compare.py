"""Benchmarks (1) and (2) side by side: Harvest Studio, DBOS and Absurd on one PostgreSQL.

The machine's speed drifts over minutes, so systems run in alternation (H D A H D A ...)
with a fresh database each round, and the ratios reported are medians of per-round ratios.

    python -m benchmarks.compare [--n 2000] [--processes 2] [--rounds 3] [--samples 200]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
from datetime import date
from types import ModuleType
from typing import Any

from . import _pg, harvest_side


def _peers(names: list[str]) -> dict[str, ModuleType]:
    systems: dict[str, ModuleType] = {"harvest": harvest_side}
    if "dbos" in names:
        from .peers import dbos_peer

        systems["dbos"] = dbos_peer
    if "absurd" in names:
        from .peers import absurd_peer

        systems["absurd"] = absurd_peer
    return systems


def _show(result: dict[str, Any]) -> str:
    keep = {k: v for k, v in result.items() if k != "config"}
    return json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in keep.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--peers", default="dbos,absurd")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    systems = _peers([p.strip() for p in args.peers.split(",") if p.strip()])
    base = _pg.start_server()
    print(f"# {date.today()} {platform.machine()} {platform.python_version()}, "
          f"n={args.n}, processes={args.processes}, rounds={args.rounds}", flush=True)
    through: dict[str, list[dict[str, Any]]] = {name: [] for name in systems}
    lat: dict[str, list[dict[str, Any]]] = {name: [] for name in systems}
    for round_no in range(args.rounds):
        for name, module in systems.items():
            url = _pg.create_database(base, f"bench_{name}_{round_no}")
            module.setup(url)
            result = module.throughput(url, args.n, args.processes)
            through[name].append(result)
            print("throughput", _show(result), flush=True)
        if args.skip_latency:
            continue
        for name, module in systems.items():
            url = _pg.create_database(base, f"lat_{name}_{round_no}")
            module.setup(url)
            result = module.latency(url, args.samples)
            lat[name].append(result)
            print("latency", _show(result), flush=True)

    print("\n## summary (medians over rounds)")
    steps = args.n * 3
    for name in systems:
        rates = [r["per_second"] for r in through[name]]
        commits = [r["commits"] / steps for r in through[name]]
        writes = [r["write_transactions"] / steps for r in through[name]]
        line = (f"{name:8s} throughput {statistics.median(rates):8.1f} wf/s   "
                f"commits/activity {statistics.median(commits):.2f}   "
                f"write transactions/activity {statistics.median(writes):.2f}")
        if lat[name]:
            p50 = statistics.median(r["p50_ms"] for r in lat[name])
            p99 = statistics.median(r["p99_ms"] for r in lat[name])
            line += f"   latency p50 {p50:.2f} ms p99 {p99:.2f} ms"
        print(line)
    for name in systems:
        if name == "harvest":
            continue
        ratios = [h["per_second"] / p["per_second"]
                  for h, p in zip(through["harvest"], through[name], strict=True)]
        line = f"harvest / {name}: throughput x{statistics.median(ratios):.2f}"
        if lat[name]:
            lratios = [p["p50_ms"] / h["p50_ms"]
                       for h, p in zip(lat["harvest"], lat[name], strict=True)]
            line += f", p50 latency x{statistics.median(lratios):.2f} faster"
        print(line)


if __name__ == "__main__":
    main()
