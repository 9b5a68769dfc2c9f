"""Test fixtures: one private PostgreSQL per session, a fresh database per test.

The session starts a pgserver cluster in a temporary directory (or uses
``HARVEST_TEST_DATABASE_URL``), migrates a template database once, and gives every test
its own database cloned from that template.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

import harvest_studio as hs
from harvest_studio.store.connection import ensure_migrated, run_sync

TEMPLATE = "harvest_template"

# Short intervals so failure handling is observable in seconds.
FAST = {
    "poll_interval": 0.2,
    "lease_seconds": 2.0,
    "maintenance_interval": 0.2,
    "blocked_backoff": 0.2,
    "blocked_backoff_max": 1.0,
    "heartbeat_flush_interval": 0.2,
    "drain_timeout": 5.0,
}


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    external = os.environ.get("HARVEST_TEST_DATABASE_URL")
    if external:
        yield external
        return
    import pgserver

    root = Path(tempfile.mkdtemp(prefix="harvest-test-", dir="/tmp"))
    server = pgserver.get_server(root / "pg", cleanup_mode="delete")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def harvest_postgres(pg_server_url: str) -> str:
    """The test kit's server is the suite's own (one private PostgreSQL, not two)."""
    return pg_server_url


def _admin(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def template_url(pg_server_url: str) -> str:
    _admin(pg_server_url, f"DROP DATABASE IF EXISTS {TEMPLATE}")
    _admin(pg_server_url, f"CREATE DATABASE {TEMPLATE}")
    url = make_conninfo(pg_server_url, dbname=TEMPLATE)
    run_sync(ensure_migrated(url))
    return url


@pytest.fixture
def db_url(pg_server_url: str, template_url: str) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    _admin(pg_server_url, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    yield make_conninfo(pg_server_url, dbname=name)
    _admin(pg_server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def client(db_url: str) -> Iterator[hs.Client]:
    c = hs.connect(db_url)
    yield c
    c.close()


@pytest.fixture
def start_worker(client: hs.Client) -> Iterator[Callable[..., hs.Worker]]:
    started: list[hs.Worker] = []

    def start(**kwargs: Any) -> hs.Worker:
        options = {**FAST, **kwargs.pop("tuning", {})}
        worker = hs.Worker(client, **kwargs, **options)
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def sql(url: str, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Run one statement against a test database and return its rows."""
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement, params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def wait_for(predicate: Callable[[], bool], timeout: float = 20) -> None:
    """Poll ``predicate`` every 50 ms until it holds; fail after ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")
