"""Throwaway PostgreSQL for benchmarks, plus the counters the benchmarks report.

``start_server`` boots a private cluster through pgserver (deleted when the process
exits); ``create_database`` gives each system its own database on it. The statistics
helpers read ``pg_stat_database`` / ``pg_stat_wal`` from the maintenance database
``postgres`` so that reading a counter never adds a transaction to the database
being measured.
"""

from __future__ import annotations

import tempfile
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

_SERVERS: list[Any] = []  # keep pgserver handles alive for the life of the process


def start_server(data_dir: str | None = None) -> str:
    """Start (or reuse) a pgserver cluster and return its base URL (database ``postgres``).

    The data directory lives under /tmp: pgserver, when run as root, chmods every
    ancestor of the data directory so that its unprivileged ``pgserver`` user can
    reach it. ``cleanup_mode="delete"`` stops the server and removes the directory
    when this process exits.
    """
    import pgserver  # imported lazily: worker processes never need it

    if data_dir is None:
        data_dir = tempfile.mkdtemp(prefix="harvest-bench-pg-", dir="/tmp")
    server = pgserver.get_server(data_dir, cleanup_mode="delete")  # type: ignore[attr-defined]
    _SERVERS.append(server)
    return str(server.get_uri())


def with_database(url: str, name: str) -> str:
    """Return ``url`` pointing at database ``name`` (query string such as ?host= is kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "postgres"


def create_database(base_url: str, name: str) -> str:
    """Create database ``name`` on the server of ``base_url`` if missing; return its URL."""
    with psycopg.connect(base_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(base_url, name)


def _maintenance_url(url: str) -> str:
    return with_database(url, "postgres")


def xact_commits(url: str) -> int:
    """``pg_stat_database.xact_commit`` of the database named in ``url``.

    Read-only transactions count too. Backends flush their counters when idle
    (at most once a second) and always on exit, so callers wanting an exact delta
    should first wait for the database's sessions to end (``wait_idle``).
    """
    with psycopg.connect(_maintenance_url(url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = %s",
            (database_name(url),),
        ).fetchone()
    return int(row[0]) if row is not None else 0


def xids_assigned(url: str) -> int:
    """Transaction ids handed out so far, cluster-wide: the delta over a drain is the number
    of *write* transactions (read-only ones get no id). Only one system runs at a time."""
    with psycopg.connect(_maintenance_url(url), autocommit=True) as conn:
        row = conn.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text").fetchone()
    return int(row[0]) if row is not None else 0


def wal_stats(url: str) -> dict[str, int]:
    """Cluster-wide WAL counters from ``pg_stat_wal`` (PostgreSQL 14+); {} if unavailable."""
    try:
        with psycopg.connect(_maintenance_url(url), autocommit=True) as conn:
            row = conn.execute("SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal").fetchone()
    except psycopg.Error:
        return {}
    if row is None:
        return {}
    return {"wal_records": int(row[0]), "wal_fpi": int(row[1]), "wal_bytes": int(row[2])}


def wait_idle(url: str, timeout: float = 30.0) -> None:
    """Wait until no client session is connected to the database named in ``url``.

    A backend flushes its statistics before it leaves ``pg_stat_activity``, so after
    this returns the counters above include everything those sessions did.
    """
    deadline = time.monotonic() + timeout
    with psycopg.connect(_maintenance_url(url), autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = %s AND backend_type = 'client backend'",
                (database_name(url),),
            ).fetchone()
            if row is None or row[0] == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{row[0]} session(s) still connected to {database_name(url)}")
            time.sleep(0.02)
