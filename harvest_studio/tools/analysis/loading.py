"""Loading run histories from PostgreSQL into DuckDB, incrementally.

PostgreSQL writes runs and events with ``COPY ... TO STDOUT (FORMAT csv)`` to temporary
files in one snapshot (``store.export_runs_and_events``); DuckDB reads them with its own
parallel CSV reader and the column types given (no DuckDB extension is needed: the
``postgres`` one would be downloaded, and nothing may be downloaded here or on Binder). A
load asks only for the events after the last seq it holds of each run, so a second load
copies what is new; the derived tables are then rebuilt from ``events``."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import psycopg

from ... import store
from ...client import Client
from ...commands.inputs import parse_time
from ...model.errors import DatabaseUnavailableError, UsageError
from ..progress import Silent, progress
from .tables import BASE_TABLES, DERIVED, EVENTS_TYPES, RUNS_TYPES, SLOTS_TYPES, VIEWS

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class LoadReport:
    """What one load copied: ``runs`` (new or changed), ``events`` (new), in ``seconds``."""

    runs: int
    events: int
    seconds: float
    namespace: str | None
    since: datetime | None

    def __str__(self) -> str:
        scope = "all namespaces" if self.namespace is None else f"namespace {self.namespace}"
        since = None if self.since is None else self.since.astimezone(UTC)
        window = "" if since is None else f" since {since:%Y-%m-%d %H:%M:%S} UTC"
        return (
            f"loaded {self.runs} new or changed run(s) and {self.events} new event(s) of "
            f"{scope}{window} in {self.seconds:.2f} s"
        )


def since_moment(since: datetime | str | float | None) -> datetime | None:
    """``since`` as an aware moment, read as ``harvest list --since`` reads it (a datetime,
    an ISO time, or an age such as ``"7d"``; a number is seconds ago)."""
    if since is None:
        return None
    return parse_time(since if isinstance(since, datetime | str) else f"{since}s")


def duckdb_module() -> Any:
    """The ``duckdb`` module, or a :class:`UsageError` saying which extra brings it."""
    try:
        import duckdb
    except ImportError:
        raise UsageError(
            "the analysis bench needs DuckDB: pip install 'harvest-studio[analysis]'"
        ) from None
    return duckdb


def open_database(file: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB database (in memory, or ``file``) with the base tables in place."""
    con: duckdb.DuckDBPyConnection = duckdb_module().connect(
        ":memory:" if file is None else str(file)
    )
    # never reach for the network: a missing extension fails at once instead
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    for statement in BASE_TABLES:
        con.execute(statement)
    if not _has_table(con, "attempts"):  # an empty database: the derived tables, empty
        for statement in DERIVED:
            con.execute(statement)
    for statement in VIEWS:
        con.execute(statement)
    return con


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchone()
    return bool(row and row[0])


def _csv(path: Path, types: dict[str, str]) -> str:
    columns = "{" + ", ".join(f"'{c.strip(chr(34))}': '{t}'" for c, t in types.items()) + "}"
    return (
        f"read_csv('{path}', columns = {columns}, header = false, quote = '\"', "
        "escape = '\"', nullstr = '', auto_detect = false)"
    )


# the copied runs that are new here, or moved on since the last load
_CHANGED_RUNS = (
    "harvest_new_runs n LEFT JOIN runs r USING (run_id)"
    " WHERE r.run_id IS NULL OR n.last_seq > r.last_seq OR n.status <> r.status"
)


