"""The audit trail seen from the client: who is calling (:class:`Caller`), the
:func:`audited` decorator that gives every mutating operation exactly one audit row, and
reading the trail back (:class:`AuditRecord`)."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import getpass
import hashlib
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from .. import store
from ..model.errors import UsageError
from ..model.limits import check_text

P = ParamSpec("P")
T = TypeVar("T")

FRONT_ENDS = ("python", "cli", "magics", "api", "ui", "lab")
_log = logging.getLogger("harvest_studio.audit")
_DETAIL_LIMIT = 500


@dataclass(frozen=True)
class Caller:
    """Who a mutation is recorded for: ``actor`` (an OS user, or ``token:NAME`` through the
    API), the ``front_end`` it came through, and the request's id when there is one."""

    actor: str
    front_end: str = "python"
    request_id: str | None = None


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (a container without passwd entry)
        return "unknown"


def check_caller(caller: Caller) -> Caller:
    check_text("an actor", caller.actor, 200)
    if caller.front_end not in FRONT_ENDS:
        raise UsageError(f"unknown front end {caller.front_end!r}; use one of {FRONT_ENDS}")
    return caller


_acting: contextvars.ContextVar[Caller | None] = contextvars.ContextVar(
    "harvest_acting_as", default=None
)
_recording = contextvars.ContextVar("harvest_audit_recording", default=False)


@contextlib.contextmanager
def acting_as(caller: Caller) -> Iterator[None]:
    """Record the mutations made inside the block for ``caller`` instead of the client's
    own caller (a server shares one client among the requests of many tokens)."""
    token = _acting.set(check_caller(caller))
    try:
        yield
    finally:
        _acting.reset(token)


def current_caller(default: Caller) -> Caller:
    """The caller mutations are recorded for now: the one of an enclosing
    :func:`acting_as` block, else ``default`` (the client's own)."""
    return _acting.get() or default


def args_digest(values: dict[str, Any]) -> str:
    """A SHA-256 of the call's arguments in canonical JSON: equal calls, equal digests,
    without keeping payloads (which may hold personal data) in the trail."""
    try:
        text = json.dumps(values, sort_keys=True, default=_plain, separators=(",", ":"))
    except (TypeError, ValueError):  # keys of mixed types cannot be sorted: keep their order
        text = json.dumps(values, default=_plain, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _plain(value: Any) -> Any:
    name = getattr(value, "name", None)  # a workflow or activity definition: by its name
    return name if isinstance(name, str) else repr(value)


Target = Callable[[dict[str, Any], Any], str | None]


def started_run(values: dict[str, Any], result: Any) -> str | None:
    """The target of a start: the new run's workflow id (its run id when it has none)."""
    if isinstance(result, tuple):  # update-with-start: (handle, update result)
        result = result[0]
    if result is not None:
        return str(result.workflow_id)
    given = values.get("id")
    return None if given is None else str(given)


def limit_target(values: dict[str, Any], result: Any) -> str | None:
    for scope in ("queue", "activity", "workflow"):
        if values.get(scope) is not None:
            return f"{scope}:{values[scope]}"
    return None


def audited(
    action: str,
    target_type: str | None,
    target: str | Target | None,
    *,
    unless: str | None = None,
) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Give each call of the decorated client method one audit row: ``action``, the target
    (a parameter's name, or a function of the bound arguments and the result), the digest
    of the arguments and the outcome. Calls made inside an audited call are not recorded
    again: the outermost one speaks for them. A call whose ``unless`` argument is true (a
    dry run) changes nothing and is not recorded."""

    def decorate(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        async def call(*args: P.args, **kwargs: P.kwargs) -> T:
            if _recording.get():
                return await fn(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            values = {k: v for k, v in bound.arguments.items() if k != "self"}
            if unless is not None and values.get(unless):
                return await fn(*args, **kwargs)
            client = bound.arguments["self"]
            token = _recording.set(True)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                if isinstance(exc, Exception):
                    await _record(client, action, target_type, target, values, None, exc)
                raise
            finally:
                _recording.reset(token)
            await _record(client, action, target_type, target, values, result, None)
            return result

        return call

    return decorate


async def _record(
    client: Any, action: str, target_type: str | None, target: str | Target | None,
    values: dict[str, Any], result: Any, error: BaseException | None,
) -> None:
    """Write the row; never raise: the change's own outcome stands whatever happens here."""
    try:
        await _write(client, action, target_type, target, values, result, error)
    except Exception as exc:
        _log.warning("audit row for %s not written: %s", action, exc)


async def _write(
    client: Any,
    action: str,
    target_type: str | None,
    target: str | Target | None,
    values: dict[str, Any],
    result: Any,
    error: BaseException | None,
) -> None:
    caller = current_caller(client.caller)
    if error is not None and isinstance(error, UsageError):
        return  # refused before anything was tried: nothing happened to audit
    if target is None:
        target_value = None
    elif isinstance(target, str):
        raw = values.get(target)
        target_value = None if raw is None else str(getattr(raw, "name", raw))
    else:
        target_value = target(values, result)
    if error is None:
        outcome, detail = "ok", None
    else:
        outcome = getattr(error, "code", type(error).__name__)
        detail = " ".join(str(error).split())[:_DETAIL_LIMIT] or None
    touched = getattr(result, "audit_touched", None)
    entry = store.AuditEntry(
        namespace=client.namespace,
        actor=caller.actor,
        front_end=caller.front_end,
        action=action,
        target_type=target_type,
        target=None if target_value is None else target_value[:400],
        args_digest=args_digest(values),
        outcome=outcome,
        detail=detail,
        touched=touched,
        request_id=caller.request_id,
    )
    async with client.pool.connection() as conn:
        await store.append_audit(conn, entry)


@dataclass(frozen=True)
class AuditRecord:
    """One row of the audit trail (see :meth:`AsyncClient.audit`)."""

    seq: int
    at: datetime
    namespace: str
    actor: str
    front_end: str
    action: str
    target_type: str | None
    target: str | None
    args_digest: str
    outcome: str
    detail: str | None
    touched: list[str] | None
    request_id: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> AuditRecord:
        return cls(**row)

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["at"] = self.at.isoformat()
        return data
