"""Smoke run of both peers on a throwaway server: ``python -m benchmarks.peers --n 200``."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from benchmarks import _pg


def _line(result: dict[str, Any]) -> str:
    shown = {k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}
    return json.dumps(shown)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="workflows for the throughput run")
    parser.add_argument("--processes", type=int, default=2, help="worker processes")
    parser.add_argument("--samples", type=int, default=50, help="latency samples")
    parser.add_argument(
        "--systems", default="dbos,absurd", help="comma-separated subset of: dbos,absurd"
    )
    parser.add_argument("--data-dir", default=None, help="pgserver data dir (default: /tmp/...)")
    args = parser.parse_args(argv)
    logging.getLogger("pgserver").setLevel(logging.WARNING)

    base_url = _pg.start_server(args.data_dir)
    print(f"server: {base_url}", flush=True)
    for system in [s.strip() for s in args.systems.split(",") if s.strip()]:
        if system == "dbos":
            from benchmarks.peers import dbos_peer as peer
        elif system == "absurd":
            from benchmarks.peers import absurd_peer as peer  # type: ignore[no-redef]
        else:
            parser.error(f"unknown system {system!r}")
        db_url = _pg.create_database(base_url, f"bench_{system}")
        peer.setup(db_url)
        print(_line(peer.throughput(db_url, args.n, args.processes)), flush=True)
        print(_line(peer.latency(db_url, args.samples)), flush=True)


if __name__ == "__main__":
    main()
