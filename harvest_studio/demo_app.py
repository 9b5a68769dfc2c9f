"""Demo workflows: customer onboarding, the way a real service would write it.

Serve them from a shell with ``harvest worker harvest_studio.demo_app`` and start runs with
``harvest start onboarding '"ada@example.com"' '"pro"' --wait``; ``harvest demo`` does all
of that in one process.

The ``onboarding`` workflow shows the main building blocks:

* an activity (``create_account``),
* two activities in parallel (``send_welcome_email`` and ``provision_workspace``, gathered),
* an automatic retry: ``provision_workspace`` fails its first attempt on purpose,
* a durable timer (``ctx.sleep``), which survives worker restarts,
* a recorded side effect (a coupon code drawn once and replayed from history).
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import harvest_studio as hs

QUEUE = "default"


def _account_id(email: str) -> str:
    return "acct_" + hashlib.sha256(email.encode()).hexdigest()[:10]


@hs.activity(start_to_close="10s")
def create_account(ctx: hs.ActivityContext, email: str, plan: str) -> dict[str, Any]:
    """Create the customer's account (idempotent: the id is derived from the e-mail)."""
    if "@" not in email:
        raise hs.NonRetryableError(f"not an e-mail address: {email!r}")
    return {"account_id": _account_id(email), "email": email, "plan": plan}


@hs.activity(start_to_close="10s")
def send_welcome_email(ctx: hs.ActivityContext, account: dict[str, Any]) -> dict[str, Any]:
    """Send the welcome mail; the idempotency key lets a mail API drop duplicate sends."""
    return {"sent_to": account["email"], "message_id": f"msg-{ctx.idempotency_key}"}


@hs.activity(
    start_to_close="10s",
    retry=hs.RetryPolicy(max_attempts=4, initial_interval="200ms", backoff_coefficient=2.0),
)
def provision_workspace(ctx: hs.ActivityContext, account: dict[str, Any]) -> dict[str, Any]:
    """Provision storage; the first attempt fails (a flaky dependency) to show retries."""
    if ctx.attempt == 1:
        raise ConnectionError("workspace service unavailable (simulated outage, will retry)")
    return {
        "workspace": f"ws-{account['account_id'][5:]}",
        "plan": account["plan"],
        "attempts": ctx.attempt,
    }


@hs.workflow
async def onboarding(ctx: hs.WorkflowContext, email: str, plan: str = "free") -> dict[str, Any]:
    """Onboard one customer: account, welcome mail + workspace in parallel, a grace period,
    then a coupon."""
    account = await ctx.execute_activity(create_account, email, plan)
    mail, workspace = await ctx.gather(
        ctx.execute_activity(send_welcome_email, account),
        ctx.execute_activity(provision_workspace, account),
    )
    await ctx.sleep("1s")  # in production: "3d" before the follow-up
    coupon = ctx.side_effect(
        lambda: f"WELCOME-{random.randint(1000, 9999)}", name="coupon_code"
    )
    return {
        "account_id": account["account_id"],
        "email": mail["sent_to"],
        "workspace": workspace["workspace"],
        "workspace_attempts": workspace["attempts"],
        "coupon": coupon,
    }


WORKFLOWS = [onboarding]
ACTIVITIES = [create_account, send_welcome_email, provision_workspace]
