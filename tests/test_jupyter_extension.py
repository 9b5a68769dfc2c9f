"""The Jupyter server extension in a real JupyterLab process: the operations API under
/harvest/ behind Jupyter's login and XSRF check, event streams that flow and whose closing
the server sees, explorers hosted by the server, bad input, concurrent callers, and the
database going away and coming back."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import harvest_studio as hs

from .conftest import sql, wait_for
from .lab_server import jupyter_lab

pytestmark = pytest.mark.slow


@hs.activity(start_to_close="30s")
def pause_briefly(ctx: hs.ActivityContext, n: int) -> int:
    time.sleep(0.3)
    return n


@hs.workflow
async def stepwise(ctx: hs.WorkflowContext, count: int) -> int:
    for n in range(count):
        await ctx.execute_activity(pause_briefly, n)
    return count


@hs.workflow
async def waits_for_go(ctx: hs.WorkflowContext) -> str:
    await ctx.wait_condition(lambda: False, timeout=300)
    return "never"


@pytest.fixture
def lab(tmp_path: Path, db_url: str) -> Iterator[tuple[str, str]]:
    with jupyter_lab(tmp_path, {"HARVEST_DATABASE_URL": db_url},
                     log=tmp_path / "lab.log") as served:
        yield served


def _token_client(base: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"token {token}"},
                        timeout=30)


def test_the_api_answers_under_harvest_behind_jupyters_login(
    lab: tuple[str, str], client: hs.Client, db_url: str
) -> None:
    base, token = lab
    with _token_client(base, token) as http:
        spec = http.get("/harvest/api/v1/openapi.json")
        assert spec.status_code == 200
        assert spec.json()["info"]["title"] == "Harvest Studio"
        assert "/api/v1/runs" in spec.json()["paths"]
        run = client.start(waits_for_go, id="ext-cancel-me")
        described = http.get(f"/harvest/api/v1/runs/{run.run_id}")
        assert described.status_code == 200
        assert described.json()["workflow_id"] == "ext-cancel-me"
        assert http.get("/harvest/api/v1/run-counts").json()["running"] == 1
        # Jupyter's user acts, and the audit trail says so
        assert http.post(f"/harvest/api/v1/runs/{run.run_id}/cancel",
                         json={"reason": "from Lab"}).status_code == 200
    rows = sql(db_url, "SELECT actor, front_end, outcome FROM harvest.audit_log"
                       " WHERE action = 'run.cancel'")
    assert len(rows) == 1
    actor, front_end, outcome = rows[0]
    assert actor.startswith("jupyter:") and front_end == "lab" and outcome == "ok"

    # no login: refused, as JSON, before the API is reached
    anonymous = httpx.get(f"{base}/harvest/api/v1/runs", timeout=30)
    assert anonymous.status_code == 403
    assert anonymous.json()["code"] == "forbidden"


def test_jupyters_authorizer_has_the_last_word(
    tmp_path: Path, db_url: str, client: hs.Client
) -> None:
    run = client.start(waits_for_go, id="ext-read-only")
    with jupyter_lab(tmp_path, {"HARVEST_DATABASE_URL": db_url},
                     args=("--ServerApp.authorizer_class="
                           "tests.apps.read_only_authorizer.ReadOnlyHarvest",)) as (base, token), \
            _token_client(base, token) as http:
        assert http.get(f"/harvest/api/v1/runs/{run.run_id}").status_code == 200
        refused = http.post(f"/harvest/api/v1/runs/{run.run_id}/cancel", json={})
        assert refused.status_code == 403
        assert refused.json()["code"] == "forbidden"
        assert "write harvest" in refused.json()["message"]
    assert client.describe(run.run_id).status == "RUNNING"


def test_a_browser_session_needs_the_xsrf_token_to_change_anything(
    lab: tuple[str, str], client: hs.Client
) -> None:
    base, token = lab
    run = client.start(waits_for_go, id="ext-xsrf")
    with httpx.Client(base_url=base, timeout=30, follow_redirects=True) as browser:
        assert browser.get(f"/lab?token={token}").status_code == 200  # the login cookie
        xsrf = browser.cookies.get("_xsrf")
        assert xsrf
        assert browser.get("/harvest/api/v1/runs").status_code == 200  # reading is fine
        forged = browser.post(f"/harvest/api/v1/runs/{run.run_id}/cancel", json={})
        assert forged.status_code in (403, 404)  # Jupyter refuses a POST without the token
        assert client.describe(run.run_id).status == "RUNNING"
        genuine = browser.post(f"/harvest/api/v1/runs/{run.run_id}/cancel", json={},
                               headers={"X-XSRFToken": xsrf})
        assert genuine.status_code == 200, genuine.text


def _events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    event = None
    for line in response.iter_lines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event is not None:
            yield event, json.loads(line.split(":", 1)[1])
            event = None


def test_streams_flow_through_the_bridge_and_their_end_is_seen(
    lab: tuple[str, str], client: hs.Client, start_worker: Any
) -> None:
    base, token = lab
    start_worker(workflows=[stepwise], activities=[pause_briefly])
    run = client.start(stepwise, 4, id="ext-stream")
    seen: list[str] = []
    with _token_client(base, token) as http, \
            http.stream("GET", f"/harvest/api/v1/runs/{run.run_id}/events") as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        for event, data in _events(events):
            seen.append(data["type"] if event == "history" else f"{event}:{data['status']}")
            if event == "end":
                break
    assert seen[0] == "WorkflowStarted" and seen[-1] == "end:COMPLETED"
    assert seen.count("ActivityCompleted") == 4

    with _token_client(base, token) as http:
        opened = http.post("/harvest/lab/explorers", json={"run": "ext-stream"})
        assert opened.status_code == 200, opened.text
        key, state = opened.json()["key"], opened.json()["state"]
        assert state["summary"]["status"] == "COMPLETED"
        assert not any(name in state for name in ("_esm", "layout"))
        frames: list[tuple[str, Any]] = []
        got_selection = threading.Event()

        def listen() -> None:
            with _token_client(base, token) as other, \
                    other.stream("GET", f"/harvest/lab/explorers/{key}/stream") as stream:
                for frame in _events(stream):
                    frames.append(frame)
                    if frame[0] == "state" and (frame[1]["state"].get("selected_event")
                                                or {}).get("seq") == 2:
                        got_selection.set()
                        return  # closing the stream: the server must notice

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        wait_for(lambda: http.get("/harvest/lab/info").json()["listeners"] == 1, 10)
        # a message as the widget's front end sends it: select an event
        sent = http.post(f"/harvest/lab/explorers/{key}/messages",
                         json={"method": "update", "state": {"selected_seq": 2}})
        assert sent.status_code == 204
        assert got_selection.wait(10), frames
        assert frames[0][0] == "state" and "lanes" in frames[0][1]["state"]
        wait_for(lambda: http.get("/harvest/lab/info").json()["listeners"] == 0, 10)
        assert http.delete(f"/harvest/lab/explorers/{key}").status_code == 204
        assert http.get("/harvest/lab/info").json()["explorers"] == 0


def test_bad_input_gets_one_typed_line(lab: tuple[str, str], client: hs.Client) -> None:
    base, token = lab
    with _token_client(base, token) as http:
        empty = http.post("/harvest/lab/explorers", json={"run": ""})
        assert empty.status_code == 400
        assert empty.json()["code"] == "usage_error" and "run" in empty.json()["message"]
        missing = http.post("/harvest/lab/explorers", json={"run": "no-such-run"})
        assert missing.status_code == 404
        assert missing.json()["code"] == "run_not_found"
        assert "\n" not in missing.json()["message"]
        assert http.post("/harvest/lab/explorers/nope/messages",
                         json={"method": "custom", "content": {}}).status_code == 404
        run = client.start(waits_for_go, id="ext-bad")
        key = http.post("/harvest/lab/explorers", json={"run": run.run_id}).json()["key"]
        wrong = http.post(f"/harvest/lab/explorers/{key}/messages", json={"method": "eval"})
        assert wrong.status_code == 422
        assert wrong.json()["message"] == "method must be 'update' or 'custom'"
        bad_query = http.get("/harvest/api/v1/runs", params={"query": "status = "})
        assert bad_query.status_code == 400
        assert bad_query.json()["code"] == "bad_filter"
        assert http.get("/harvest/api/v1/run-counts",
                        params={"failed_within": "-1"}).status_code == 400


def test_concurrent_callers_through_the_bridge(lab: tuple[str, str], client: hs.Client) -> None:
    base, token = lab
    for n in range(5):
        client.start(waits_for_go, id=f"ext-many-{n}")
    results: list[int] = []

    def call() -> None:
        with _token_client(base, token) as http:
            for _ in range(5):
                results.append(http.get("/harvest/api/v1/runs", params={"limit": 10}).status_code)

    threads = [threading.Thread(target=call) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [200] * 80


def _start_postgres(data: Path) -> str:
    """The server of ``data``, started in a process of its own (pgserver keeps one object
    per directory in a process, which would not notice the server was stopped)."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys, pgserver; print(pgserver.get_server(sys.argv[1], "
         "cleanup_mode=None).get_uri())", str(data)],
        capture_output=True, text=True, timeout=120, check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def test_the_database_going_away_and_coming_back(tmp_path: Path) -> None:
    from harvest_studio.store.connection import stop_embedded

    data = tmp_path / "pg"
    url = _start_postgres(data)
    hs.connect(url).close()  # migrated
    root = tmp_path / "root"
    root.mkdir()
    try:
        with jupyter_lab(root, {"HARVEST_DATABASE_URL": url}) as (base, token), \
                _token_client(base, token) as http:
            stop_embedded(data)
            down = http.get("/harvest/api/v1/runs")
            assert down.status_code == 503
            assert down.json()["code"] == "database_unavailable"
            assert "\n" not in down.json()["message"]
            assert http.get("/harvest/api/v1/runs").status_code == 503  # remembered briefly
            _start_postgres(data)
            wait_for(lambda: http.get("/harvest/api/v1/runs").status_code == 200, 30)
            # up and serving, then gone again: the API's own answer, then back once more
            stop_embedded(data)
            again = http.get("/harvest/api/v1/runs")
            assert again.status_code == 503, again.text
            assert again.json()["code"] == "database_unavailable"
            _start_postgres(data)
            wait_for(lambda: http.get("/harvest/api/v1/runs").status_code == 200, 30)
    finally:
        stop_embedded(data)


