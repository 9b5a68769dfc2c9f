"""Local replay: a run's stored history through local code, without writing anything."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import harvest_studio as hs
from harvest_studio.tools.code_versions import CodeVersions
from harvest_studio.tools.replay import ReplayReport, choose_code, replay_run

from . import test_magics
from .conftest import sql
from .test_magics import fails, ok, out


@hs.activity(start_to_close="10s")
def reserve(ctx: Any, item: str) -> str:
    return f"reserved {item}"


@hs.activity(start_to_close="10s")
def charge(ctx: Any, item: str) -> str:
    return f"charged {item}"


@hs.workflow(name="order")
async def order_v1(ctx: hs.WorkflowContext, item: str) -> str:
    first = await ctx.execute_activity(reserve, item)
    second = await ctx.execute_activity(charge, item)
    return f"{first}, {second}"


@hs.workflow(name="order")
async def order_v2(ctx: hs.WorkflowContext, item: str) -> str:  # reordered
    second = await ctx.execute_activity(charge, item)
    first = await ctx.execute_activity(reserve, item)
    return f"{first}, {second}"


@hs.workflow(name="order")
async def order_v3(ctx: hs.WorkflowContext, item: str) -> str:  # one step fewer
    return await ctx.execute_activity(reserve, item)


@pytest.fixture
def finished_order(client: hs.Client, start_worker: Callable[..., hs.Worker]) -> Iterator[str]:
    start_worker(workflows=[order_v1], activities=[reserve, charge])
    run = client.start(order_v1, "book", id="order-1")
    assert run.result(timeout=30) == "reserved book, charged book"
    yield "order-1"


def _history_rows(db_url: str) -> int:
    return int(sql(db_url, "SELECT count(*) FROM harvest.history")[0][0])


def test_v1_replays_cleanly_on_v1(client: hs.Client, finished_order: str, db_url: str) -> None:
    before = _history_rows(db_url)
    report = replay_run(client, finished_order, order_v1)
    assert isinstance(report, ReplayReport)
    assert report.ok and report.seq is None
    assert report.events == len(client.history(finished_order)) > 4
    assert report.run_fingerprint == report.local_fingerprint == order_v1.fingerprint
    assert report.chosen == "explicit" and report.status == "COMPLETED"
    assert f"replays cleanly ({report.events} events)" in str(report)
    assert _history_rows(db_url) == before  # nothing written


def test_reordered_v2_shows_the_divergence(client: hs.Client, finished_order: str) -> None:
    report = replay_run(client, finished_order, order_v2)
    assert not report.ok
    assert report.seq == 2
    assert report.expected == {"type": "ActivityScheduled", "activity_type": "reserve"}
    assert report.actual == {"type": "ActivityScheduled", "activity_type": "charge"}
    assert (report.run_fingerprint, report.local_fingerprint) == (
        order_v1.fingerprint, order_v2.fingerprint
    )
    text = str(report)
    assert "diverges at event 2" in text
    assert "ActivityScheduled(reserve)  (history)" in text
    assert "ActivityScheduled(charge)  (local code)" in text
    assert order_v1.fingerprint in text and order_v2.fingerprint in text
    assert report.to_json()["seq"] == 2


def test_code_that_stops_early_diverges(client: hs.Client, finished_order: str) -> None:
    report = replay_run(client, finished_order, order_v3)
    assert not report.ok and report.actual is not None
    assert report.actual["type"] == "WorkflowCompleted"
    assert report.expected == {"type": "ActivityScheduled", "activity_type": "charge"}


def test_versions_prefer_the_recorded_fingerprint(client: hs.Client, finished_order: str) -> None:
    versions = CodeVersions()
    versions.add([order_v1, order_v2])  # v2 is the newest
    report = replay_run(client, finished_order, versions)
    assert report.ok and report.chosen == "recorded"
    assert report.local_fingerprint == order_v1.fingerprint

    only_v2 = CodeVersions()
    only_v2.add([order_v2])
    report = replay_run(client, finished_order, only_v2)
    assert not report.ok and report.chosen == "newest" and report.seq == 2

    # a plain list of definitions works the same way
    assert replay_run(client, finished_order, [order_v2, order_v1]).chosen == "recorded"
    assert replay_run(client, finished_order, [order_v2]).chosen == "newest"


def test_no_code_and_unknown_runs_are_errors(client: hs.Client, finished_order: str) -> None:
    with pytest.raises(hs.HarvestError, match="no code to replay"):
        replay_run(client, finished_order)
    with pytest.raises(hs.HarvestError, match="no local code for workflow 'order'"):
        replay_run(client, finished_order, CodeVersions())
    with pytest.raises(hs.HarvestError, match="no run"):
        replay_run(client, "no-such-run", order_v1)
    assert choose_code(order_v2, "other", None) == (order_v2, "explicit")


def test_blocked_run_replays_like_the_worker_saw_it(
    client: hs.Client, start_worker: Callable[..., hs.Worker]
) -> None:
    """A run blocked by a worker with v2 diverges locally at the same event."""

    @hs.workflow(name="gate")
    async def gate_v1(ctx: hs.WorkflowContext) -> str:
        await ctx.execute_activity(reserve, "x")
        await ctx.wait_signal("go")
        return await ctx.execute_activity(charge, "x")

    @hs.workflow(name="gate")
    async def gate_v2(ctx: hs.WorkflowContext) -> str:
        await ctx.execute_activity(charge, "x")
        await ctx.wait_signal("go")
        return await ctx.execute_activity(reserve, "x")

    first = start_worker(workflows=[gate_v1], activities=[reserve, charge])
    run = client.start(gate_v1, id="gate-1")
    _wait(lambda: len(client.history("gate-1")) >= 4)
    first.stop()
    start_worker(workflows=[gate_v2], activities=[reserve, charge])
    client.signal("gate-1", "go")
    _wait(lambda: client.describe("gate-1").is_blocked)
    blocked = client.describe("gate-1").blocked
    assert blocked is not None

    report = replay_run(client, run.id, gate_v2)
    assert not report.ok and report.seq == blocked["seq"] == 2
    assert report.blocked is not None and "Blocked" in str(report)
    assert replay_run(client, run.id, gate_v1).ok


def _wait(check: Callable[[], bool], timeout: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


# --------------------------------------------------------------------- %harvest replay
shell = test_magics.shell  # the fixtures of the magics' tests
ip = test_magics.ip

ORDER_V1 = '''
import harvest_studio as hs

@hs.activity(start_to_close="10s")
def reserve(ctx, item):
    return f"reserved {item}"

@hs.activity(start_to_close="10s")
def charge(ctx, item):
    return f"charged {item}"

@hs.workflow
async def order(ctx, item):
    first = await ctx.execute_activity(reserve, item)
    second = await ctx.execute_activity(charge, item)
    return f"{first}, {second}"
'''

ORDER_V2 = '''
@hs.workflow
async def order(ctx, item):
    second = await ctx.execute_activity(charge, item)
    first = await ctx.execute_activity(reserve, item)
    return f"{first}, {second}"
'''


def test_replay_magic(ip: Any) -> None:
    ok(ip, ORDER_V1)
    v1 = ip.user_ns["order"].fingerprint
    ok(ip, "%harvest worker start")
    done = out(ip, "%harvest start order '\"book\"' --id order-1 --wait --timeout 30s")
    assert done.data.status == "COMPLETED"

    clean = out(ip, "%harvest replay order-1")
    assert clean.data.ok and clean.data.chosen == "recorded"
    assert "replays cleanly" in clean.text and "the run's own version" in clean.text
    bundle = clean._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"} and "replays cleanly" in bundle["text/html"]

    # redefined: the kernel still holds v1, which the run recorded
    ok(ip, ORDER_V2)
    v2 = ip.user_ns["order"].fingerprint
    assert out(ip, "%harvest replay order-1").data.local_fingerprint == v1

    # explicitly with the new code: the first divergence, both fingerprints
    ok(ip, "new_order = order")
    diff = out(ip, "%harvest replay order-1 --code new_order")
    assert not diff.data.ok and diff.data.seq == 2
    assert "diverges at event 2" in diff.text
    assert "ActivityScheduled(reserve)" in diff.text and "ActivityScheduled(charge)" in diff.text
    assert v1 in diff.text and v2 in diff.text
    assert "diverges at event 2" in diff._repr_mimebundle_()["text/html"]

    assert "--code" in fails(ip, "%harvest replay order-1 --code nothing_here").args[0]
    assert "run_not_found" in str(fails(ip, "%harvest replay no-such-run"))
    assert "replay" in ok(ip, "%harvest").text
