"""Where the database is, and getting it ready.

With ``HARVEST_DATABASE_URL`` set, that database is used. Otherwise the project gets a
private PostgreSQL from the ``pgserver`` package, with its data under ``.harvest/pgdata`` in
the project directory (the nearest ancestor with a ``pyproject.toml`` or ``.git``, else the
current directory; ``HARVEST_HOME`` overrides). The server keeps running after the process
exits so every process of the project shares it; a second process finds it running and
reuses it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import psycopg

from ..model.errors import DatabaseUnavailableError, UsageError
from .schema import Migration, applied_migrations, available_migrations, migrate

ENV_URL = "HARVEST_DATABASE_URL"
ENV_HOME = "HARVEST_HOME"

_migrated: set[str] = set()
_migrated_lock = threading.Lock()


def project_dir(start: Path | None = None) -> Path:
    home = os.environ.get(ENV_HOME)
    if home:
        return Path(home).expanduser().resolve()
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "pyproject.toml").exists() or (candidate / ".git").exists():
            return candidate
    return here


def embedded_data_dir(start: Path | None = None) -> Path:
    """Where the embedded server of the project holding ``start`` (default: the current
    directory) keeps its data."""
    return project_dir(start) / ".harvest" / "pgdata"


def embedded_url(data_dir: Path | None = None) -> str:
    """Start (or find running) the project's private PostgreSQL and return its URL."""
    path = data_dir or embedded_data_dir()
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # pgserver's platformdirs warns when XDG_RUNTIME_DIR is unset (containers, Binder):
        # nothing a user can act on, and it would land in a notebook's first cell
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver  # heavy import: only when the embedded default is used

        server = pgserver.get_server(path, cleanup_mode=None)  # type: ignore[attr-defined]
        return str(server.get_uri())


def stop_embedded(data_dir: Path | None = None, timeout: float = 30.0) -> int | None:
    """Stop the project's embedded PostgreSQL (a fast shutdown: sessions are closed, work
    committed is kept); returns its pid, or None if it was not running. The next command
    that needs it starts it again."""
    path = data_dir or embedded_data_dir()
    try:
        pid = int((path / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    import psutil  # pgserver's own dependency

    try:  # a pid file left by a crash may name an unrelated process now
        if not psutil.Process(pid).name().startswith("postgres"):
            return None
        os.kill(pid, signal.SIGINT)  # the postmaster's "fast" shutdown
    except (ProcessLookupError, psutil.NoSuchProcess):
        return None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        time.sleep(0.05)
    raise DatabaseUnavailableError(f"the embedded server (pid {pid}) did not stop in {timeout:g}s")


def database_url(explicit: str | None = None, *, start: Path | None = None) -> str:
    """The URL to use: ``explicit``, else ``HARVEST_DATABASE_URL``, else the embedded server
    of the project holding ``start`` (default: the current directory)."""
    if explicit:
        return _checked(explicit, "the database URL")
    from_env = os.environ.get(ENV_URL)
    if from_env:
        return _checked(from_env, ENV_URL)
    return embedded_url(embedded_data_dir(start))


def _checked(url: str, what: str) -> str:
    """``url`` if PostgreSQL can read it (a URL or a key=value conninfo); else a usage
    error naming the problem (not the text: it may hold a password)."""
    try:
        psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise UsageError(f"{what} is not a PostgreSQL URL or conninfo: {exc}") from None
    return url


def describe_url(url: str) -> str:
    """A URL safe to print (no password)."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparseable url>"
    host = info.get("host") or "localhost"
    return f"postgresql://{info.get('user', '')}@{host}/{info.get('dbname', '')}"


async def ensure_migrated(url: str) -> list[Migration]:
    """Apply pending migrations once per process and URL."""
    with _migrated_lock:
        if url in _migrated:
            return []
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    try:
        applied = await migrate(conn)
    finally:
        await conn.close()
    with _migrated_lock:
        _migrated.add(url)
    return applied


async def migration_status(url: str) -> dict[str, Any]:
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    try:
        done = await applied_migrations(conn)
    finally:
        await conn.close()
    known = available_migrations()
    return {
        "applied": [
            {"version": m.version, "name": m.name, "applied_at": done[m.version].isoformat()}
            for m in known
            if m.version in done
        ],
        "pending": [{"version": m.version, "name": m.name} for m in known if m.version not in done],
    }


def run_sync(coro: Any) -> Any:
    """Run a coroutine from sync code that has no running loop (CLI, scripts)."""
    return asyncio.run(coro)
