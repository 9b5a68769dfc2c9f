"""Namespaces: creation, scoping of runs and workers, deletion."""

from __future__ import annotations

from typing import Any

import pytest

import harvest_studio as hs

from .conftest import FAST


@hs.activity
def hello(ctx: hs.ActivityContext, who: str) -> str:
    return f"hello {who} from {ctx.info.namespace}"


@hs.workflow
async def greets(ctx: hs.WorkflowContext, who: str) -> str:
    return str(await ctx.execute_activity(hello, who))


def test_namespaces_scope_runs_and_workers(client: hs.Client, db_url: str) -> None:
    assert client.create_namespace("team-a", "the A team") is True
    assert client.create_namespace("team-a") is False
    with pytest.raises(hs.UsageError):
        client.create_namespace("bad name!")
    names = {n["name"] for n in client.list_namespaces()}
    assert names == {"default", "team-a"}
    team = hs.connect(db_url, namespace="team-a")
    try:
        with hs.Worker(team, workflows=[greets], activities=[hello], **FAST):
            run = team.start(greets, "ada", id="same-id")
            assert run.result(timeout=20) == "hello ada from team-a"
        # the same workflow id is free in another namespace; the other client can't see it
        with pytest.raises(hs.UnknownWorkflowError):
            client.start("greets", "bob", id="same-id")
        with pytest.raises(hs.RunNotFoundError):
            client.describe("same-id")
        with pytest.raises(hs.RunNotFoundError):
            client.describe(str(run.run_id))
        assert len(team.list()) == 1 and len(client.list()) == 0
        with pytest.raises(hs.NamespaceNotEmptyError):
            client.delete_namespace("team-a")
    finally:
        team.close()
    client.create_namespace("empty")
    client.delete_namespace("empty")
    with pytest.raises(hs.NamespaceNotFoundError):
        client.delete_namespace("empty")
    with pytest.raises(hs.UsageError):
        client.delete_namespace("default")


def test_unknown_namespace_is_refused(db_url: str) -> None:
    ghost = hs.connect(db_url, namespace="ghost")
    try:
        with pytest.raises(hs.NamespaceNotFoundError):
            ghost.start("anything", force=True)
        with pytest.raises(hs.NamespaceNotFoundError):
            hs.Worker(ghost, workflows=[greets], **FAST).start()
    finally:
        ghost.close()


def test_default_namespace_listed(client: hs.Client) -> None:
    rows: list[dict[str, Any]] = client.list_namespaces()
    assert rows[0]["name"] == "default" and rows[0]["runs"] == 0
