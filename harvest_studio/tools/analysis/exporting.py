"""``harvest export --parquet DIR``: the analysis tables written as Parquet, partitioned by
day (Hive layout: ``DIR/events/day=2026-12-01/data_0.parquet``), for DuckDB, Spark or
Trino once histories outgrow one machine. The files are written into a directory beside
DIR and moved into place at the end, so DIR is whole or absent."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ...client import Client
from ...model.errors import UsageError
from ..progress import progress
from .loading import load_into, open_database, since_moment

# each table and the moment that puts a row in a day
PARTITIONS = {
    "runs": "created_at",
    "events": '"at"',
    "attempts": "scheduled_at",
    "timers": "started_at",
    "signals": '"at"',
    "dag_nodes": "ended_at",
    "schedule_slots": "slot",
}


@dataclass(frozen=True)
class ParquetExport:
    """What ``export_parquet`` wrote: rows per table, under ``directory``."""

    directory: str
    rows: dict[str, int]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"directory": self.directory, "rows": self.rows, "seconds": self.seconds}

    def __str__(self) -> str:
        counts = ", ".join(f"{table} {n}" for table, n in self.rows.items())
        return f"wrote {self.directory} in {self.seconds:.2f} s: {counts}"


def check_target(directory: str | Path) -> Path:
    """The export's directory: it must not exist yet (or be empty), and its parent must."""
    target = Path(directory).expanduser()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"export: {target} exists and is not an empty directory")
    if not target.parent.is_dir():
        raise UsageError(f"export: no directory {str(target.parent)!r}")
    return target


@contextlib.contextmanager
def staged_directory(directory: str | Path) -> Iterator[Path]:
    """A directory to write an export into, beside ``directory`` (checked with
    :func:`check_target`), moved into its place when the block ends well and removed when
    it does not: ``directory`` is whole or absent."""
    target = check_target(directory)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        yield staging
        if target.exists():
            target.rmdir()  # empty (checked above)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def export_parquet(
    client: Client,
    directory: str | Path,
    *,
    since: datetime | str | float | None = None,
    namespace: str | None = None,
    all_namespaces: bool = False,
    show: bool | None = None,
) -> ParquetExport:
    """Load the histories (as ``hs.analytics.load`` would, into memory) and write every
    analysis table to ``directory`` as Parquet, partitioned by day."""
    began = time.perf_counter()
    target = check_target(directory)
    moment = since_moment(since)
    con = open_database()
    try:
        scope = None if all_namespaces else (namespace or client.namespace)
        load_into(con, client, namespace=scope, since=moment, show=show)
        rows: dict[str, int] = {}
        with (staged_directory(target) as staging,
              progress(len(PARTITIONS), "writing Parquet", unit="table", show=show) as bar):
            for table, moment_column in PARTITIONS.items():
                bar.update(1)
                row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
                rows[table] = int(row[0]) if row else 0
                if not rows[table]:
                    continue
                out = staging / table
                con.execute(
                    f"COPY (SELECT *, CAST({moment_column} AS DATE) AS day FROM {table})"
                    f" TO '{out}' (FORMAT parquet, PARTITION_BY (day))"
                )
    finally:
        con.close()
    return ParquetExport(str(target), rows, time.perf_counter() - began)
