"""The audit trail and API tokens: one row per mutation from every front end, filters and
pages, the append-only guard, and tokens made, used and revoked."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

import harvest_studio as hs
from harvest_studio.cli import main as harvest_main

from .conftest import sql


@hs.activity
def noted(ctx: hs.ActivityContext, x: int) -> int:
    return x


@hs.workflow
async def waits(ctx: hs.WorkflowContext) -> str:
    await ctx.wait_condition(lambda: False)
    return "never"


def _rows(db_url: str) -> list[tuple[Any, ...]]:
    return sql(db_url, "SELECT actor, front_end, action, target, outcome FROM"
                       " harvest.audit_log ORDER BY seq")


def test_every_client_mutation_leaves_one_row(client: hs.Client, db_url: str) -> None:
    run = client.start(waits, id="audited", force=True)
    client.signal("audited", "poke", 1)
    client.pause("audited", "look")
    client.resume("audited")
    client.cancel("audited", "done with it")
    client.create_namespace("ops-a")
    client.set_limits(queue="slow", max_concurrent=2)
    client.pause_queue("slow")
    rows = _rows(db_url)
    assert [r[2] for r in rows] == [
        "run.start", "run.signal", "run.pause", "run.resume", "run.cancel",
        "namespace.create", "limits.set", "queue.pause",
    ]
    assert {r[1] for r in rows} == {"python"}
    assert rows[0][3] == "audited" and rows[5][3] == "ops-a" and rows[6][3] == "queue:slow"
    assert all(r[4] == "ok" for r in rows)
    # found by either of the run's ids
    by_run = [r.action for r in client.audit(run=run.run_id)]
    assert by_run == ["run.cancel", "run.resume", "run.pause", "run.signal", "run.start"]


def test_failures_are_recorded_and_refusals_are_not(client: hs.Client, db_url: str) -> None:
    with pytest.raises(hs.RunNotFoundError):
        client.cancel("no-such-run")
    with pytest.raises(hs.UsageError):
        client.signal("no-such-run", "")  # refused before anything was tried
    with pytest.raises(hs.UsageError):
        client.start("x" * 300, force=True)
    rows = _rows(db_url)
    assert [(r[2], r[3], r[4]) for r in rows] == [
        ("run.cancel", "no-such-run", "run_not_found")
    ]
    record = client.audit()[0]
    assert record.detail is not None and "no-such-run" in record.detail


def test_nested_and_dry_run_calls(client: hs.Client, db_url: str,
                                  start_worker: Callable[..., hs.Worker]) -> None:
    run = client.start(waits, id="nested", force=True)
    start_worker(workflows=[waits], activities=[noted])
    client.signal_with_start(waits, signal="poke", signal_args=[1], id="nested")
    with pytest.raises(hs.HarvestError):
        client.reset(run.run_id, dry_run=True)
    actions = [r[2] for r in _rows(db_url)]
    assert actions == ["run.start", "run.signal_with_start"]


def test_actor_and_caller_override(db_url: str) -> None:
    with hs.connect(db_url, actor="alice") as alice:
        alice.start("anything", force=True, id="a1")

    async def as_bot() -> None:
        async with hs.AsyncClient(db_url, actor="svc") as aio:
            with hs.client.acting_as(hs.client.Caller("token:ci-bot", "api", "req-7")):
                await aio.cancel("a1")
            await aio.terminate("a1")

    asyncio.run(as_bot())
    got = sql(db_url, "SELECT actor, front_end, action, request_id, outcome"
                      " FROM harvest.audit_log ORDER BY seq")
    assert got == [
        ("alice", "python", "run.start", None, "ok"),
        ("token:ci-bot", "api", "run.cancel", "req-7", "ok"),
        ("svc", "python", "run.terminate", None, "ok"),
    ]
    with pytest.raises(hs.UsageError):
        hs.connect(db_url, actor="x\x00y")


def test_filters_and_pages(client: hs.Client) -> None:
    for i in range(7):
        client.start("anything", force=True, id=f"p{i}")
    client.cancel("p3")
    first = client.audit(limit=3)
    assert [r.target for r in first] == ["p3", "p6", "p5"]
    older = client.audit(limit=3, before=first[-1].seq)
    assert [r.target for r in older] == ["p4", "p3", "p2"]
    assert [r.action for r in client.audit(action="run.cancel")] == ["run.cancel"]
    assert len(client.audit(action="run.")) == 8
    assert client.audit(actor="nobody") == []
    with pytest.raises(hs.UsageError):
        client.audit(limit=0)


def test_audit_log_is_append_only(client: hs.Client, db_url: str) -> None:
    client.start("anything", force=True)
    for statement in ("UPDATE harvest.audit_log SET actor = 'mallory'",
                      "DELETE FROM harvest.audit_log",
                      "TRUNCATE harvest.audit_log"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            sql(db_url, statement)
    assert len(_rows(db_url)) == 1


def test_tokens_made_used_and_revoked(client: hs.Client, db_url: str) -> None:
    made = client.create_token("ci-bot", "operate", namespace="default")
    assert made.secret.startswith("hvst_") and len(made.secret) > 40
    stored = sql(db_url, "SELECT secret_sha256 FROM harvest.api_tokens")
    assert made.secret.encode() not in bytes(stored[0][0])  # only the digest is kept
    with pytest.raises(hs.client.TokenNameTakenError):
        client.create_token("ci-bot", "read")
    with pytest.raises(hs.UsageError):
        client.create_token("other", "root")

    async def check(secret: str) -> hs.TokenInfo | None:
        async with hs.AsyncClient(db_url) as aio:
            return await aio.authenticate(secret)

    info = asyncio.run(check(made.secret))
    assert info is not None and info.name == "ci-bot" and info.scope == "operate"
    assert info.allows("read", "default") and info.allows("operate", "default")
    assert not info.allows("admin", "default") and not info.allows("operate", "other")
    assert asyncio.run(check(made.secret + "x")) is None
    assert asyncio.run(check("nonsense")) is None
    [listed] = client.tokens()
    assert listed.last_used_at is not None
    client.revoke_token("ci-bot")
    assert asyncio.run(check(made.secret)) is None
    assert client.tokens() == [] and len(client.tokens(include_revoked=True)) == 1
    with pytest.raises(hs.client.TokenNotFoundError):
        client.revoke_token("ci-bot")
    client.create_token("ci-bot", "read")  # the name is free again
    assert [(r[2], r[4]) for r in _rows(db_url)] == [
        ("token.create", "ok"), ("token.create", "token_name_taken"), ("token.revoke", "ok"),
        ("token.revoke", "token_not_found"), ("token.create", "ok"),
    ]


def test_cli_audit_and_tokens(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    def harvest(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = harvest_main(["--database-url", db_url, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = harvest("token", "create", "--scope", "admin", "--name", "ops",
                           "--namespace", "default")
    assert code == 0 and out.startswith("hvst_") and "only time" in out
    code, out, _ = harvest("--json", "token", "list")
    [token] = json.loads(out)["tokens"]
    assert token["name"] == "ops" and token["namespace"] == "default"
    assert "secret" not in json.dumps(token)
    code, out, err = harvest("start", "anything", "--force", "--id", "c1")
    assert code == 0
    code, out, err = harvest("token", "revoke", "nope")
    assert code == 1 and "token_not_found" in err
    code, out, err = harvest("audit", "--since", "1h")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["SEQ", "AT", "ACTOR", "VIA", "ACTION"]
    assert "token.revoke" in lines[1] and "cli" in lines[1]
    code, out, _ = harvest("--json", "audit", "--run", "c1")
    [row] = json.loads(out)["records"]
    assert row["action"] == "run.start" and row["front_end"] == "cli"
    code, out, err = harvest("audit", "--since", "yesterday-ish")
    assert code == 2 and "bad_time" in err
