"""``audit``, ``token create|list|revoke`` and ``workers list|drain``: the audit trail, the
HTTP API's tokens and the worker registry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..client import TOKEN_SCOPES, AsyncClient, AuditRecord, TokenInfo, WorkerInfo
from ..model.errors import UsageError
from .inputs import parse_time

AUDIT_PAGE = 50
MAX_AUDIT_LIMIT = 500


@dataclass(frozen=True)
class AuditList:
    """``audit``: rows of the trail, newest first; ``next_before`` pages further back."""

    records: list[AuditRecord]
    next_before: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "records": [r.to_json() for r in self.records],
            "next_before": self.next_before,
        }


@dataclass(frozen=True)
class TokenCreated:
    """``token create``: the token and its secret, shown this once."""

    secret: str
    token: TokenInfo

    def to_json(self) -> dict[str, Any]:
        return {"secret": self.secret, "token": self.token.to_json()}


@dataclass(frozen=True)
class TokenList:
    tokens: list[TokenInfo]

    def to_json(self) -> dict[str, Any]:
        return {"tokens": [t.to_json() for t in self.tokens]}


@dataclass(frozen=True)
class TokenRevoked:
    token: TokenInfo

    def to_json(self) -> dict[str, Any]:
        return {"revoked": self.token.to_json()}


@dataclass(frozen=True)
class WorkerList:
    """``workers list``: the namespace's worker processes, newest first."""

    workers: list[WorkerInfo]

    def to_json(self) -> dict[str, Any]:
        return {"workers": [w.to_json() for w in self.workers]}


@dataclass(frozen=True)
class WorkerDrained:
    """``workers drain``: the worker after the request (``draining``, or ``gone`` already)."""

    worker: WorkerInfo

    def to_json(self) -> dict[str, Any]:
        return {"drained": self.worker.to_json()}


async def workers_list(client: AsyncClient, *, include_gone: bool = False) -> WorkerList:
    return WorkerList(await client.workers(include_gone=include_gone))


async def worker_drain(client: AsyncClient, worker_id: str) -> WorkerDrained:
    """Ask a worker to stop claiming, finish or hand back its work, and exit."""
    if not worker_id:
        raise UsageError("a worker id is required (see `harvest workers list`)")
    return WorkerDrained(await client.drain_worker(worker_id))


async def audit_list(
    client: AsyncClient,
    *,
    run: str | None = None,
    target: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | str | None = None,
    before: int | None = None,
    limit: int = AUDIT_PAGE,
    all_namespaces: bool = False,
) -> AuditList:
    """The audit trail, newest first, filtered by run, target, actor, action (``run.`` for
    a family) and age (``since="1d"`` or an ISO time)."""
    moment = None if since is None else parse_time(since)
    if before is not None and before < 1:
        raise UsageError("before must be a positive audit seq")
    if not 1 <= limit <= MAX_AUDIT_LIMIT:
        raise UsageError(f"limit must be 1..{MAX_AUDIT_LIMIT}")
    records = await client.audit(  # one more than asked: is there a next page?
        run=run, target=target, actor=actor, action=action, since=moment, before=before,
        limit=limit + 1, all_namespaces=all_namespaces,
    )
    more = len(records) > limit
    records = records[:limit]
    return AuditList(records, records[-1].seq if more and records else None)


async def token_create(
    client: AsyncClient, name: str, scope: str, namespace: str | None = None
) -> TokenCreated:
    """Make an API token; the secret is in the result only."""
    if scope not in TOKEN_SCOPES:
        raise UsageError(f"unknown scope {scope!r}; use one of {', '.join(TOKEN_SCOPES)}")
    made = await client.create_token(name, scope, namespace=namespace)
    return TokenCreated(made.secret, made.info)


async def token_list(client: AsyncClient, *, include_revoked: bool = False) -> TokenList:
    return TokenList(await client.tokens(include_revoked=include_revoked))


async def token_revoke(client: AsyncClient, ref: str) -> TokenRevoked:
    return TokenRevoked(await client.revoke_token(ref))
