"""Client operations through database faults: retried as a whole where that is safe, and
otherwise (or once retries run out) a typed :class:`DatabaseUnavailableError`, never a raw
driver error."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import psycopg
from psycopg_pool import PoolTimeout

from .. import store
from ..model.errors import DatabaseError, DatabaseUnavailableError

P = ParamSpec("P")
T = TypeVar("T")

PATIENCE = 15.0  # seconds of retrying: longer than a Postgres restart or failover blip
_inside = contextvars.ContextVar("harvest_client_retrying", default=False)


def _pause(failures: int) -> float:
    return float(min(0.1 * 2**failures, 5.0))


def retried(
    idempotent: bool | Callable[..., bool],
) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Run the decorated operation again after a transient database failure.

    A transaction the server rolled back (deadlock, serialization failure) is always run
    again; after a lost connection only an ``idempotent`` operation is (a bool, or a
    predicate of the call's arguments, e.g. "an idempotency key was given"). Operations
    called inside another retried one do not retry on their own: the outer one does.
    """

    def decorate(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(fn)
        async def call(*args: P.args, **kwargs: P.kwargs) -> T:
            if _inside.get():
                return await fn(*args, **kwargs)
            safe_to_repeat = idempotent(*args, **kwargs) if callable(idempotent) else idempotent
            token = _inside.set(True)
            loop = asyncio.get_running_loop()
            give_up = loop.time() + PATIENCE
            failures = 0
            try:
                while True:
                    try:
                        return await fn(*args, **kwargs)
                    except psycopg.Error as exc:
                        if not store.is_transient(exc):
                            raise _refused(fn.__name__, exc) from exc
                        # rolled back, or never sent (no connection came): nothing happened
                        nothing_done = store.rolled_back(exc) or isinstance(exc, PoolTimeout)
                        again = nothing_done or safe_to_repeat
                        if not again or loop.time() >= give_up:
                            raise _unavailable(fn.__name__, exc, again) from exc
                        await asyncio.sleep(_pause(failures))
                        failures += 1
            finally:
                _inside.reset(token)

        return call

    return decorate


def _unavailable(operation: str, exc: BaseException, retried_out: bool) -> Exception:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if retried_out:
        return DatabaseUnavailableError(
            f"{operation}: the database is unavailable ({reason}); gave up after retrying for"
            f" {PATIENCE:.0f} s"
        )
    return DatabaseUnavailableError(
        f"{operation}: the database connection was lost ({reason}); the operation may or may "
        "not have taken effect (give it an id or idempotency key to make it safe to repeat)"
    )


def _refused(operation: str, exc: psycopg.Error) -> Exception:
    """A database error no retry cures (a value the server will not take, say), typed."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DatabaseError(f"{operation}: the database refused it ({reason})")


def has(key: str) -> Callable[..., bool]:
    """A predicate for :func:`retried`: the call passed a non-empty ``key`` argument."""

    def check(*args: Any, **kwargs: Any) -> bool:
        return kwargs.get(key) is not None

    return check
