"""Run handles follow continue-as-new; the async handle matches the sync one; updates can be
awaited at admission and their result fetched later through an update handle."""

from __future__ import annotations

import asyncio
import inspect
import threading
from typing import Any

import pytest

import harvest_studio as hs

from .conftest import wait_for


@hs.workflow
async def counter(ctx: hs.WorkflowContext, total: int = 0, generation: int = 0) -> dict[str, int]:
    """Counts updates; continues as new after every three (Temporal's
    ``safe_message_handlers`` shape: let the handlers finish, then continue)."""
    state = {"total": total, "handled": 0, "done": False}

    async def add(amount: int) -> dict[str, int]:
        await ctx.sleep(0.01)
        state["total"] += amount
        state["handled"] += 1
        return {"total": state["total"], "generation": generation}

    def finish(_: Any = None) -> None:
        state["done"] = True

    ctx.set_update_handler("add", add)
    ctx.set_signal_handler("finish", finish)
    ctx.set_query_handler("generation", lambda: generation)
    await ctx.wait_condition(lambda: state["done"] or state["handled"] >= 3)
    await ctx.wait_condition(ctx.all_handlers_finished)
    if not state["done"]:
        ctx.continue_as_new(state["total"], generation + 1)
    return {"total": state["total"], "generation": generation}


def test_update_after_continue_as_new_through_the_original_handle(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[counter])
    run = client.start(counter, id="counter-1")
    first = run.run_id
    seen = [run.update("add", n) for n in range(1, 8)]
    assert seen[-1] == {"total": 28, "generation": 2}
    assert [s["generation"] for s in seen] == [0, 0, 0, 1, 1, 1, 2]
    assert run.run_id == first  # the handle still names the run it was made for...
    assert run.current_run_id() != first  # ...and talks to the chain's newest run
    assert run.query("generation") == 2
    assert run.describe().status == "RUNNING"
    assert [r.status for r in run.chain()] == ["CONTINUED_AS_NEW"] * 2 + ["RUNNING"]
    assert run.signal("finish")
    assert run.result(timeout=20) == {"total": 28, "generation": 2}


def test_a_handle_by_workflow_id_follows_and_one_by_a_later_run_id_stays(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[counter])
    run = client.start(counter)  # no id: its workflow id is its first run's id
    for n in range(6):
        run.update("add", n)
    wait_for(lambda: len(run.chain()) == 3)
    by_id = client.handle(run.id)
    assert by_id.describe().run_id == run.current_run_id() != run.id
    second = run.chain()[1].run_id
    pinned = client.handle(second)
    assert pinned.describe().status == "CONTINUED_AS_NEW"
    with pytest.raises(hs.RunNotRunningError):
        pinned.signal("finish")
    assert by_id.signal("finish")
    assert run.result(timeout=20) == {"total": 15, "generation": 2}


def test_update_waits_for_admission_and_its_result_comes_later(
    client: hs.Client, start_worker: Any
) -> None:
    @hs.workflow(name="gate_keeper")
    async def gate_keeper(ctx: hs.WorkflowContext) -> str:
        state = {"by": "", "go": False}

        def validate(who: str) -> None:
            if not who:
                raise ValueError("who opens the gate?")

        async def open_gate(who: str) -> str:
            await ctx.wait_condition(lambda: state["go"])  # admitted now, finished later
            state["by"] = who
            return f"opened by {who}"

        ctx.set_update_handler("open", open_gate, validator=validate)
        ctx.set_signal_handler("go", lambda _: state.update(go=True))
        await ctx.wait_condition(lambda: bool(state["by"]))
        await ctx.wait_condition(ctx.all_handlers_finished)
        return str(state["by"])

    start_worker(workflows=[gate_keeper])
    run = client.start(gate_keeper)
    with pytest.raises(hs.UpdateRejectedError, match="who opens"):
        run.update("open", "", wait_for="admitted")
    with pytest.raises(hs.UsageError, match="wait_for must be one of"):
        run.update("open", "bob", wait_for="accepted")
    pending = run.update("open", "ann", update_id="u-1", wait_for="admitted")
    assert isinstance(pending, hs.UpdateHandle)
    assert pending.id == "u-1"
    events = [e.event_type for e in run.history()]
    assert "UpdateAdmitted" in events and "UpdateCompleted" not in events
    with pytest.raises(hs.UpdateTimeoutError):
        pending.result(timeout=0.2)
    run.signal("go")
    assert pending.result(timeout=20) == "opened by ann"
    assert run.update_result("u-1") == "opened by ann"
    assert run.result(timeout=20) == "ann"


