"""Archives of purged runs: each batch ``harvest purge`` is about to delete is written to
disk first, durably (flushed and fsync'd), as JSONL (one run per line: ``{"run", "events"}``,
the run's whole row and its whole history) or as Parquet (one row per run; the run and
its events as JSON text columns, through DuckDB from the ``analysis`` extra)."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..model.errors import UsageError

ARCHIVE_FORMATS = ("jsonl", "parquet")


class RunArchive:
    """A directory receiving purge batches; ``files`` lists what it wrote."""

    def __init__(self, directory: str | os.PathLike[str], fmt: str = "jsonl") -> None:
        if fmt not in ARCHIVE_FORMATS:
            raise UsageError(f"unknown archive format {fmt!r}; use one of {ARCHIVE_FORMATS}")
        if fmt == "parquet":
            try:
                import duckdb  # noqa: F401
            except ImportError:
                raise UsageError(
                    "Parquet archives need DuckDB: pip install 'harvest-studio[analysis]'"
                ) from None
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot use {str(self.directory)!r} for the archive: "
                             f"{exc.strerror or exc}") from None
        self.format = fmt
        # unique per archive: two purges into one directory never write the same file
        self.stamp = (datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-"
                      + uuid.uuid4().hex[:8])
        self.files: list[Path] = []

    async def __call__(self, batch: list[dict[str, Any]]) -> None:
        n = len(self.files) + 1
        jsonl = self.directory / f"harvest-runs-{self.stamp}-{n:05d}.jsonl"
        with jsonl.open("x", encoding="utf-8") as out:  # never over another archive
            for item in batch:
                out.write(json.dumps({"run": item["run"], "events": item["events"]},
                                     ensure_ascii=False, default=str))
                out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        if self.format == "jsonl":
            self.files.append(jsonl)
            return
        target = jsonl.with_suffix(".parquet")
        _jsonl_to_parquet(jsonl, target)
        jsonl.unlink()
        self.files.append(target)


def _jsonl_to_parquet(source: Path, target: Path) -> None:
    import duckdb

    with duckdb.connect() as db:
        db.execute(
            "COPY (SELECT run->>'run_id' AS run_id, run->>'namespace' AS namespace,"
            " run->>'workflow_id' AS workflow_id, run->>'workflow_type' AS workflow_type,"
            " run->>'status' AS status, CAST(run->>'created_at' AS TIMESTAMPTZ) AS created_at,"
            " CAST(run->>'closed_at' AS TIMESTAMPTZ) AS closed_at,"
            " CAST(run AS VARCHAR) AS run, CAST(events AS VARCHAR) AS events"
            " FROM read_json(?, format = 'newline_delimited',"
            "                columns = {'run': 'JSON', 'events': 'JSON'}))"
            f" TO '{_quoted(target)}' (FORMAT parquet)",
            [str(source)],
        )
    with target.open("rb") as written:
        os.fsync(written.fileno())


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
