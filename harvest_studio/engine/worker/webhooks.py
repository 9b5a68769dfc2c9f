"""Delivering webhooks from a worker: find the run ends and SLA misses subscriptions want,
then POST each, signed, retrying with backoff; every attempt goes to the delivery log.

The body is the event as JSON. Headers: ``X-Harvest-Event``, ``X-Harvest-Delivery`` (the
delivery id: the same on every retry, for the receiver to drop duplicates),
``X-Harvest-Timestamp`` (Unix seconds), and ``X-Harvest-Signature: sha256=<hex>``, the
HMAC-SHA256 of ``"<timestamp>.<body>"`` with the subscription's secret."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ... import store
from .core import WorkerCore

log = logging.getLogger("harvest_studio.webhooks")
MAX_ATTEMPTS = 8
TIMEOUT = 10.0
LOOK_FOR_HOOKS = 30.0  # at most this long between checks whether the namespace has webhooks


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``"<timestamp>.<body>"`` with ``secret``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def post(url: str, secret: str, delivery_id: int, event: str, payload: Any
         ) -> tuple[bool, int | None, str | None]:
    """One attempt: (delivered, HTTP status, error). Runs on a thread."""
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "harvest-studio-webhooks",
        "X-Harvest-Event": event, "X-Harvest-Delivery": str(delivery_id),
        "X-Harvest-Timestamp": timestamp, "X-Harvest-Signature": sign(secret, timestamp, body),
    })
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return 200 <= response.status < 300, response.status, None
    except urllib.error.HTTPError as exc:
        return False, exc.code, f"HTTP {exc.code} {exc.reason}"
    except Exception as exc:  # any failure of this attempt (bad URL, broken reply...)
        reason = getattr(exc, "reason", exc)
        return False, None, f"{type(exc).__name__}: {reason}"[:500]


class WebhookSender:
    def __init__(self, core: WorkerCore) -> None:
        self.core = core
        # its own threads: a slow endpoint never holds up the loop's default executor
        self.threads = ThreadPoolExecutor(max_workers=8, thread_name_prefix="harvest-webhook")

    async def loop(self) -> None:
        core = self.core
        checked, active = 0.0, False
        look_again = min(LOOK_FOR_HOOKS, core.options.maintenance_interval * 10)
        while True:
            await asyncio.sleep(core.options.maintenance_interval)
            try:
                async with core.pool.connection() as conn:
                    if time.monotonic() - checked > look_again or active:
                        active = await store.has_webhooks(conn, core.namespace)
                        checked = time.monotonic()
                    if not active:
                        continue
                    await store.enqueue_deliveries(conn, core.namespace)
                    due = await store.claim_deliveries(
                        conn, core.namespace, limit=20, lease_seconds=TIMEOUT * 3)
            except Exception as exc:  # the loop goes on: the next pass tries again
                log.warning("webhook pass failed: %s", exc)
                continue
            if due:
                outcomes = await asyncio.gather(*(self.deliver(row) for row in due),
                                                return_exceptions=True)
                for outcome in outcomes:
                    if isinstance(outcome, Exception):
                        log.error("webhook delivery failed unexpectedly", exc_info=outcome)

    async def deliver(self, row: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        delivered, status, error = await loop.run_in_executor(
            self.threads, post, row["url"], row["secret"], row["id"], row["event"],
            row["payload"])
        attempts = int(row["attempts"])
        retry_in = None
        if not delivered and attempts < MAX_ATTEMPTS:
            retry_in = min(self.core.options.webhook_backoff * 2 ** (attempts - 1), 3600.0)
        if not delivered:
            log.warning("webhook %s delivery %s attempt %d failed: %s", row["name"],
                        row["id"], attempts, error)
        try:
            async with self.core.pool.connection() as conn:
                await store.record_delivery(conn, row["id"], attempt=attempts,
                                            delivered=delivered, status=status, error=error,
                                            retry_in=retry_in)
        except Exception as exc:  # the claim runs out and it is tried again
            log.warning("could not record webhook delivery %s: %s", row["id"], exc)