def load_into(
    con: duckdb.DuckDBPyConnection,
    client: Client,
    *,
    namespace: str | None,
    since: datetime | None,
    show: bool | None = None,
) -> LoadReport:
    """Copy what is new of ``namespace`` (None: every namespace) into ``con``, with a
    progress bar (``show``: see :func:`..progress.progress`). Interrupted, it loads
    nothing."""
    began = time.perf_counter()
    # what is here already, as COPY text lines: run_id<TAB>last_seq<TAB>still open
    [(known,)] = con.execute(
        "SELECT COALESCE(string_agg(run_id || chr(9) || last_seq || chr(9)"
        " || CASE WHEN status = 'RUNNING' THEN 't' ELSE 'f' END, chr(10)) || chr(10), '')"
        " FROM runs"
    ).fetchall()
    slots_from = _slots_from(con, namespace)
    with (tempfile.TemporaryDirectory(prefix="harvest-load-") as tmp,
          progress(None, "copying histories", unit="B", unit_scale=True, show=show) as bar):
        runs_csv, events_csv = Path(tmp) / "runs.csv", Path(tmp) / "events.csv"
        slots_csv = Path(tmp) / "slots.csv"
        try:
            with (runs_csv.open("wb") as runs_out, events_csv.open("wb") as events_out,
                  slots_csv.open("wb") as slots_out):
                store.export_runs_and_events(
                    client.url,
                    namespace=namespace,
                    since=since,
                    known=known,
                    runs_out=_counted(runs_out, bar),
                    events_out=_counted(events_out, bar),
                    slots_out=slots_out,
                    slots_from=slots_from,
                )
        except psycopg.OperationalError as exc:  # nothing was loaded: the next load starts over
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DatabaseUnavailableError(f"could not load histories: {first}") from None
        bar.set_description("loading into DuckDB", refresh=False)
        con.execute("BEGIN")
        try:
            con.execute(
                "CREATE TEMP TABLE harvest_new_runs AS"
                f" SELECT * FROM {_csv(runs_csv, RUNS_TYPES)}"
            )
            changed = _count(con, _CHANGED_RUNS)
            events_before = _count(con, "events")
            con.execute(f"INSERT INTO events SELECT * FROM {_csv(events_csv, EVENTS_TYPES)}")
            events = _count(con, "events") - events_before
            if changed:
                con.execute(f"INSERT OR REPLACE INTO runs SELECT n.* FROM {_CHANGED_RUNS}")
            con.execute("INSERT OR REPLACE INTO schedule_slots SELECT * FROM"
                        f" {_csv(slots_csv, SLOTS_TYPES)}")
            if events:  # the derived tables come from events alone
                for statement in DERIVED:
                    con.execute(statement)
            seconds = time.perf_counter() - began
            con.execute(
                "INSERT INTO harvest_loads VALUES (now(), ?, ?, ?, ?, ?)",
                [namespace, since, changed, events, seconds],
            )
            con.execute("DROP TABLE harvest_new_runs")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return LoadReport(changed, events, seconds, namespace, since)


def _slots_from(con: duckdb.DuckDBPyConnection, namespace: str | None) -> datetime | None:
    """The first schedule slot a load of ``namespace`` must copy again: the first one held
    that may still change (buffered), else the last one held (None: copy them all)."""
    if namespace is None:
        return None
    row = con.execute(
        "SELECT least(min(slot) FILTER (WHERE state = 'buffered'), max(slot))"
        " FROM schedule_slots WHERE namespace = ?",
        [namespace],
    ).fetchone()
    return row[0] if row else None


def _counted(out: BinaryIO, bar: Any) -> Any:
    """``out``, moving ``bar`` by the bytes written to it when a bar is shown (the copy
    writes a chunk per row: a million rows are a million writes)."""
    return out if isinstance(bar, Silent) else _Counted(out, bar)


class _Counted:
    """A file that moves a progress bar by the bytes written to it, a megabyte at a time."""

    def __init__(self, out: BinaryIO, bar: Any) -> None:
        self.out, self.bar, self.pending = out, bar, 0

    def write(self, chunk: bytes | memoryview) -> int:
        self.pending += len(chunk)
        if self.pending >= 1 << 20:
            self.bar.update(self.pending)
            self.pending = 0
        return self.out.write(chunk)

    def flush(self) -> None:
        self.bar.update(self.pending)
        self.pending = 0
        self.out.flush()


def _count(con: duckdb.DuckDBPyConnection, source: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {source}").fetchone()
    assert row is not None
    return int(row[0])
