"""The analysis bench: run histories loaded into DuckDB for SQL (``HistoryDB``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ...client import Client
from .loading import LoadReport, duckdb_module, load_into, open_database, since_moment
from .querying import QueryResult, SqlError, bind
from .tables import TABLES

if TYPE_CHECKING:
    import duckdb


class HistoryDB:
    """Run histories in a DuckDB database (in memory, or ``file``): the tables ``runs``,
    ``events``, ``attempts``, ``timers``, ``signals`` and ``dag_nodes`` (docs/analysis.md).

    >>> db = hs.analytics.load(client, since="7d")             # doctest: +SKIP
    >>> db.sql("SELECT activity_type, quantile_cont(run_ms, 0.95) FROM attempts GROUP BY 1")
    ... # doctest: +SKIP
    >>> db.load()                                              # doctest: +SKIP
    ... # a second load copies only what is new
    """

    latest: ClassVar[HistoryDB | None] = None
    """the database of this process's last load (what ``hs.simulate`` reads by default)"""

    def __init__(self, client: Client, *, file: str | Path | None = None) -> None:
        self.client = client
        self.file = None if file is None else Path(file)
        self.con: duckdb.DuckDBPyConnection = open_database(self.file)
        self.last: LoadReport | None = None

    def load(
        self,
        *,
        since: datetime | str | float | None = None,
        namespace: str | None = None,
        all_namespaces: bool = False,
        progress: bool | None = None,
    ) -> LoadReport:
        """Copy what is new since the last load: runs of the client's namespace (or
        ``namespace``, or every one with ``all_namespaces``) created, open or closed since
        ``since`` (a datetime, an ISO time, or a duration back from now such as ``"7d"``),
        and their events after those already here. A progress bar shows after half a
        second where someone watches (``progress=False``: never); interrupted, a load
        loads nothing."""
        scope = None if all_namespaces else (namespace or self.client.namespace)
        self.last = load_into(self.con, self.client, namespace=scope,
                              since=since_moment(since), show=progress)
        HistoryDB.latest = self
        return self.last

    def sql(self, query: str, params: Mapping[str, Any] | None = None) -> QueryResult:
        """Run DuckDB SQL over the loaded tables; ``:name`` and ``{name}`` take their values
        from ``params``. Errors are :class:`SqlError` with DuckDB's one-line message."""
        text, values = bind(query, params or {})
        try:
            cur = self.con.execute(text, values or None)
            rows = cur.fetchall() if cur.description else []
        except duckdb_module().Error as exc:
            raise SqlError(str(exc).splitlines()[0]) from None
        columns = [d[0] for d in cur.description or []]
        return QueryResult(columns, rows)

    def lint(self) -> Any:
        """The history rules of ``harvest lint`` (HIS001-HIS004) over the loaded runs: a
        ``LintReport`` whose findings name a run and an event."""
        from ..lint import LintReport
        from ..lint.history import check_history

        [(runs,)] = self.con.execute("SELECT count(*) FROM runs").fetchall()
        report = LintReport(files=[], findings=check_history(self.con), workflows=0)
        report.runs = int(runs)
        return report

    def profile(self, workflow_type: str, *, limit: int | None = None) -> Any:
        """Where the time of the loaded, finished runs of ``workflow_type`` went: a
        ``TypeProfile`` with the duration distribution (``p50``, ``p90``, ``p99``), the
        steps most often on the critical path, and the mean time by kind."""
        from .profiles import profile_type

        return profile_type(self.con, workflow_type, limit=limit)

    def tables(self) -> dict[str, list[str]]:
        """The tables and views, each with its columns (what completion offers)."""
        found: dict[str, list[str]] = {}
        for table, column in self.con.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
        ).fetchall():
            found.setdefault(table, []).append(column)
        return found

    def close(self) -> None:
        self.con.close()

    def __repr__(self) -> str:
        where = "memory" if self.file is None else str(self.file)
        present = self.tables()  # read once, not once per table
        counts = ", ".join(
            f"{t} {self.con.execute(f'SELECT count(*) FROM {t}').fetchone()[0]}"  # type: ignore[index]
            for t in TABLES
            if t in present
        )
        return f"<HistoryDB in {where}: {counts}>"


def load(
    client: Client | None = None,
    *,
    since: datetime | str | float | None = None,
    file: str | Path | None = None,
    namespace: str | None = None,
    all_namespaces: bool = False,
    into: HistoryDB | None = None,
    progress: bool | None = None,
) -> HistoryDB:
    """Load run histories into DuckDB and return the database; ``into`` loads what is new
    into one loaded before. ``client`` defaults to ``hs.connect()``."""
    from ...client import connect

    db = into or HistoryDB(client or connect(), file=file)
    db.load(since=since, namespace=namespace, all_namespaces=all_namespaces, progress=progress)
    return db


__all__ = ["HistoryDB", "LoadReport", "QueryResult", "SqlError", "load"]
