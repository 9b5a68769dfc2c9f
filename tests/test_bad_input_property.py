"""Arbitrary strings, numbers and JSON through the command layer (what the CLI, the magics
and the HTTP API share): every call succeeds or raises a typed ``HarvestError``, never
another exception, and a call that fails writes nothing."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import harvest_studio as hs
from harvest_studio import commands

from .conftest import sql, wait_for


@hs.workflow
async def mailbox(ctx: hs.WorkflowContext, label: str = "box") -> list[Any]:
    got: list[Any] = []
    ctx.set_signal_handler("put", got.append)
    ctx.set_query_handler("count", lambda: len(got))
    ctx.set_update_handler("take", lambda n=1: got[: int(n)])
    await ctx.wait_condition(lambda: len(got) > 1_000_000)
    return got


ANY_CHAR = st.characters(codec=None, categories=None)  # NUL, surrogates, escapes included
TEXT = st.one_of(
    st.text(max_size=12),
    st.text(ANY_CHAR, max_size=12),
    st.text(min_size=390, max_size=420),
    st.sampled_from(["", " ", "\x00", "a\x00b", "\udcff", "\x1b[31mred", "x" * 10_001,
                     "box", "put", "count", "take", "mailbox"]),
)
NUMBER = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 0.05, 1e30, 1e-300, True]),
)
JSON = st.recursive(
    st.none() | st.booleans() | NUMBER | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
MAYBE_TEXT = st.none() | TEXT


def _calls(client: hs.AsyncClient) -> st.SearchStrategy[tuple[str, Callable[[], Awaitable[Any]]]]:
    """One command with drawn arguments, named for the failure report."""
    ref = st.one_of(TEXT, st.just("box"))
    quick = st.one_of(st.just(0.05), NUMBER)

    def start(wf: str, args: list[Any], id: str | None, queue: str | None, key: str | None,
              delay: Any, prio: Any) -> tuple[str, Callable[[], Awaitable[Any]]]:
        return "start", lambda: commands.start(
            client, wf, args, id=id, queue=queue, idempotency_key=key, start_delay=delay,
            priority=prio, execution_timeout=delay)

    def signal(r: str, name: str, payload: Any, key: str | None) -> tuple[str, Any]:
        return "signal", lambda: commands.signal(client, r, name, payload, key)

    def query(r: str, name: str, args: list[Any], t: Any) -> tuple[str, Any]:
        return "query", lambda: commands.query(client, r, name, args, timeout=t)

    def update(r: str, name: str, args: list[Any], uid: str | None, t: Any) -> tuple[str, Any]:
        return "update", lambda: commands.update(client, r, name, args, update_id=uid, timeout=t)

    def lookup(r: str, which: str) -> tuple[str, Any]:
        if which == "show":
            return which, lambda: commands.show(client, r)
        if which == "history":
            return which, lambda: commands.history(client, r)
        return which, lambda: commands.chain(client, r)

    def listing(wf: str | None, status: str | None, since: str | None, query: str | None,
                limit: Any) -> tuple[str, Any]:
        return "list", lambda: commands.list_runs(
            client, workflow_type=wf, status=status, since=since, query=query, limit=limit)

    def reason(which: str, r: str, why: str | None) -> tuple[str, Any]:
        action = {"pause": commands.pause, "resume": commands.resume}[which]
        return which, lambda: action(client, r, why)

    return st.one_of(
        st.builds(start, st.one_of(TEXT, st.just("mailbox")), st.lists(JSON, max_size=2),
                  MAYBE_TEXT, MAYBE_TEXT, MAYBE_TEXT, st.none() | NUMBER | TEXT,
                  st.none() | NUMBER),
        st.builds(signal, ref, TEXT, JSON, MAYBE_TEXT),
        st.builds(query, ref, TEXT, st.lists(JSON, max_size=2), quick),
        st.builds(update, ref, TEXT, st.lists(JSON, max_size=2), MAYBE_TEXT, quick),
        st.builds(lookup, ref, st.sampled_from(["show", "history", "chain"])),
        st.builds(listing, MAYBE_TEXT, MAYBE_TEXT, MAYBE_TEXT, MAYBE_TEXT,
                  st.one_of(st.just(5), NUMBER)),
        st.builds(reason, st.sampled_from(["pause", "resume"]), ref, MAYBE_TEXT),
    )


COUNTS = ("SELECT (SELECT count(*) FROM harvest.runs), (SELECT count(*) FROM harvest.history),"
          " (SELECT count(*) FROM harvest.inbox), (SELECT count(*) FROM harvest.updates)")


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def test_arbitrary_input_gives_a_result_or_a_typed_error(
    client: hs.Client, start_worker: Any, db_url: str, loop: asyncio.AbstractEventLoop
) -> None:
    worker = start_worker(workflows=[mailbox])
    client.start(mailbox, id="box")
    wait_for(lambda: bool(client.describe("box").waiting))
    worker.stop()  # nothing moves in the background: what changes, a call changed
    aio = hs.AsyncClient(db_url)
    loop.run_until_complete(aio.open())
    seen: dict[str, int] = {}

    @settings(max_examples=300, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(call=_calls(aio))
    def one(call: tuple[str, Callable[[], Awaitable[Any]]]) -> None:
        name, make = call
        before = sql(db_url, COUNTS)
        try:
            loop.run_until_complete(asyncio.wait_for(make(), 20))
        except hs.HarvestError as exc:
            seen[type(exc).__name__] = seen.get(type(exc).__name__, 0) + 1
            assert str(exc) and "\n" not in str(exc).strip(), (name, str(exc))
            if not isinstance(exc, hs.QueryTimeoutError | hs.UpdateTimeoutError):
                assert sql(db_url, COUNTS) == before, (name, exc)  # nothing half written
        else:
            seen["ok"] = seen.get("ok", 0) + 1

    try:
        one()
    finally:
        loop.run_until_complete(aio.close())
    # the sweep reached both sides: accepted input and several kinds of refusal
    assert seen.get("ok", 0) > 0 and len(seen) >= 4, seen
    assert not math.isnan(float(len(seen)))


def test_limits_and_arity_are_checked_before_anything_is_written(
    client: hs.Client, start_worker: Any, db_url: str
) -> None:
    worker = start_worker(workflows=[mailbox])
    box = client.start(mailbox, id="box")
    worker.stop()
    before = sql(db_url, COUNTS)
    with pytest.raises(hs.UsageError, match="the limit is 200"):
        box.signal("s" * 201, 1)
    with pytest.raises(hs.UsageError, match="takes 0 to 1 argument"):
        client.start("mailbox", "a", "b", "c")  # by name: the registered signature decides
    with pytest.raises(hs.UsageError, match="takes 0 to 1 argument"):
        client.start(mailbox, "a", "b")
    with pytest.raises(hs.PayloadError, match="NUL"):
        client.start(mailbox, "a\x00b")
    with pytest.raises(hs.PayloadError, match="not valid Unicode"):
        box.signal("put", "\udcff")
    with pytest.raises(hs.UsageError, match="not valid text"):
        client.describe("\udcff")
    with pytest.raises(hs.UsageError, match="NUL"):
        box.cancel("why\x00")
    with pytest.raises(hs.RunNotFoundError):
        client.describe("x" * 500)
    with pytest.raises(hs.UsageError, match="a queue name"):
        client.start(mailbox, queue="q" * 201)
    assert sql(db_url, COUNTS) == before
    with pytest.raises(hs.UsageError, match="a queue name"):
        hs.Worker(client, workflows=[mailbox], queues=["q" * 201])