def test_unwatched_explorers_are_closed_and_forgotten(client: hs.Client, db_url: str) -> None:
    """In process: the server's explorers, their sweeping, and nothing left behind."""
    import asyncio
    import gc
    import weakref

    from ipywidgets.widgets import widget as ipywidget

    from harvest_studio.jupyter.explorers import IDLE_SECONDS, MAX_EXPLORERS, Explorers
    from harvest_studio.model.errors import RunNotFoundError

    run = client.start(waits_for_go, id="ext-sweep")
    before = len(ipywidget._instances)

    async def scenario() -> list[weakref.ref[Any]]:
        explorers = Explorers(db_url)
        try:
            watched = await explorers.open(run.run_id, "default", "jupyter:test")
            idle = await explorers.open(run.run_id, "default", "jupyter:test")
            with pytest.raises(RunNotFoundError):  # a failed open leaves nothing registered
                await explorers.open("no-such-run", "default", "jupyter:test")
            watched.listeners.add(asyncio.Queue())
            assert explorers.count() == 2 and explorers.sweep() == 0  # nobody idle long
            idle.idle_since -= IDLE_SECONDS + 1
            watched.idle_since -= IDLE_SECONDS + 1  # old, but someone listens
            refs = [weakref.ref(idle.widget)]
            assert await asyncio.to_thread(explorers.sweep) == 1
            assert explorers.get(idle.key) is None and explorers.get(watched.key) is watched
            assert not idle.widget.live  # its refresh stopped with it
            del idle
            return refs
        finally:
            await asyncio.to_thread(explorers.close)
            assert explorers.count() == 0

    refs = asyncio.run(scenario())
    gc.collect()
    assert all(ref() is None for ref in refs), "a closed explorer is still referenced"
    assert len(ipywidget._instances) == before
    assert MAX_EXPLORERS >= 8
