"""Long operations show progress where someone watches and stop cleanly on Ctrl-C: an
interrupted load loads nothing, an interrupted export leaves no directory, and Ctrl-C in a
sync call stops the coroutine behind it."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

import harvest_studio as hs
from harvest_studio import store
from harvest_studio.tools import progress as progress_module
from harvest_studio.tools.replay_check import export_histories


@hs.activity
def noop(ctx: hs.ActivityContext) -> int:
    return 1


@hs.workflow
async def small(ctx: hs.WorkflowContext) -> int:
    return int(await ctx.execute_activity(noop))


def _ctrl_c_in(seconds: float) -> None:
    """Press Ctrl-C (SIGINT to the main thread, as a terminal or a kernel does) soon."""
    main = threading.main_thread().ident or 0
    threading.Timer(seconds, lambda: signal.pthread_kill(main, signal.SIGINT)).start()


def test_a_bar_shows_only_where_asked_or_watched(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not progress_module.watched()  # pytest captures stderr: nobody watches
    silent = progress_module.progress(10, "quiet")
    silent.update(3)
    assert type(silent).__name__ == "Silent" and silent.n == 3
    out = io.StringIO()
    monkeypatch.setattr(progress_module.sys, "stderr", out)
    monkeypatch.setattr(progress_module, "SHOW_AFTER", 0.0)
    with progress_module.progress(4, "counting", unit="run", show=True) as bar:
        bar.update(4)
    assert "counting" in out.getvalue() and "/4 " in out.getvalue()


def _finished_runs(client: hs.Client, start_worker: Any, count: int) -> None:
    start_worker(workflows=[small], activities=[noop])
    for run in [client.start(small) for _ in range(count)]:
        run.result(timeout=30)


def test_an_interrupted_load_loads_nothing_and_the_next_load_everything(
    client: hs.Client, start_worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _finished_runs(client, start_worker, 5)
    real = store.export_runs_and_events

    def interrupted(url: str, **kw: Any) -> None:
        real(url, **kw)  # everything copied to the files, then Ctrl-C
        raise KeyboardInterrupt

    db = hs.analytics.HistoryDB(client)
    monkeypatch.setattr(store, "export_runs_and_events", interrupted)
    with pytest.raises(KeyboardInterrupt):
        db.load()
    assert db.sql("SELECT count(*) FROM runs").rows == [(0,)]
    assert db.sql("SELECT count(*) FROM events").rows == [(0,)]
    monkeypatch.setattr(store, "export_runs_and_events", real)
    report = db.load()
    assert report.runs == 5 and db.sql("SELECT count(*) FROM runs").rows == [(5,)]


def test_an_interrupted_history_export_leaves_no_directory(
    client: hs.Client, start_worker: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _finished_runs(client, start_worker, 3)
    calls = {"n": 0}
    real = client.aio.history

    async def history(ref: str, **kw: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:  # a slow one: Ctrl-C comes meanwhile
            await asyncio.sleep(30)
        return await real(ref, **kw)

    monkeypatch.setattr(client.aio, "history", history)
    target = tmp_path / "histories"
    _ctrl_c_in(0.5)
    with pytest.raises(KeyboardInterrupt):
        export_histories(client, target)
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no staging directory left either


def test_ctrl_c_in_a_sync_call_cancels_the_coroutine_behind_it(client: hs.Client) -> None:
    stopped = threading.Event()

    async def long_job() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            stopped.set()

    _ctrl_c_in(0.3)
    with pytest.raises(KeyboardInterrupt):
        client._run(long_job())
    assert stopped.wait(5), "the coroutine went on after Ctrl-C"
    assert os.getpid()  # the process lives on
