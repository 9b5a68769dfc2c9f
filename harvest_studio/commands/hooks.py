"""``hooks add|list|remove|deliveries``: webhooks on run ends and SLA misses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..client import AsyncClient, NewWebhook, Webhook
from ..model.durations import Duration


@dataclass(frozen=True)
class HookAdded:
    made: NewWebhook

    def to_json(self) -> dict[str, Any]:
        return {"secret": self.made.secret, "webhook": self.made.webhook.to_json()}


@dataclass(frozen=True)
class HookList:
    hooks: list[Webhook]

    def to_json(self) -> dict[str, Any]:
        return {"webhooks": [h.to_json() for h in self.hooks]}


@dataclass(frozen=True)
class DeliveryLog:
    deliveries: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"deliveries": [
            {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in d.items()}
            for d in self.deliveries]}


async def hooks_add(
    client: AsyncClient, name: str, url: str, events: Sequence[str] = ("run.ended",), *,
    workflow_type: str | None = None, sla: Duration | None = None,
) -> HookAdded:
    """Subscribe ``url`` to run ends (or SLA misses); the signing secret is in the result
    only."""
    return HookAdded(await client.create_webhook(
        name, url, events=tuple(events), workflow_type=workflow_type, sla=sla))


async def hooks_list(client: AsyncClient) -> HookList:
    return HookList(await client.webhooks())


async def hooks_remove(client: AsyncClient, name: str) -> str:
    await client.remove_webhook(name)
    return name


async def hooks_deliveries(client: AsyncClient, name: str | None = None, *,
                           state: str | None = None, limit: int = 50) -> DeliveryLog:
    return DeliveryLog(await client.webhook_deliveries(name, state=state, limit=limit))
