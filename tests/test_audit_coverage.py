"""Every verb of the command line is either a change, which leaves exactly one audit row
(front end ``cli``, the OS user as actor, the right action and outcome ``ok``), or is
named here as one that changes no run, schedule, queue, token, worker or dead letter. A
new verb that is in neither list fails this test until someone decides which it is."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import pytest

import harvest_studio as hs
from harvest_studio.cli import main as harvest_main
from harvest_studio.cli.parser import build_parser
from harvest_studio.client._audit import os_user

from .apps import cli_app
from .conftest import sql

broken = {"on": True}  # the activity fails: runs end on an exhausted activity


@hs.activity(start_to_close="10s", retry=hs.RetryPolicy(max_attempts=1))
def maybe(ctx: hs.ActivityContext) -> int:
    if broken["on"]:
        raise RuntimeError("broken")
    return 1


@hs.dag
def little(d: hs.Dag) -> None:
    d.task(maybe)


@hs.dag
def gated(d: hs.Dag) -> None:
    gate = d.wait_signal("files_ready")
    d.task(maybe, upstream=[gate])


@hs.workflow
async def flaky_flow(ctx: hs.WorkflowContext) -> int:
    return int(await ctx.execute_activity(maybe))


READ_ONLY = {  # verbs that change nothing an operator would need to trace
    "db status", "result", "list", "show", "history", "query", "children", "chain",
    "namespace list", "queue list", "activity list", "workflow list", "dag list",
    "dag show", "dag graph", "dag runs", "schedule list", "schedule show",
    "schedule preview", "schedule log", "export", "lint", "replay-check", "audit",
    "token list", "workers", "dlq list", "dlq show", "dlq group", "hooks list",
    "hooks deliveries",
}
NOT_AUDITED = {  # changes of another kind, said why
    "db migrate": "the schema, not the data: recorded in harvest.schema_migrations",
    "db stop": "stops the local embedded server process; no database row changes",
    "worker": "serves runs; what it does is the runs' own history",
    "serve": "serves the API, whose every change is audited as front end api",
    "studio": "serves JupyterLab, whose changes are audited as front end lab (or magics)",
    "demo": "its runs are started by its own client, each audited as run.start",
}


def verbs() -> set[str]:
    def walk(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> set[str]:
        found: set[str] = set()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    nested = [a for a in sub._actions
                              if isinstance(a, argparse._SubParsersAction)]
                    found |= walk(sub, (*prefix, name)) if nested else {
                        " ".join((*prefix, name))}
        return found

    return walk(build_parser())


def test_every_cli_change_leaves_exactly_one_audit_row(
    db_url: str, client: hs.Client, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    start_worker: Callable[..., hs.Worker],
) -> None:
    broken["on"] = True
    start_worker(workflows=[cli_app.greet, cli_app.inbox, cli_app.tally, flaky_flow, little,
                          gated],
                 activities=[cli_app.shout, maybe])

    def harvest(*argv: str) -> str:
        capsys.readouterr()
        code = harvest_main(["--database-url", db_url, *argv])
        out, err = capsys.readouterr()
        assert code == 0, (argv, err)
        return out

    def rows() -> list[tuple[str, str, str, str]]:
        return sql(db_url, "SELECT action, actor, front_end, outcome FROM harvest.audit_log"
                           " ORDER BY seq")

    done = client.start(cli_app.greet, "x")
    done.result(timeout=20)
    failed = client.start(flaky_flow)
    failed_dag = client.start(little)
    for run in (failed, failed_dag):
        with pytest.raises(hs.WorkflowFailedError):
            run.result(timeout=20)
    held = client.start(cli_app.inbox, 9, id="held")
    client.start(gated, id="gated-1")
    client.create_namespace("spare")
    client.create_schedule("nightly", cli_app.greet, "n", every="1h", paused=True)
    [worker] = client.workers()
    scenario: dict[str, tuple[list[str], str]] = {
        "start": (["start", "greet", '"y"', "--id", "cli-1"], "run.start"),
        "signal": (["signal", "held", "item", "1"], "run.signal"),
        "update": (["update", "--json", "cli-t", "add", "2"], "run.update"),
        "pause": (["pause", "held"], "run.pause"),
        "resume": (["resume", "held"], "run.resume"),
        "reset": (["reset", done.run_id, "--to", "last_workflow_task"], "run.reset"),
        "retry": (["retry", failed.run_id], "run.retry"),
        "rerun": (["rerun", done.run_id], "run.rerun"),
        "cancel": (["cancel", "cli-t"], "run.cancel"),
        "terminate": (["terminate", "held"], "run.terminate"),
        "namespace create": (["namespace", "create", "cli-ns"], "namespace.create"),
        "namespace retention": (["namespace", "retention", "spare", "30d"],
                                "namespace.retention"),
        "namespace delete": (["namespace", "delete", "cli-ns"], "namespace.delete"),
        "queue pause": (["queue", "pause", "q1"], "queue.pause"),
        "queue resume": (["queue", "resume", "q1"], "queue.resume"),
        "queue limit": (["queue", "limit", "q1", "--max-concurrent", "3"], "limits.set"),
        "activity pause": (["activity", "pause", "shout"], "activity.pause"),
        "activity resume": (["activity", "resume", "shout"], "activity.resume"),
        "activity limit": (["activity", "limit", "shout", "--rate", "5"], "limits.set"),
        "workflow limit": (["workflow", "limit", "greet", "--max-workflows", "9"],
                           "limits.set"),
        "dag retry": (["dag", "retry", failed_dag.run_id], "dag.retry"),
        "dag mark": (["dag", "mark", "gated-1", "files_ready", "--skipped"], "dag.mark"),
        "schedule create": (["schedule", "create", "hourly", "--workflow", "greet", '"h"',
                             "--every", "1h", "--paused"], "schedule.create"),
        "schedule pause": (["schedule", "pause", "nightly"], "schedule.pause"),
        "schedule resume": (["schedule", "resume", "nightly"], "schedule.resume"),
        "schedule trigger": (["schedule", "trigger", "nightly"], "schedule.trigger"),
        "schedule backfill": (["schedule", "backfill", "hourly", "--from",
                               "2026-11-30T00:00:00Z", "--to", "2026-11-30T01:30:00Z"],
                              "schedule.backfill"),
        "schedule delete": (["schedule", "delete", "hourly"], "schedule.delete"),
        "token create": (["token", "create", "--scope", "read", "--name", "cli-bot"],
                         "token.create"),
        "token revoke": (["token", "revoke", "cli-bot"], "token.revoke"),
        "hooks add": (["hooks", "add", "cli-hook", "--url", "http://127.0.0.1:9/x"],
                      "webhook.create"),
        "hooks remove": (["hooks", "remove", "cli-hook"], "webhook.remove"),
        "dlq discard": ([], "dlq.discard"),  # filled in below, once the letter is known
        "dlq replay": ([], "dlq.replay"),
        "purge": (["purge", "--ended-before", "2099-01-01T00:00:00Z", "--namespace",
                   "spare"], "runs.purge"),
        "workers": (["workers", "drain", worker.worker_id], "worker.drain"),
    }
    unclassified = verbs() - READ_ONLY - set(NOT_AUDITED) - set(scenario)
    assert not unclassified, f"say whether these verbs change anything: {unclassified}"

    client.start(cli_app.tally, 1, id="cli-t")
    order = [v for v in scenario if v not in ("workers", "purge")] + ["purge", "workers"]
    me = os_user()
    for verb in order:
        argv, action = scenario[verb]
        if verb == "dlq discard":
            argv = ["dlq", "discard", "--kind", "failed_run", "--workflow-type", "flaky_flow",
                    "--reason", "seen"]
        if verb == "dlq replay":
            late = client.start(flaky_flow)
            with pytest.raises(hs.WorkflowFailedError):
                late.result(timeout=20)
            argv = ["dlq", "replay", f"run-{late.run_id}"]
        before = rows()
        harvest(*argv)
        after = rows()
        assert len(after) == len(before) + 1, (verb, after[len(before):])
        assert after[-1] == (action, me, "cli", "ok"), (verb, after[-1])
    assert json.loads(harvest("--json", "audit", "--limit", "1"))["records"][0]["action"] == \
        "worker.drain"
    assert held.describe().status == "TERMINATED"
