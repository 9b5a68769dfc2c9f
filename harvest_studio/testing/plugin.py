"""The pytest plugin of :mod:`harvest_studio.testing` (registered as ``harvest_studio``):
``harvest_postgres`` (a private PostgreSQL per test session, or the server of
``HARVEST_TEST_DATABASE_URL``) and ``harvest_env`` (a fresh, migrated database per test,
in a :class:`~harvest_studio.testing.WorkflowEnvironment`)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from . import WorkflowEnvironment


@pytest.fixture(scope="session")
def harvest_postgres() -> Iterator[str]:
    """The URL of a PostgreSQL server for the session's test databases."""
    external = os.environ.get("HARVEST_TEST_DATABASE_URL")
    if external:
        yield external
        return
    import pgserver

    root = Path(tempfile.mkdtemp(prefix="harvest-kit-", dir="/tmp"))
    server = pgserver.get_server(root / "pg", cleanup_mode="delete")  # type: ignore[attr-defined]
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def harvest_env(harvest_postgres: str) -> Iterator[WorkflowEnvironment]:
    """A :class:`WorkflowEnvironment` on a database of its own, dropped afterwards."""
    name = f"kit_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(harvest_postgres, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    params = {k: str(v) for k, v in conninfo_to_dict(harvest_postgres).items() if v is not None}
    params["dbname"] = name
    url = make_conninfo("", **params)
    try:
        env = WorkflowEnvironment(url)
        try:
            yield env
        finally:
            env.close()
    finally:
        with psycopg.connect(harvest_postgres, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
