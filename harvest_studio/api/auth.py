"""Who may call what: bearer tokens checked against the scope each route declares
(``read`` < ``operate`` < ``admin``) and the token's namespace."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .. import store
from ..client import TOKEN_SCOPES, Caller, TokenInfo
from ..client._audit import args_digest
from .services import Services, Session

COOKIE = "harvest_token"
"""the dashboard keeps the token in this HttpOnly cookie (the API never reads it)"""
log = logging.getLogger("harvest_studio.api")
NAMESPACE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$"
JUPYTER_USER = "harvest.jupyter_user"
"""the ASGI scope key under which the Jupyter server extension passes its signed-in user
(set by that server only: no header reaches it); such a request acts as that user"""

bearer = HTTPBearer(
    auto_error=False,
    description="A token from `harvest token create --scope read|operate|admin`.",
)
Namespace = Annotated[
    str,
    Query(
        min_length=1, max_length=63, pattern=NAMESPACE_PATTERN,
        description="the namespace to act in",
    ),
]


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _request_id(request: Request) -> str:
    given = request.headers.get("x-request-id", "")
    if 0 < len(given) <= 200 and given.isprintable():
        return given
    return uuid.uuid4().hex


def needs(scope: str, *, per_namespace: bool = True) -> Callable[..., Awaitable[Session]]:
    """A dependency that admits a request whose token has ``scope`` (or more) in the
    request's namespace; 401 without a live token, 403 when the token falls short."""
    assert scope in TOKEN_SCOPES

    async def admit(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        namespace: Namespace = "default",
    ) -> Session:
        services = services_of(request)
        jupyter_user = request.scope.get(JUPYTER_USER)
        if jupyter_user is not None:
            return await _jupyter_session(services, str(jupyter_user), namespace, request)
        # bearer only: the dashboard's cookie is not taken here, so no other page of the
        # same site can make a browser change anything through the API (no CSRF)
        secret = credentials.credentials if credentials is not None else None
        if not secret:
            raise HTTPException(401, "a bearer token is required",
                                headers={"WWW-Authenticate": "Bearer"})
        default = await services.client("default")
        token = await default.authenticate(secret)
        if token is None:
            raise HTTPException(401, "the token is not a live token",
                                headers={"WWW-Authenticate": "Bearer"})
        caller = Caller(f"token:{token.name}", "api", _request_id(request))
        if not token.allows(scope, namespace if per_namespace else None):
            await _record_denial(services, caller, namespace, request, scope)
            where = f" in namespace {namespace!r}" if per_namespace else ""
            bound = f", namespace {token.namespace}" if token.namespace else ""
            raise HTTPException(403, f"token {token.name!r} ({token.scope}{bound}) may not "
                                     f"do what needs {scope}{where}")
        return Session(token, await services.client(namespace), caller)

    admit.scope = scope  # type: ignore[attr-defined]  # read by app.document_scopes
    admit.per_namespace = per_namespace  # type: ignore[attr-defined]
    return admit


async def _jupyter_session(
    services: Services, user: str, namespace: str, request: Request
) -> Session:
    """A request of a Jupyter user, signed in by the Jupyter server: it may do anything,
    as that user may already in a kernel, and is recorded as ``jupyter:USER`` from ``lab``."""
    now = datetime.now(UTC)
    actor = f"jupyter:{user}"[:200]
    token = TokenInfo(token_id="jupyter", name=actor, scope="admin", namespace=None,
                      created_at=now, created_by=actor, last_used_at=now, revoked_at=None)
    caller = Caller(actor, "lab", _request_id(request))
    return Session(token, await services.client(namespace), caller)


async def _record_denial(
    services: Services, caller: Caller, namespace: str, request: Request, scope: str
) -> None:
    try:
        await _append_denial(services, caller, namespace, request, scope)
    except Exception as exc:  # the refusal stands either way
        log.warning("audit row for a refusal not written: %s", exc)


async def _append_denial(
    services: Services, caller: Caller, namespace: str, request: Request, scope: str
) -> None:
    default = await services.client("default")
    async with default.pool.connection() as conn:
        await store.append_audit(conn, store.AuditEntry(
            namespace=namespace, actor=caller.actor, front_end=caller.front_end,
            action="authz.deny", target_type="route",
            target=f"{request.method} {request.url.path}"[:400],
            args_digest=args_digest({"query": str(request.url.query)}),
            outcome="forbidden", detail=f"needs {scope}", request_id=caller.request_id,
        ))


Reader = Annotated[Session, Depends(needs("read"))]
Operator = Annotated[Session, Depends(needs("operate"))]
Admin = Annotated[Session, Depends(needs("admin", per_namespace=False))]
NamespaceAdmin = Annotated[Session, Depends(needs("admin"))]
GlobalReader = Annotated[Session, Depends(needs("read", per_namespace=False))]
