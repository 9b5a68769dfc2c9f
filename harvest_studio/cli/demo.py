"""``harvest demo``: a worker on a thread of this process, a few onboarding runs, their
results and one run's history, in a few seconds.

The workflows live in :mod:`harvest_studio.demo_app`, so the same runs can be served from
a shell with ``harvest worker harvest_studio.demo_app``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import commands, demo_app
from ..client import AsyncClient, RunInfo
from ..commands import RunHistory
from ..commands.render import render_history, render_runs
from ..engine import Worker
from ..store.connection import database_url, describe_url

CUSTOMERS: tuple[tuple[str, str], ...] = (
    ("ada@example.com", "pro"),
    ("grace@example.com", "team"),
    ("linus@example.com", "free"),
)

# Snappier than the production defaults, so the demo's retry and timer show up quickly.
DEMO_TUNING: dict[str, Any] = {"poll_interval": 0.2, "maintenance_interval": 0.5}


@dataclass(frozen=True)
class DemoReport:
    """What the demo did: the runs it started (as they ended) and the history of the first."""

    url: str
    namespace: str
    runs: list[RunInfo]
    history: RunHistory
    seconds: float

    @property
    def ok(self) -> bool:
        return all(r.status == "COMPLETED" for r in self.runs)

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "namespace": self.namespace,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "runs": [r.to_json() for r in self.runs],
            "history": self.history.to_json(),
        }


async def run_demo(
    url: str | None = None,
    *,
    namespace: str = "default",
    customers: Sequence[tuple[str, str]] = CUSTOMERS,
    timeout: float = 30.0,
) -> DemoReport:
    """Start a worker thread, run ``onboarding`` once per customer, collect the outcome."""
    resolved = database_url(url)
    began = time.monotonic()
    async with AsyncClient(resolved, namespace=namespace, front_end="cli") as client:
        worker = Worker(
            client,
            workflows=demo_app.WORKFLOWS,
            activities=demo_app.ACTIVITIES,
            **DEMO_TUNING,
        )
        await asyncio.to_thread(worker.start)
        try:
            suffix = uuid.uuid4().hex[:4]
            started = [
                await commands.start(
                    client,
                    demo_app.onboarding.name,
                    [email, plan],
                    id=f"onboarding-{email.split('@')[0]}-{suffix}",
                )
                for email, plan in customers
            ]
            await asyncio.gather(
                *(commands.result(client, s.run_id, timeout) for s in started)
            )
            runs = [await commands.show(client, s.run_id) for s in started]
            history = await commands.history(client, started[0].run_id)
        finally:
            await asyncio.to_thread(worker.stop)
    return DemoReport(describe_url(resolved), namespace, runs, history, time.monotonic() - began)


def render_demo(report: DemoReport, *, extra_options: str = "") -> str:
    """The demo's text output, ending with the commands to try next."""
    first = report.history.workflow_id
    opts = f" {extra_options}" if extra_options else ""
    lines = [
        f"Harvest Studio demo on {report.url} (namespace {report.namespace})",
        f"A worker ran on a thread of this process; {len(report.runs)} onboarding runs "
        f"finished in {report.seconds:.1f}s.",
        "",
        render_runs(report.runs),
        "",
        f"History of {first}: one activity, two in parallel (provision_workspace fails",
        "once and is retried), a durable 1s timer, a recorded side effect:",
        "",
        render_history(report.history),
        "",
        "Next, try:",
        f"  harvest{opts} list",
        f"  harvest{opts} show {first}",
        f"  harvest{opts} history {first}",
        f"  harvest{opts} worker harvest_studio.demo_app        # serve the demo from a shell",
        f"  harvest{opts} start onboarding '\"you@example.com\"' '\"pro\"' --wait",
    ]
    if not report.ok:
        lines += ["", "Some runs did not complete; see `harvest show <id>` for why."]
    return "\n".join(lines)
