"""Operating the engine: the audit trail, the HTTP API's tokens, the worker registry and
drain, and what live feeds poll."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import store
from ..model.errors import HarvestError, UsageError
from ..model.events import HistoryEvent, decode
from ..model.limits import MAX_ID_LENGTH, MAX_NAME_LENGTH, check_name, check_text
from ._audit import AuditRecord, audited
from ._retry import retried
from ._schedules import SchedulesClient

TOKEN_SCOPES = ("read", "operate", "admin")
"""each scope allows what the ones before it do"""
TOKEN_PREFIX = "hvst_"
MAX_AUDIT_PAGE = 1000


class TokenNotFoundError(HarvestError):
    """``revoke_token`` of a name or id that no live token has."""

    code = "token_not_found"


class TokenNameTakenError(HarvestError):
    """A live token already has that name (revoke it first, or choose another)."""

    code = "token_name_taken"


@dataclass(frozen=True)
class TokenInfo:
    """An API token as the server keeps it: everything but the secret."""

    token_id: str
    name: str
    scope: str
    namespace: str | None
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None

    def allows(self, scope: str, namespace: str | None) -> bool:
        """True when this token may do what ``scope`` needs in ``namespace`` (None: a
        route that is not about one namespace, which a namespace-bound token may not use
        beyond ``read``)."""
        if TOKEN_SCOPES.index(self.scope) < TOKEN_SCOPES.index(scope):
            return False
        if self.namespace is None:
            return True
        return namespace == self.namespace or (namespace is None and scope == "read")

    def to_json(self) -> dict[str, Any]:
        return {
            k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()
        }


@dataclass(frozen=True)
class NewToken:
    """A token just made: ``secret`` is shown this once and never stored."""

    secret: str
    info: TokenInfo

    @property
    def name(self) -> str:
        return self.info.name


@dataclass(frozen=True)
class WorkerInfo:
    """A worker process as the registry sees it: ``state`` is ``running``, ``draining``
    (asked to drain, still finishing) or ``gone`` (stopped, or no heartbeat within its
    lease); ``running_tasks`` are the tasks it holds now."""

    worker_id: str
    hostname: str
    pid: int
    queues: list[str]
    version: str | None
    slots: int | None
    started_at: datetime
    heartbeat_at: datetime
    lease_seconds: float
    drain_requested_at: datetime | None
    state: str
    running_tasks: int

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> WorkerInfo:
        fields = dict(row)
        fields["running_tasks"] = int(fields.pop("running"))
        return cls(**fields)

    def to_json(self) -> dict[str, Any]:
        return {
            k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()
        }


class WorkerNotFoundError(HarvestError):
    """No worker with that id in the namespace."""

    code = "worker_not_found"


def token_digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def check_scope(scope: str) -> str:
    if scope not in TOKEN_SCOPES:
        raise UsageError(f"unknown scope {scope!r}; use one of {', '.join(TOKEN_SCOPES)}")
    return scope


class OperationsClient(SchedulesClient):
    """The audit trail and API tokens (mixed into :class:`AsyncClient`)."""

    @retried(True)
    async def audit(
        self,
        *,
        run: str | None = None,
        target: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        before: int | None = None,
        limit: int = 100,
        all_namespaces: bool = False,
    ) -> list[AuditRecord]:
        """The audit trail, newest first: every mutation made through the Python client, the
        command line, the magics and the HTTP API, with who, through which front end, what,
        on which target, a digest of the arguments and the outcome.

        ``run`` keeps the rows about one run (by its workflow id or run id), ``target``
        those about any other target (a schedule, a queue, a token), ``action`` one action
        (``"run.cancel"``) or a family (``"run."``); ``before`` pages back from a row's
        ``seq``."""
        if not 1 <= limit <= MAX_AUDIT_PAGE:
            raise UsageError(f"limit must be 1..{MAX_AUDIT_PAGE}")
        for what, value in (("a run", run), ("a target", target), ("an actor", actor),
                            ("an action", action)):
            check_text(what, value, MAX_ID_LENGTH, optional=True)
        targets: list[str] | None = None
        if run is not None:
            targets = [run]
            async with self.pool.connection() as conn:
                row = await store.get_run(conn, self.namespace, run)
            if row is not None:
                targets += [str(row["run_id"]), str(row["workflow_id"])]
        if target is not None:
            targets = [*(targets or []), target]
        async with self.pool.connection() as conn:
            rows = await store.read_audit(
                conn,
                namespace=None if all_namespaces else self.namespace,
                targets=targets,
                actor=actor,
                action=action,
                since=since,
                before_seq=before,
                limit=limit,
            )
        return [AuditRecord.from_row(row) for row in rows]

    @audited("token.create", "token", "name")
    @retried(False)
    async def create_token(
        self, name: str, scope: str, *, namespace: str | None = None
    ) -> NewToken:
        """Make an API token named ``name`` with ``scope`` (``read`` < ``operate`` <
        ``admin``), optionally limited to one ``namespace``. Its secret is in the result
        and nowhere else: only its SHA-256 is stored."""
        check_name("a token name", name)
        check_scope(scope)
        if namespace is not None:
            check_name("a namespace", namespace)
        secret = TOKEN_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        secret = secret.rstrip("=")
        token_id = secrets.token_hex(6)
        async with self.pool.connection() as conn:
            try:
                row = await store.insert_token(
                    conn,
                    token_id=token_id,
                    name=name,
                    scope=scope,
                    namespace=namespace,
                    secret_sha256=token_digest(secret),
                    created_by=self.caller_actor,
                )
            except Exception as exc:
                if store.is_unique_violation(exc, "api_tokens_live_name"):
                    raise TokenNameTakenError(f"a live token is already named {name!r}") from None
                raise
        return NewToken(secret, TokenInfo(**row))

    @retried(True)
    async def tokens(self, *, include_revoked: bool = False) -> list[TokenInfo]:
        """The API tokens (never their secrets), oldest first."""
        async with self.pool.connection() as conn:
            rows = await store.list_tokens(conn, include_revoked=include_revoked)
        return [TokenInfo(**row) for row in rows]

    @audited("token.revoke", "token", "ref")
    @retried(True)
    async def revoke_token(self, ref: str) -> TokenInfo:
        """Revoke the live token with id or name ``ref``; the next request with it is
        refused."""
        check_name("a token name or id", ref)
        async with self.pool.connection() as conn:
            row = await store.revoke_token(conn, ref)
        if row is None:
            raise TokenNotFoundError(f"no live token named or with id {ref!r}")
        return TokenInfo(**row)

    @retried(True)
    async def workers(self, *, include_gone: bool = False) -> list[WorkerInfo]:
        """The namespace's worker processes, newest first: host, pid, version, queues,
        slots, heartbeat and state (``gone`` ones only with ``include_gone``)."""
        async with self.pool.connection() as conn:
            rows = await store.list_workers(
                conn, self.namespace, include_gone=include_gone, worker_id=None
            )
        return [WorkerInfo.from_row(r) for r in rows]

    @audited("worker.drain", "worker", "worker_id")
    @retried(True)
    async def drain_worker(self, worker_id: str) -> WorkerInfo:
        """Ask worker ``worker_id`` to drain: it stops claiming at once, lets its running
        tasks finish (up to its drain timeout), hands back the rest, and exits. Asking
        again, or asking a worker that is gone, changes nothing."""
        check_text("a worker id", worker_id, MAX_ID_LENGTH)
        async with self.pool.connection() as conn:
            found = await store.request_drain(conn, self.namespace, worker_id)
            if found is None:
                raise WorkerNotFoundError(
                    f"no worker {worker_id!r} in namespace {self.namespace!r}"
                )
            rows = await store.list_workers(
                conn, self.namespace, include_gone=True, worker_id=worker_id
            )
        return WorkerInfo.from_row(rows[0])

    @retried(True)
    async def run_progress(self, run_id: str) -> tuple[str, int] | None:
        """A run's status and the seq of its newest event (None: no such run) — what a live
        feed polls before it reads new events."""
        async with self.pool.connection() as conn:
            return await store.run_progress(conn, run_id)

    @retried(True)
    async def events_after(
        self, run_id: str, after_seq: int, limit: int = 500
    ) -> list[HistoryEvent]:
        """Events of run ``run_id`` (a run id, not resolved) with ``seq > after_seq``."""
        async with self.pool.connection() as conn:
            rows = await store.get_history(conn, run_id, after_seq=after_seq, limit=limit)
        return [
            HistoryEvent(r["seq"], r["at"], decode(r["event_type"], r["payload"])) for r in rows
        ]

    @retried(True)
    async def run_counts(self, failed_within: float = 86400.0) -> dict[str, int]:
        """How many runs of this namespace are running (not blocked), blocked, and failed
        in the last ``failed_within`` seconds (a day by default)."""
        async with self.pool.connection() as conn:
            return await store.run_counts(conn, self.namespace, failed_within)

    @retried(True)
    async def run_changes(
        self, since: datetime | None
    ) -> tuple[datetime, list[dict[str, Any]]]:
        """The database's clock now, and the runs of this namespace that started or ended
        at or after ``since``, oldest change first."""
        async with self.pool.connection() as conn:
            return await store.run_changes(conn, self.namespace, since)

    @retried(True)
    async def authenticate(self, secret: str) -> TokenInfo | None:
        """The live token whose secret is ``secret``, or None."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > MAX_NAME_LENGTH:
            return None
        async with self.pool.connection() as conn:
            row = await store.token_by_secret(conn, token_digest(secret))
        return None if row is None else TokenInfo(**row)