def _public(cls: type) -> set[str]:
    return {n for n, _ in inspect.getmembers(cls) if not n.startswith("_")}


def test_the_async_handle_has_the_sync_handles_methods() -> None:
    attributes = {"aio", "client", "run_id", "workflow_id"}  # the async handle's are plain
    missing = _public(hs.RunHandle) - _public(hs.AsyncRunHandle) - attributes
    assert missing == set()
    assert {"signal", "query", "update", "cancel", "explore"} <= _public(hs.AsyncRunHandle)
    for name in _public(hs.RunHandle) - {"aio", "client", "id", "ref", "run_id", "workflow_id"}:
        sync_params = list(inspect.signature(getattr(hs.RunHandle, name)).parameters)
        async_params = list(inspect.signature(getattr(hs.AsyncRunHandle, name)).parameters)
        if "kw" not in sync_params:  # a **kw pass-through takes the async keywords as they are
            assert sync_params == async_params, name


def test_async_handles_follow_continue_as_new_and_wait_for_admission(
    client: hs.Client, start_worker: Any, db_url: str
) -> None:
    start_worker(workflows=[counter])

    async def drive() -> dict[str, int]:
        async with hs.AsyncClient(db_url) as aio:
            run = await aio.start(counter)
            for n in range(4):
                await run.update("add", n)
            assert len(await run.chain()) == 2
            assert await run.query("generation") == 1
            pending = await run.update("add", 10, wait_for="admitted")
            assert isinstance(pending, hs.AsyncUpdateHandle)
            assert await pending.result(timeout=20) == {"total": 16, "generation": 1}
            assert (await run.describe()).run_id == await run.current_run_id()
            await run.signal("finish")
            return dict(await run.result(timeout=20))

    assert asyncio.run(drive()) == {"total": 16, "generation": 1}


@hs.workflow
async def cluster_manager(ctx: hs.WorkflowContext) -> dict[str, Any]:
    """Temporal's ``safe_message_handlers``: updates assign nodes concurrently, each waiting
    on an activity-like timer; the workflow ends only once every handler has finished."""
    state: dict[str, Any] = {"nodes": {}, "stop": False}

    async def assign(job: str, count: int) -> list[str]:
        await ctx.sleep(0.05)  # the work of an allocation
        taken = [f"node-{len(state['nodes']) + i}" for i in range(count)]
        for node in taken:
            state["nodes"][node] = job
        return taken

    ctx.set_update_handler("assign", assign)
    ctx.set_signal_handler("shutdown", lambda _=None: state.update(stop=True))
    await ctx.wait_condition(lambda: state["stop"])
    await ctx.wait_condition(ctx.all_handlers_finished)
    return {"nodes": len(state["nodes"]), "jobs": sorted(set(state["nodes"].values()))}


def test_concurrent_updates_finish_before_the_run_does(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[cluster_manager])
    run = client.start(cluster_manager)
    results: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def send(job: str) -> None:
        try:
            results[job] = run.update("assign", job, 2, timeout=20)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(f"job-{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    run.signal("shutdown")
    assert errors == []
    assert run.result(timeout=20) == {"nodes": 12, "jobs": sorted(results)}
    assert sorted(n for taken in results.values() for n in taken) == sorted(
        f"node-{i}" for i in range(12))
