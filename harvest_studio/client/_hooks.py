"""Webhooks from the client: subscribe a URL to run ends and SLA misses, list the
subscriptions and their delivery log, remove one."""

from __future__ import annotations

import secrets
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import store
from ..model.durations import Duration, to_seconds
from ..model.errors import HarvestError, UsageError
from ..model.limits import check_name, check_text
from ._audit import audited
from ._retention import RetentionClient
from ._retry import retried

HOOK_EVENTS = ("run.ended", "run.completed", "run.failed", "run.cancelled",
               "run.terminated", "run.timed_out", "run.continued_as_new", "run.sla_missed")
DELIVERY_STATES = ("pending", "delivered", "failed")


class WebhookNotFoundError(HarvestError):
    code = "webhook_not_found"


class WebhookNameTakenError(HarvestError):
    code = "webhook_name_taken"


@dataclass(frozen=True)
class Webhook:
    """A subscription: where to POST, which events, for which workflow type."""

    id: int
    namespace: str
    name: str
    url: str
    events: list[str]
    workflow_type: str | None
    sla_seconds: float | None
    created_at: datetime
    created_by: str
    pending: int = 0
    failed: int = 0

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["created_at"] = self.created_at.isoformat()
        return data


@dataclass(frozen=True)
class NewWebhook:
    """A subscription just made; ``secret`` signs its deliveries and is shown only now."""

    secret: str
    webhook: Webhook


def _check_url(url: str) -> str:
    check_text("a URL", url, 2000)
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        raise UsageError(f"not a URL: {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(
            c.isspace() for c in url):
        raise UsageError(f"a webhook URL must be http:// or https:// with a host, not {url!r}")
    return url


class HooksClient(RetentionClient):
    """Webhooks (mixed into :class:`AsyncClient`)."""

    @audited("webhook.create", "webhook", "name")
    @retried(False)
    async def create_webhook(
        self,
        name: str,
        url: str,
        *,
        events: list[str] | tuple[str, ...] = ("run.ended",),
        workflow_type: str | None = None,
        sla: Duration | None = None,
    ) -> NewWebhook:
        """POST a signed JSON event to ``url`` for each run of this namespace (of
        ``workflow_type``, if given) that ends (``run.ended``, or one status:
        ``run.failed``...) after now, and, with ``sla`` and ``run.sla_missed``, for each
        run still running (or ended) later than ``sla`` after its start. Deliveries are
        retried with backoff (8 tries) and logged; see ``webhook_deliveries``."""
        check_name("a webhook name", name)
        _check_url(url)
        events = list(dict.fromkeys(events))
        unknown = [e for e in events if e not in HOOK_EVENTS]
        if not events or unknown:
            raise UsageError(f"unknown webhook event(s) {unknown or events}; use "
                             f"{', '.join(HOOK_EVENTS)}")
        check_name("a workflow type", workflow_type, optional=True)
        seconds = None if sla is None else to_seconds(sla)
        if ("run.sla_missed" in events) != (seconds is not None):
            raise UsageError("run.sla_missed and an sla go together")
        if seconds is not None and seconds <= 0:
            raise UsageError("an sla must be a positive duration")
        secret = "whsec_" + secrets.token_urlsafe(32)
        async with self.pool.connection() as conn:
            await self._check_namespace(conn)
            try:
                row = await store.insert_webhook(
                    conn, namespace=self.namespace, name=name, url=url, secret=secret,
                    events=events, workflow_type=workflow_type, sla_seconds=seconds,
                    created_by=self.caller_actor)
            except Exception as exc:
                if store.is_unique_violation(exc):
                    raise WebhookNameTakenError(f"a webhook is already named {name!r}") from None
                raise
        return NewWebhook(secret, Webhook(**row))

    @retried(True)
    async def webhooks(self) -> list[Webhook]:
        """This namespace's webhooks (never their secrets), with pending and failed counts."""
        async with self.pool.connection() as conn:
            return [Webhook(**row) for row in await store.list_webhooks(conn, self.namespace)]

    @audited("webhook.remove", "webhook", "name")
    @retried(True)
    async def remove_webhook(self, name: str) -> None:
        check_name("a webhook name", name)
        async with self.pool.connection() as conn:
            if not await store.delete_webhook(conn, self.namespace, name):
                raise WebhookNotFoundError(f"no webhook {name!r} in namespace "
                                           f"{self.namespace!r}")

    @retried(True)
    async def webhook_deliveries(
        self, name: str | None = None, *, state: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """The delivery log, newest first: event, run, state, attempts, the last HTTP status
        or error."""
        if state is not None and state not in DELIVERY_STATES:
            raise UsageError(f"unknown state {state!r}; use one of {DELIVERY_STATES}")
        if not 1 <= limit <= 1000:
            raise UsageError("limit must be 1..1000")
        check_name("a webhook name", name, optional=True)
        async with self.pool.connection() as conn:
            return await store.list_deliveries(conn, self.namespace, name, state, limit)
