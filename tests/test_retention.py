"""Retention: ``harvest purge`` removes ended runs and all they own, archiving them first
(JSONL or Parquet) with their full histories; running runs and other namespaces are left
alone; a namespace's default retention; the append-only guard holds everywhere else; and
``harvest db stop`` for the embedded server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

import harvest_studio as hs
from harvest_studio.cli import main as harvest_main

from .apps import cli_app
from .conftest import sql

ROOT = Path(__file__).resolve().parents[1]
Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(db_url: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = harvest_main(["--database-url", db_url, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def counts(db_url: str) -> dict[str, int]:
    tables = ("runs", "history", "attempt_logs", "signal_keys", "inbox", "tasks")
    return {t: int(sql(db_url, f"SELECT count(*) FROM harvest.{t}")[0][0]) for t in tables}


def soon() -> str:
    return (datetime.now(UTC) + timedelta(minutes=5)).isoformat()


def test_purge_archives_full_histories_and_spares_the_rest(
    client: hs.Client, cli: Cli, db_url: str, tmp_path: Path,
    start_worker: Callable[..., hs.Worker],
) -> None:
    start_worker(workflows=[cli_app.greet, cli_app.inbox], activities=[cli_app.shout])
    done = [client.start(cli_app.greet, f"n{i}") for i in range(4)]
    done.append(client.start(cli_app.inbox, 1))
    client.signal(done[-1].run_id, "item", 1, idempotency_key="k1")  # leaves a key row
    for run in done:
        run.result(timeout=20)
    waiting = client.start(cli_app.inbox, 1)
    client.create_namespace("other")
    with hs.connect(db_url, namespace="other") as other:
        kept = other.start("anything", force=True)
        other.terminate(kept.run_id)
    histories = {r.run_id: [e.event_type for e in client.history(r.run_id)] for r in done}

    code, out, err = cli("purge", "--ended-before", soon(), "--dry-run")
    assert code == 0 and out.startswith("would purge 5 run(s) of namespace default"), err
    assert counts(db_url)["runs"] == 7

    archive = tmp_path / "archive"
    code, out, err = cli("--json", "purge", "--ended-before", soon(), "--archive",
                         str(archive))
    assert code == 0, err
    report = json.loads(out)
    assert report["runs"] == 5 and report["batches"] == 1 and len(report["archive_files"]) == 1
    lines = Path(report["archive_files"][0]).read_text().splitlines()
    archived = {json.loads(line)["run"]["run_id"]: json.loads(line) for line in lines}
    assert set(archived) == set(histories)
    for run_id, types in histories.items():
        events = archived[run_id]["events"]
        assert [e["type"] for e in events] == types
        assert [e["seq"] for e in events] == list(range(1, len(types) + 1))
        assert archived[run_id]["run"]["status"] == "COMPLETED"
    assert "SignalReceived" in histories[done[-1].run_id]
    assert report["events"] == sum(len(t) for t in histories.values())

    left = sql(db_url, "SELECT run_id::text, status FROM harvest.runs ORDER BY status")
    assert sorted(left) == sorted([(waiting.run_id, "RUNNING"), (kept.run_id, "TERMINATED")])
    assert sql(db_url, "SELECT count(*) FROM harvest.history WHERE run_id = ANY(%s::uuid[])",
               (list(histories),)) == [(0,)]
    assert sql(db_url, "SELECT count(*) FROM harvest.signal_keys") == [(0,)]
    with pytest.raises(hs.RunNotFoundError):
        client.describe(done[0].run_id)
    # every other path still may not delete history, nor the audit trail
    for statement in ("DELETE FROM harvest.history", "UPDATE harvest.history SET seq = seq",
                      "TRUNCATE harvest.history", "DELETE FROM harvest.audit_log"):
        with pytest.raises(psycopg.Error):
            sql(db_url, statement)
    [row] = client.audit(action="runs.purge")
    assert (row.front_end, row.outcome, row.target) == ("cli", "ok", None)
    client.signal(waiting.run_id, "item", 7)
    assert waiting.result(timeout=20) == [7]  # the run left running was not disturbed


def test_namespace_retention_and_parquet_archive(
    client: hs.Client, cli: Cli, db_url: str, tmp_path: Path,
) -> None:
    client.create_namespace("short")
    client.create_namespace("long")
    for name in ("short", "long"):
        with hs.connect(db_url, namespace=name) as there:
            for _ in range(3):
                there.terminate(there.start("anything", force=True).run_id)
    code, out, err = cli("namespace", "retention", "short", "1s")
    assert code == 0 and out.strip() == "namespace short keeps ended runs for 1s"
    code, out, err = cli("namespace", "retention", "long", "-5s")
    assert code == 2
    code, out, err = cli("--json", "namespace", "list")
    retention = {n["name"]: n["retention_seconds"] for n in json.loads(out)["namespaces"]}
    assert retention == {"default": None, "short": 1.0, "long": None}
    time.sleep(1.2)
    code, out, err = cli("--json", "purge", "--all-namespaces", "--archive", str(tmp_path),
                         "--format", "parquet")
    assert code == 0, err
    report = json.loads(out)
    assert report["runs"] == 3 and report["ended_before"] is None
    import duckdb

    [parquet] = report["archive_files"]
    rows = duckdb.sql(f"SELECT namespace, status, events FROM '{parquet}'").fetchall()
    assert [(ns, status) for ns, status, _ in rows] == [("short", "TERMINATED")] * 3
    assert all(json.loads(events)[-1]["type"] == "WorkflowTerminated" for *_, events in rows)
    remaining = sql(db_url, "SELECT namespace, count(*) FROM harvest.runs GROUP BY 1")
    assert remaining == [("long", 3)]
    code, out, err = cli("namespace", "retention", "short", "forever")
    assert out.strip() == "namespace short keeps its ended runs forever"
    code, out, err = cli("purge", "--ended-before", "yesterday")
    assert code == 2 and "bad_time" in err


def test_db_stop_stops_the_embedded_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HARVEST_DATABASE_URL"}
    env["HARVEST_HOME"] = str(tmp_path)

    def harvest(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "harvest_studio", *argv], cwd=tmp_path,
                              env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True,
                              text=True, timeout=120)

    assert "is not running" in harvest("db", "stop").stdout
    assert harvest("db", "status").returncode == 0  # starts it
    pid = int((tmp_path / ".harvest" / "pgdata" / "postmaster.pid").read_text().split()[0])
    stopped = harvest("db", "stop")
    assert stopped.returncode == 0 and f"pid {pid}" in stopped.stdout
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    refused = harvest("--database-url", "postgresql://x@/y", "db", "stop")
    assert refused.returncode == 2 and "embedded server only" in refused.stderr
    assert harvest("db", "status").returncode == 0  # the next command starts it again
    harvest("db", "stop")
