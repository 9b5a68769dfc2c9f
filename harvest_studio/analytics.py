"""``hs.analytics``: run histories loaded into DuckDB for SQL (the ``analysis`` extra).

>>> db = hs.analytics.load(client, since="7d")      # doctest: +SKIP
>>> db.sql("SELECT status, count(*) FROM runs GROUP BY 1")   # doctest: +SKIP
"""

from __future__ import annotations

from .tools.analysis import HistoryDB, LoadReport, QueryResult, SqlError, load

__all__ = ["HistoryDB", "LoadReport", "QueryResult", "SqlError", "load"]
