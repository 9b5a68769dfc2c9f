"""The analysis bench: histories loaded into DuckDB (the same counts and sums as in
PostgreSQL, incremental loads add exactly what is new), SQL with bound parameters, and the
``%harvest load`` / ``%%harvest sql`` magics in a real IPython shell."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.completer import provisionalcompleter
from IPython.core.error import UsageError as IPythonUsageError
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

import harvest_studio as hs
from harvest_studio.tools.analysis import HistoryDB, SqlError
from harvest_studio.tools.analysis.querying import bind

from .conftest import sql, wait_for

flaky = {"left": 0}


@hs.activity(retry=hs.RetryPolicy(max_attempts=3, initial_interval=0.05, jitter=0.0))
def charge(ctx: hs.ActivityContext, amount: int) -> int:
    if flaky["left"] > 0:
        flaky["left"] -= 1
        raise ConnectionError("card network down")
    return amount * 2


@hs.workflow
async def order(ctx: hs.WorkflowContext, amount: int) -> int:
    first = await ctx.execute_activity(charge, amount)
    await ctx.sleep(0.05)
    go = await ctx.wait_signal("go", timeout=30)
    return int(first) + int(await ctx.execute_activity(charge, go))


@hs.dag
def tiny(d: hs.Dag) -> None:
    a = d.task(charge, 1, name="a")
    d.task(charge, a, name="b")


def _finish(client: hs.Client, n: int) -> list[hs.RunHandle]:
    runs = [client.start(order, i) for i in range(n)]
    for i, run in enumerate(runs):
        run.signal("go", i + 1)
    for run in runs:
        run.result(timeout=30)
    return runs


def _pg_counts(db_url: str) -> dict[str, int]:
    rows = sql(db_url, "SELECT event_type, count(*) FROM harvest.history GROUP BY 1")
    return {str(t): int(n) for t, n in rows}


def _duck_counts(db: HistoryDB) -> dict[str, int]:
    rows = db.sql("SELECT type, count(*) FROM events GROUP BY 1").rows
    return {str(r[0]): int(r[1]) for r in rows}


def test_a_load_matches_postgres_and_a_second_adds_only_what_is_new(
    client: hs.Client, start_worker: Any, db_url: str
) -> None:
    start_worker(workflows=[order, tiny], activities=[charge])
    flaky["left"] = 2  # the first charge fails twice, then succeeds
    _finish(client, 5)
    client.start(tiny).result(timeout=30)
    waiting = client.start(order, 100)  # still running at the first load: waiting for "go"
    wait_for(
        lambda: any(e.event_type == "TimerFired" for e in waiting.history())
        and any(e.event_type == "TimerStarted" and e.seq > 5 for e in waiting.history())
    )

    db = hs.analytics.load(client)
    assert db.last is not None and db.last.runs == 7
    assert _duck_counts(db) == _pg_counts(db_url)
    [(pg_sum,)] = sql(db_url, "SELECT sum(seq) + count(DISTINCT run_id) FROM harvest.history")
    assert db.sql("SELECT sum(seq) + count(DISTINCT run_id) FROM events").rows == [(pg_sum,)]
    assert db.sql("SELECT status, count(*) FROM runs GROUP BY 1 ORDER BY 1").rows == [
        ("COMPLETED", 6),
        ("RUNNING", 1),
    ]
    # attempts: one row per ActivityStarted, with the two failures of the flaky charge
    [(started,)] = sql(
        db_url, "SELECT count(*) FROM harvest.history WHERE event_type = 'ActivityStarted'"
    )
    assert db.sql("SELECT count(*) FROM attempts").rows == [(started,)]
    failed = db.sql(
        "SELECT outcome, error_type, retrying FROM attempts WHERE outcome = 'failed'"
    ).rows
    assert failed == [("failed", "ConnectionError", True)] * 2
    # each failed attempt was followed by another one of the same activity
    assert db.sql(
        "SELECT count(*) FROM attempts f JOIN attempts n ON n.run_id = f.run_id"
        " AND n.scheduled_seq = f.scheduled_seq AND n.attempt = f.attempt + 1"
        " WHERE f.outcome = 'failed'"
    ).rows == [(2,)]
    [(negative,)] = db.sql(
        "SELECT count(*) FROM attempts WHERE queue_ms < 0 OR run_ms < 0 OR ready_at IS NULL"
    ).rows
    assert negative == 0
    counts = _pg_counts(db_url)
    assert db.sql("SELECT count(*), count(fired_at) FROM timers").rows == [
        (counts["TimerStarted"], counts["TimerFired"])
    ]
    [(late,)] = db.sql("SELECT min(late_ms) FROM timers").rows
    assert late >= 0  # a timer never fires before its time
    assert db.sql("SELECT name, count(*) FROM signals GROUP BY 1").rows == [("go", 5)]
    assert db.sql("SELECT node, state FROM dag_nodes ORDER BY node").rows == [
        ("a", "succeeded"),
        ("b", "succeeded"),
    ]
    # the ready-made views
    assert db.sql("SELECT activity_type, retried_attempts FROM retries").rows == [("charge", 2)]
    assert db.sql("SELECT error_type, attempts, final FROM failures_by_cause").rows == [
        ("ConnectionError", 2, 0)
    ]
    durations = db.sql("SELECT workflow_type, status, runs, p50_ms > 0 FROM run_durations")
    assert durations.rows == [("order", "COMPLETED", 5, True), ("tiny", "COMPLETED", 1, True)]
    assert db.sql("SELECT count(*) FROM queue_waits WHERE p95_ms >= p50_ms").rows == [(1,)]
    assert db.sql("SELECT workflow_type, timers FROM timer_lateness").rows == [
        ("order", counts["TimerFired"])
    ]
    assert db.sql("SELECT node, runs, succeeded FROM dag_node_stats").rows == [
        ("a", 1, 1),
        ("b", 1, 1),
    ]

    # the running run goes on and two more finish: the second load copies just that
    before = db.sql("SELECT count(*) FROM events").rows[0][0]
    waiting.signal("go", 1)
    waiting.result(timeout=30)
    _finish(client, 2)
    [(pg_total,)] = sql(db_url, "SELECT count(*) FROM harvest.history")
    report = db.load()
    assert report.runs == 3 and report.events == pg_total - before
    assert _duck_counts(db) == _pg_counts(db_url)
    assert db.sql("SELECT count(*) - count(DISTINCT (run_id, seq)) FROM events").rows == [(0,)]
    assert db.sql("SELECT count(*) FROM runs WHERE status = 'RUNNING'").rows == [(0,)]
    again = db.load()  # nothing new
    assert (again.runs, again.events) == (0, 0)
    assert db.sql("SELECT count(*) FROM harvest_loads").rows == [(3,)]


@hs.workflow
async def beat(ctx: hs.WorkflowContext) -> str:
    return "tick"


def test_schedule_slots_load_and_a_second_load_adds_the_new_ones(
    client: hs.Client, start_worker: Any, db_url: str
) -> None:
    start_worker(workflows=[beat])
    client.create_schedule("pulse", beat, every="1s")
    wait_for(lambda: sql(db_url, "SELECT count(*) FROM harvest.schedule_slots")[0][0] >= 2)
    db = hs.analytics.load(client)
    first = db.sql("SELECT count(*) FROM schedule_slots").rows[0][0]
    wait_for(lambda: sql(db_url, "SELECT count(*) FROM harvest.schedule_slots")[0][0]
             >= first + 2)
    client.pause_schedule("pulse")
    db.load()
    [(in_pg,)] = sql(db_url, "SELECT count(*) FROM harvest.schedule_slots")
    in_duck = db.sql("SELECT count(*), count(DISTINCT slot) FROM schedule_slots").rows[0]
    assert in_duck == (in_pg, in_pg) and in_pg >= first + 2
    [row] = db.sql("SELECT schedule, slots, started, p50_start_lag_ms FROM schedule_lateness"
                   " WHERE schedule = 'pulse'").rows
    assert row[0] == "pulse" and row[1] == in_pg and row[2] >= 1
    assert row[3] is not None and 0 <= row[3] < 2000  # a run never starts before its slot
    db.close()


def test_since_and_namespaces_and_a_file(
    client: hs.Client, start_worker: Any, db_url: str, tmp_path: Path
) -> None:
    start_worker(workflows=[order], activities=[charge])
    _finish(client, 2)
    sql(db_url, "UPDATE harvest.runs SET created_at = now() - interval '10 days',"
        " closed_at = now() - interval '9 days'")
    _finish(client, 1)
    path = tmp_path / "h.duckdb"
    db = hs.analytics.load(client, since="7d", file=path)
    assert db.sql("SELECT count(*) FROM runs").rows == [(1,)]
    db.close()
    reopened = HistoryDB(client, file=path)  # the file keeps what was loaded
    assert reopened.sql("SELECT count(*) FROM runs").rows == [(1,)]
    assert reopened.load(all_namespaces=True).runs == 2
    assert reopened.load(namespace="nope").runs == 0
    with pytest.raises(hs.UsageError, match="not a time"):
        reopened.load(since="last tuesday")
    reopened.close()


def test_parameters_are_bound_never_pasted() -> None:
    text, params = bind(
        "SELECT :a, {b}, x::int, ':not_me', \"{nor_me}\" FROM t WHERE y = :a",
        {"a": 1, "b": "it's", "unused": 3},
    )
    assert text == "SELECT $a, $b, x::int, ':not_me', \"{nor_me}\" FROM t WHERE y = $a"
    assert params == {"a": 1, "b": "it's"}
    with pytest.raises(SqlError, match="no value for parameter 'missing'"):
        bind("SELECT :missing", {})


def test_sql_results_and_errors(client: hs.Client) -> None:
    db = HistoryDB(client)
    assert db.sql("SELECT :who AS who, {n} + 1 AS n", {"who": "o'brien", "n": 41}).rows == [
        ("o'brien", 42)
    ]
    result = db.sql("SELECT * FROM runs")
    assert result.columns[:4] == ["run_id", "namespace", "workflow_id", "workflow_type"]
    assert "(no rows)" in str(result) and "<table" in result._repr_html_()
    assert list(result.df().columns) == result.columns
    with pytest.raises(SqlError) as raised:
        db.sql("SELECT * FROM no_such_table")
    assert "no_such_table" in str(raised.value) and "\n" not in str(raised.value)
    assert set(db.tables()) >= {"runs", "events", "attempts", "harvest_loads", "retries"}
    assert db.sql("SELECT count(*) FROM failures_by_cause").rows == [(0,)]  # empty, not missing


# ------------------------------------------------------------------------------- magics
class AnalysisShell(InteractiveShell):
    __test__ = False


@pytest.fixture(scope="module")
def shell() -> Iterator[InteractiveShell]:
    config = Config()
    config.HistoryAccessor.enabled = False
    ip = AnalysisShell.instance(config=config)
    ip.displayhook.flush = lambda: None  # type: ignore[method-assign]
    yield ip
    AnalysisShell.clear_instance()


def _ok(shell: InteractiveShell, cell: str) -> Any:
    result = shell.run_cell(cell)
    error = result.error_before_exec or result.error_in_exec
    if error is not None:
        raise error
    return result.result


def _fails(shell: InteractiveShell, cell: str) -> str:
    error = shell.run_cell(cell).error_in_exec
    assert isinstance(error, IPythonUsageError), f"{cell!r} gave {error!r}"
    assert "\n" not in str(error)
    return str(error)


def test_magics_load_and_sql(
    shell: InteractiveShell, client: hs.Client, start_worker: Any, db_url: str
) -> None:
    start_worker(workflows=[order], activities=[charge])
    _finish(client, 3)
    _ok(shell, "%load_ext harvest_studio")
    try:
        _ok(shell, f"%config HarvestMagics.database_url = {db_url!r}")
        assert "nothing loaded yet" in _fails(shell, "%harvest sql SELECT 1")
        loaded = _ok(shell, "%harvest load --since 7d")
        assert loaded.text.startswith("loaded 3 new or changed run(s) and ")
        shell.user_ns["kind"] = "charge"
        table = _ok(
            shell,
            "%%harvest sql -o frame\n"
            "SELECT activity_type, count(*) AS n FROM attempts\n"
            "WHERE activity_type = :kind GROUP BY 1",
        )
        assert table.rows == [("charge", 6)]
        assert shell.user_ns["frame"]["n"].tolist() == [6]
        data, _ = shell.display_formatter.format(table)
        assert "<table" in data["text/html"] and "charge" in data["text/plain"]
        assert "no value for parameter 'nobody'" in _fails(shell, "%harvest sql SELECT :nobody")
        assert "sql_error" in _fails(shell, "%harvest sql SELEC 1")
        with provisionalcompleter():
            line = "%harvest sql SELECT queue_ms FROM att"
            offered = [c.text for c in shell.Completer.completions(line, len(line))]
        assert "attempts" in offered and "retries" not in offered
        with provisionalcompleter():
            line = "%harvest sql SELECT queue_"
            offered = [c.text for c in shell.Completer.completions(line, len(line))]
        assert "queue_ms" in offered
        _finish(client, 1)
        again = _ok(shell, "%harvest load")
        assert again.text.startswith("loaded 1 new or changed run(s)")
        assert "--file goes with the kernel's first load" in _fails(
            shell, "%harvest load --file other.duckdb"
        )
    finally:
        shell.run_cell("%unload_ext harvest_studio")
        shell.reset(new_session=False)
        shell.config.pop("HarvestMagics", None)


def test_an_unreachable_database_is_a_typed_error_and_loads_nothing(
    client: hs.Client, db_url: str, pg_server_url: str
) -> None:
    db = HistoryDB(client)
    name = sql(db_url, "SELECT current_database()")[0][0]
    sql(pg_server_url, f"DROP DATABASE {name} WITH (FORCE)")  # the database goes away
    with pytest.raises(hs.DatabaseUnavailableError, match="could not load histories") as raised:
        db.load()
    assert "\n" not in str(raised.value)
    assert db.sql("SELECT count(*) FROM runs").rows == [(0,)]
    assert db.sql("SELECT count(*) FROM harvest_loads").rows == [(0,)]


def test_export_parquet_from_the_command_line(
    client: hs.Client, start_worker: Any, db_url: str, tmp_path: Path, capsys: Any
) -> None:
    import json

    import duckdb

    from harvest_studio.cli import main as harvest_main

    start_worker(workflows=[order], activities=[charge])
    _finish(client, 3)
    target = tmp_path / "histories"
    capsys.readouterr()
    argv = ["--database-url", db_url, "--json", "export", "--parquet", str(target)]
    assert harvest_main(argv) == 0
    written = json.loads(capsys.readouterr().out)
    [(pg_events,)] = sql(db_url, "SELECT count(*) FROM harvest.history")
    assert written["rows"]["events"] == pg_events and written["rows"]["runs"] == 3
    days = list((target / "events").iterdir())
    assert days and all(d.name.startswith("day=") for d in days)
    con = duckdb.connect()
    [(n, runs)] = con.execute(
        "SELECT count(*), count(DISTINCT run_id)"
        f" FROM read_parquet('{target}/events/**/*.parquet', hive_partitioning = true)"
    ).fetchall()
    assert (n, runs) == (pg_events, 3)
    # a second export into the same directory is refused before the database is read
    before = sorted(p.name for p in target.rglob("*"))
    code = harvest_main(["--database-url", db_url, "export", "--parquet", str(target)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "exists and is not an empty directory" in err
    assert sorted(p.name for p in target.rglob("*")) == before
    code = harvest_main(["--database-url", db_url, "export", "--parquet", "/no/such/dir/x"])
    assert code == 2 and "no directory '/no/such/dir'" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["histories"]  # no staging left behind



def test_without_duckdb_the_error_says_which_extra(
    client: hs.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "duckdb", None)  # as if it were not installed
    with pytest.raises(hs.UsageError, match=r"pip install 'harvest-studio\[analysis\]'"):
        hs.analytics.load(client)


tries = {"left": 0}


@hs.activity(retry=hs.RetryPolicy(max_attempts=6, initial_interval=0.01, jitter=0.0))
def stubborn(ctx: hs.ActivityContext) -> str:
    if tries["left"] > 0:
        tries["left"] -= 1
        raise TimeoutError("upstream slow")  # its own TimeoutError: a failure, not a crash
    return "x" * (1100 * 1024)  # a result over 1 MiB


@hs.workflow
async def wasteful(ctx: hs.WorkflowContext) -> int:
    total = 0
    for amount in (1, 2, 3):  # one at a time, though they do not depend on each other
        total += int(await ctx.execute_activity(charge, amount))
    await ctx.sleep(0)
    await ctx.execute_activity(stubborn)
    return total


@hs.workflow
async def tidy(ctx: hs.WorkflowContext) -> int:
    results = await ctx.gather(*(ctx.execute_activity(charge, a) for a in (1, 2, 3)))
    return sum(int(r) for r in results)


def test_history_rules_over_loaded_runs(
    client: hs.Client, start_worker: Any, shell: InteractiveShell, db_url: str
) -> None:
    tries["left"] = 4  # five attempts
    start_worker(workflows=[wasteful, tidy], activities=[charge, stubborn])
    bad = client.start(wasteful)
    bad.result(timeout=60)
    client.start(tidy).result(timeout=30)
    db = hs.analytics.load(client)
    report = db.lint()
    found = sorted((f.code, f.workflow) for f in report.findings)
    assert found == [("HIS001", "wasteful"), ("HIS002", "wasteful"), ("HIS003", "wasteful"),
                     ("HIS004", "wasteful")]
    assert all(f.path == f"run {bad.run_id}" for f in report.findings)
    his004 = next(f for f in report.findings if f.code == "HIS004")
    assert "charge: 3 in a row" in his004.message and "ctx.gather" in his004.hint
    assert str(his004).startswith(f"run {bad.run_id}, event ")
    assert str(report).endswith("4 finding(s) in 2 loaded run(s)")
    # the same from the notebook
    _ok(shell, "%load_ext harvest_studio")
    try:
        _ok(shell, f"%config HarvestMagics.database_url = {db_url!r}")
        assert "run %harvest load first" in _fails(shell, "%harvest lint --history")
        _ok(shell, "%harvest load")
        shown = _ok(shell, "%harvest lint --history")
        assert sorted(f.code for f in shown.data.findings) == ["HIS001", "HIS002", "HIS003",
                                                                "HIS004"]
    finally:
        shell.run_cell("%unload_ext harvest_studio")
        shell.reset(new_session=False)
        shell.config.pop("HarvestMagics", None)
