"""The engine's clock, ``harvest.now()``: the database's ``now()`` plus a skew that only a
time-skipping test sets (``harvest_studio.testing``). The skew is one value per process;
once skipping is switched on, every session taken from a pool is brought to it (a pool
``check``), so claims, timers, deadlines and history all read the same skewed time."""

from __future__ import annotations

import weakref
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, Connection

from ._sql import TASKS_CHANNEL

CLOCK_MOVED = "clock"
"""the payload of the notification that wakes workers after the clock jumped"""

_skew = 0.0
_skipping = False
_synced: weakref.WeakKeyDictionary[AsyncConnection[Any], float] = weakref.WeakKeyDictionary()


def enable_skipping() -> None:
    """Let this process's clock be skewed: pools made from now on bring their sessions to
    the skew. For tests only; production pools never pay for it."""
    global _skipping
    _skipping = True


def skew() -> float:
    """Seconds the engine's clock runs ahead of the database's."""
    return _skew


def set_skew(seconds: float) -> None:
    global _skew
    _skew = float(seconds)


def pool_options() -> dict[str, Any]:
    """Extra options for a connection pool: none unless time skipping is on."""
    return {"check": bring_to_skew} if _skipping else {}


_SET_SKEW = "SELECT set_config('harvest.clock_skew', %s, false)"


def _sync_session(conn: Connection[Any]) -> None:
    """Give the kit's own (sync) session the current skew."""
    conn.execute(_SET_SKEW, (f"{_skew} seconds",))


async def bring_to_skew(conn: AsyncConnection[Any]) -> None:
    """Set the session's skew, if it changed since the session last had it."""
    target = _skew  # (a jump during the round trip is caught at the next checkout)
    if _synced.get(conn) != target:
        await conn.execute(_SET_SKEW, (f"{target} seconds",))
        _synced[conn] = target


_DUE_SQL = """
SELECT
    EXISTS (SELECT 1 FROM harvest.tasks
            WHERE state = 'RUNNING' OR (state = 'PENDING' AND visible_at <= harvest.now()))
        OR EXISTS (SELECT 1 FROM harvest.inbox) AS busy,
    EXTRACT(EPOCH FROM LEAST(
        (SELECT min(fires_at) FROM harvest.timers),
        (SELECT min(visible_at) FROM harvest.tasks WHERE state = 'PENDING'),
        (SELECT min(deadline) FROM harvest.runs WHERE status = 'RUNNING'),
        (SELECT min(start_deadline) FROM harvest.tasks WHERE state = 'PENDING'),
        (SELECT min(close_deadline) FROM harvest.tasks),
        (SELECT min(fire_at) FROM harvest.schedules WHERE NOT paused)
    ) - harvest.now())::float8 AS next_in
"""


def next_due_sync(conn: Connection[Any]) -> tuple[bool, float | None]:
    """Whether anything can run now (a task claimable or running, an event in an inbox),
    and in how many seconds the next thing falls due (a timer, a retry, a deadline, a
    schedule's slot; None if nothing waits on time)."""
    _sync_session(conn)
    row = conn.execute(_DUE_SQL).fetchone()
    assert row is not None
    return bool(row[0]), None if row[1] is None else float(row[1])


def jump(conn: Connection[Any], seconds: float) -> None:
    """Move this process's clock ``seconds`` ahead and wake every worker (timers, retries
    and slots may be due now). Workers' liveness moves with it: a jump is not a silence."""
    set_skew(_skew + seconds)
    _sync_session(conn)
    conn.execute("UPDATE harvest.workers SET heartbeat_at = heartbeat_at"
                 " + make_interval(secs => %s)", (seconds,))
    conn.execute("SELECT pg_notify(%s, %s)", (TASKS_CHANNEL, CLOCK_MOVED))


async def engine_now_async(conn: AsyncConnection[Any]) -> datetime:
    """The engine's clock, read on ``conn`` (a pooled session carries the skew)."""
    cur = await conn.execute("SELECT harvest.now()")
    row = await cur.fetchone()
    assert row is not None
    moment: datetime = row[0]
    return moment


def engine_time(moment: datetime) -> datetime:
    """A moment of this process's wall clock on the engine's clock (with the skew)."""
    return moment + timedelta(seconds=_skew)


def engine_now(conn: Connection[Any]) -> Any:
    """The engine's clock as this process skews it."""
    _sync_session(conn)
    row = conn.execute("SELECT harvest.now()").fetchone()
    assert row is not None
    return row[0]
