"""``harvest serve`` end to end, as a real server process: every route against every kind
of token, every mutation audited exactly once, errors as ``{"code", "message"}``, the
committed OpenAPI document, server-sent events, and health."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import harvest_studio as hs
from harvest_studio.api import create_app

from .api_server import ApiServer, api_server
from .apps import cli_app
from .conftest import sql

ROOT = Path(__file__).resolve().parent.parent
OPENAPI = ROOT / "docs" / "openapi.json"
SCOPES = ("read", "operate", "admin")


@hs.activity(start_to_close="10s", retry=hs.RetryPolicy(max_attempts=1))
def fragile(ctx: hs.ActivityContext) -> int:
    raise RuntimeError("fragile broke")


@hs.dag
def brittle(d: hs.Dag) -> None:
    d.task(fragile)


@hs.dag
def gate_dag(d: hs.Dag) -> None:
    ready = d.wait_signal("ready")
    d.task(fragile, upstream=[ready])


@pytest.fixture
def server(db_url: str) -> Iterator[ApiServer]:
    with api_server(db_url) as running:
        yield running


@pytest.fixture
def app_worker(start_worker: Callable[..., hs.Worker]) -> hs.Worker:
    return start_worker(
        workflows=[cli_app.greet, cli_app.doomed, cli_app.tally, cli_app.inbox, brittle,
                   gate_dag],
        activities=[cli_app.shout, cli_app.explode, fragile],
    )


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    document = json.loads(OPENAPI.read_text())
    return [
        (method.upper(), path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def _concrete(path: str) -> str:
    return (path.replace("{ref}", "no-such-run").replace("{name}", "no-such-name")
            .replace("{worker_id}", "no-such-worker").replace("{letter_id}", "dl-424242")
            .replace("{node}", "no-such-node"))


def _status(http: httpx.Client, method: str, path: str, params: dict[str, str]) -> int:
    with http.stream(method, path, params=params, json={} if method == "POST" else None) as r:
        return r.status_code


def test_auth_matrix(server: ApiServer) -> None:
    """Every route x no token, read, operate, admin, and an operate token of another
    namespace (used in its namespace and in the default one)."""
    checked = 0
    for method, path, operation in _operations():
        scope = operation.get("x-harvest-scope")
        url = _concrete(path)
        if scope is None:  # health and the document itself: open to all
            assert path in ("/healthz", "/readyz"), path
            with server.http(None) as http:
                assert http.get(url).status_code == 200
            continue
        per_namespace = operation["x-harvest-per-namespace"]
        with server.http(None) as http:
            assert _status(http, method, url, {}) == 401, (method, path)
        for who in SCOPES:
            allowed = SCOPES.index(who) >= SCOPES.index(scope)
            with server.http(who) as http:
                status = _status(http, method, url, {})
            assert (status not in (401, 403)) == allowed, (method, path, who, status)
        with server.http("other") as http:
            home = _status(http, method, url, {"namespace": "other"})
            away = _status(http, method, url, {"namespace": "default"})
        in_reach = SCOPES.index(scope) <= SCOPES.index("operate")
        assert (home not in (401, 403)) == (in_reach and (per_namespace or scope == "read")), (
            method, path, home)
        assert (away == 403) == (per_namespace or scope != "read"), (method, path, away)
        checked += 1
    assert checked >= 30
    with server.http(None) as http:
        r = http.get("/api/v1/runs", headers={"Authorization": "Bearer hvst_forged"})
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"


def test_every_mutation_is_audited_once(
    server: ApiServer, client: hs.Client, app_worker: hs.Worker, db_url: str
) -> None:
    def audit_rows() -> list[tuple[Any, ...]]:
        return sql(db_url, "SELECT action, actor, front_end, request_id, outcome"
                           " FROM harvest.audit_log WHERE front_end = 'api' ORDER BY seq")

    calls = 0

    def call(method: str, path: str, body: Any = None, *, expect: int = 200,
             action: str | None = None, who: str = "admin") -> Any:
        nonlocal calls
        before = len(audit_rows())
        calls += 1
        request_id = f"req-{calls}"
        with server.http(who) as http:
            r = http.request(method, path, json=body, headers={"x-request-id": request_id})
        assert r.status_code == expect, (path, r.text)
        rows = audit_rows()
        if action is None:
            assert len(rows) == before, (path, rows[before:])
        else:
            assert len(rows) == before + 1, (path, rows[before:])
            assert rows[-1][:4] == (action, f"token:t-{who}", "api", request_id), rows[-1]
        return r.json() if r.content else None

    tally = call("POST", "/api/v1/runs", {"workflow": "tally", "args": [1], "id": "t"},
                 expect=201, action="run.start")
    assert tally["workflow_id"] == "t"
    call("POST", "/api/v1/runs/t/query", {"name": "total"})  # read: no row
    assert call("POST", "/api/v1/runs/t/update", {"name": "add", "args": [2]},
                action="run.update")["result"] == 3
    call("POST", "/api/v1/runs/t/signal", {"name": "note", "payload": 1}, action="run.signal")
    call("POST", "/api/v1/runs/t/pause", {"reason": "look"}, action="run.pause",
         who="operate")
    call("POST", "/api/v1/runs/t/resume", action="run.resume")
    preview = call("POST", "/api/v1/runs/t/reset", {"to": "last_workflow_task",
                                                   "dry_run": True})
    assert preview["applied"] is False
    reset = call("POST", "/api/v1/runs/t/reset",
                 {"to": "last_workflow_task", "reason": "try again"}, action="run.reset")
    assert reset["applied"] is True
    call("POST", "/api/v1/runs/t/cancel", {"reason": "enough"}, action="run.cancel")
    box = call("POST", "/api/v1/runs", {"workflow": "inbox", "args": [1]}, expect=201,
               action="run.start")
    call("POST", f"/api/v1/runs/{box['run_id']}/terminate", action="run.terminate")
    greet = call("POST", "/api/v1/runs", {"workflow": "greet", "args": ["ada"]}, expect=201,
                 action="run.start")
    client.result(greet["run_id"], timeout=20)
    call("POST", f"/api/v1/runs/{greet['run_id']}/rerun", expect=201, action="run.rerun")
    doomed = client.start(cli_app.doomed, "boom")
    with pytest.raises(hs.WorkflowFailedError):
        doomed.result(timeout=20)
    call("POST", f"/api/v1/runs/{doomed.run_id}/retry", action="run.retry")
    letters = []
    for why in ("one", "two"):
        failed = client.start(cli_app.doomed, why)
        with pytest.raises(hs.WorkflowFailedError):
            failed.result(timeout=20)
        letters.append(f"run-{failed.run_id}")
    preview = call("POST", "/api/v1/dlq/replay", {"all": True, "dry_run": True})
    assert set(letters) <= set(preview["selected"])  # (the retried run failed again too)
    replayed = call("POST", "/api/v1/dlq/replay", {"ids": letters[:1], "note": "again"},
                    action="dlq.replay")
    assert replayed["outcome"]["done"] == letters[:1]
    call("POST", "/api/v1/dlq/discard", {"ids": letters[1:], "reason": "known"},
         action="dlq.discard")
    waiting_dag = client.start(gate_dag, id="gate-1")
    call("POST", "/api/v1/dag-runs/gate-1/nodes/ready/mark", {"state": "skipped",
                                                              "reason": "not needed"},
         action="dag.mark")
    with contextlib.suppress(hs.WorkflowFailedError):
        waiting_dag.result(timeout=20)  # it ends, one way or the other, once the gate is
    assert client.describe("gate-1").status != "RUNNING"
    dag_run = client.start(brittle)
    with pytest.raises(hs.WorkflowFailedError):
        dag_run.result(timeout=20)
    call("POST", f"/api/v1/dag-runs/{dag_run.run_id}/retry", action="dag.retry")
    call("POST", "/api/v1/queues/slow/pause", action="queue.pause")
    call("POST", "/api/v1/queues/slow/resume", action="queue.resume")
    call("POST", "/api/v1/schedules", {"name": "nightly", "workflow": "greet", "args": ["bob"],
                                       "every": "1h", "paused": True},
         expect=201, action="schedule.create")
    call("POST", "/api/v1/schedules/nightly/resume", action="schedule.resume")
    call("POST", "/api/v1/schedules/nightly/pause", {"reason": "quiet"},
         action="schedule.pause")
    call("POST", "/api/v1/schedules/nightly/trigger", action="schedule.trigger")
    filled = call("POST", "/api/v1/schedules/nightly/backfill",
                  {"start": "2026-11-30T00:00:00Z", "end": "2026-11-30T01:30:00Z"},
                  action="schedule.backfill")
    assert len(filled["runs"]) == 2
    call("DELETE", "/api/v1/schedules/nightly", action="schedule.delete")
    call("POST", "/api/v1/namespaces", {"name": "made-here"}, expect=201,
         action="namespace.create")
    call("DELETE", "/api/v1/namespaces/made-here", action="namespace.delete")
    sws = call("POST", "/api/v1/runs", {"workflow": "inbox", "args": [1], "id": "sws",
                                        "signal": {"name": "item", "payload": 5}},
               expect=201, action="run.signal_with_start")
    assert client.result(sws["run_id"], timeout=20) == [5]
    made = call("POST", "/api/v1/tokens", {"name": "new-bot", "scope": "read"}, expect=201,
                action="token.create")
    assert made["secret"].startswith("hvst_")
    call("DELETE", "/api/v1/tokens/new-bot", action="token.revoke")
    drained = call("POST", f"/api/v1/workers/{app_worker.worker_id}/drain",
                   action="worker.drain")
    assert drained["drained"]["state"] == "draining"
    # a mutation that fails is recorded with its code; bad input, or a run that is not
    # there, is refused before any change is tried and leaves no row
    call("POST", f"/api/v1/runs/{greet['run_id']}/terminate", expect=409,
         action="run.terminate")
    assert audit_rows()[-1][4] == "run_not_running"
    call("POST", "/api/v1/runs/no-such/cancel", expect=404)
    call("POST", "/api/v1/runs", {"workflow": "x" * 201}, expect=400)
    # every mutating route of the document was exercised above
    mutating = {(m, p) for m, p, op in _operations()
                if op.get("x-harvest-scope") in ("operate", "admin") and m != "GET"}
    covered = {
        ("POST", "/api/v1/runs"), ("POST", "/api/v1/runs/{ref}/update"),
        ("POST", "/api/v1/runs/{ref}/signal"), ("POST", "/api/v1/runs/{ref}/pause"),
        ("POST", "/api/v1/runs/{ref}/resume"), ("POST", "/api/v1/runs/{ref}/reset"),
        ("POST", "/api/v1/runs/{ref}/cancel"), ("POST", "/api/v1/runs/{ref}/terminate"),
        ("POST", "/api/v1/runs/{ref}/rerun"), ("POST", "/api/v1/runs/{ref}/retry"),
        ("POST", "/api/v1/dag-runs/{ref}/retry"), ("POST", "/api/v1/queues/{name}/pause"),
        ("POST", "/api/v1/queues/{name}/resume"), ("POST", "/api/v1/schedules/{name}/pause"),
        ("POST", "/api/v1/schedules/{name}/resume"),
        ("POST", "/api/v1/schedules/{name}/trigger"), ("POST", "/api/v1/tokens"),
        ("DELETE", "/api/v1/tokens/{ref}"), ("POST", "/api/v1/workers/{worker_id}/drain"),
        ("POST", "/api/v1/dlq/replay"), ("POST", "/api/v1/dlq/discard"),
        ("POST", "/api/v1/schedules/{name}/backfill"), ("DELETE", "/api/v1/schedules/{name}"),
        ("POST", "/api/v1/namespaces"), ("DELETE", "/api/v1/namespaces/{name}"),
        ("POST", "/api/v1/schedules"), ("POST", "/api/v1/dag-runs/{ref}/nodes/{node}/mark"),
    }
    assert mutating == covered, mutating ^ covered


def test_errors_pages_and_results(server: ApiServer, client: hs.Client,
                                  app_worker: hs.Worker) -> None:
    with server.http("operate") as http:
        for i in range(5):
            assert http.post("/api/v1/runs", json={"workflow": "greet", "args": [f"n{i}"],
                                                   "id": f"g{i}"}).status_code == 201
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": "2", "query": "type = 'greet'"}
            if cursor:
                params["cursor"] = cursor
            page = http.get("/api/v1/runs", params=params).json()
            seen += [r["workflow_id"] for r in page["runs"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == [f"g{i}" for i in range(5)]
        done = http.get("/api/v1/runs/g0/result", params={"wait": "20"})
        assert done.status_code == 200 and done.json()["result"] == "HELLO N0!"
        box = http.post("/api/v1/runs", json={"workflow": "inbox", "args": [1]}).json()
        waiting = http.get(f"/api/v1/runs/{box['run_id']}/result", params={"wait": "0.2"})
        assert waiting.status_code == 204 and waiting.headers["retry-after"] == "1"
        for r, code, status in (
            (http.get("/api/v1/runs/nope"), "run_not_found", 404),
            (http.get("/api/v1/runs", params={"query": "status = "}), "bad_filter", 400),
            (http.get("/api/v1/runs", params={"limit": "0"}), "usage_error", 400),
            (http.post("/api/v1/runs", json={"workflow": "greet", "args": ["x"], "id": "g1",
                                             "id_reuse_policy": "reject_duplicate"}),
             "workflow_already_started", 409),
            (http.post("/api/v1/runs", content=b"{not json",
                       headers={"content-type": "application/json"}), "usage_error", 400),
            (http.post("/api/v1/runs/g0/query", json={"name": "nothing-here"}),
             "unknown_query", 404),
            (http.get("/api/v1/runs", params={"namespace": "ghost"}),
             "namespace_not_found", 404),
            (http.get("/api/v1/nowhere"), "not_found", 404),
        ):
            assert (r.status_code, r.json()["code"]) == (status, code), r.text
            assert set(r.json()) == {"code", "message"} and "\n" not in r.json()["message"]
        history = http.get("/api/v1/runs/g0/history", params={"limit": "2"}).json()
        assert [e["seq"] for e in history["events"]] == [1, 2]
        rest = http.get("/api/v1/runs/g0/history",
                        params={"after_seq": str(history["next_after_seq"])}).json()
        assert rest["events"][0]["seq"] == 3 and rest["next_after_seq"] is None


def test_history_stream_follows_a_run(server: ApiServer, app_worker: hs.Worker) -> None:
    """Three subscribers of one run see every event once, in order, then ``end``; one that
    reconnects with Last-Event-ID gets only what came after."""
    with server.http("operate") as http:
        http.post("/api/v1/runs", json={"workflow": "inbox", "args": [3], "id": "feed"})
    received: dict[int, list[tuple[str, str]]] = {0: [], 1: [], 2: []}

    def listen(slot: int) -> None:
        with server.http("read") as http, http.stream("GET", "/api/v1/runs/feed/events") as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            event = ""
            for line in r.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    received[slot].append((event, line[6:]))

    threads = [threading.Thread(target=listen, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    with server.http("operate") as http:
        for item in range(3):
            time.sleep(0.3)
            assert http.post("/api/v1/runs/feed/signal",
                             json={"name": "item", "payload": item}).status_code == 200
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    for slot in received.values():
        kinds = [e for e, _ in slot]
        assert kinds[-1] == "end" and json.loads(slot[-1][1]) == {"status": "COMPLETED"}
        seqs = [json.loads(d)["seq"] for e, d in slot if e == "history"]
        assert seqs == list(range(1, len(seqs) + 1))
        assert json.loads(slot[-2][1])["type"] == "WorkflowCompleted"
    assert received[0] == received[1] == received[2]
    with server.http("read") as http, http.stream(
        "GET", "/api/v1/runs/feed/events", headers={"Last-Event-ID": "3"}
    ) as r:
        lines = [line for line in r.iter_lines() if line.startswith("id: ")]
    assert lines[0] == "id: 4"


def test_namespace_stream_sees_runs_start_and_end(server: ApiServer,
                                                  app_worker: hs.Worker) -> None:
    seen: list[dict[str, Any]] = []

    def listen() -> None:
        with server.http("read") as http, http.stream(
            "GET", "/api/v1/stream/runs", params={"workflow_type": "greet"}
        ) as r:
            for line in r.iter_lines():
                if line.startswith("data: "):
                    seen.append(json.loads(line[6:]))
                    if len(seen) == 2:
                        return

    thread = threading.Thread(target=listen)
    thread.start()
    time.sleep(1.0)
    with server.http("operate") as http:
        http.post("/api/v1/runs", json={"workflow": "inbox", "args": [1]})  # filtered out
        http.post("/api/v1/runs", json={"workflow": "greet", "args": ["x"], "id": "watched"})
    thread.join(timeout=30)
    assert [(s["workflow_id"], s["status"]) for s in seen] == [
        ("watched", "RUNNING"), ("watched", "COMPLETED")
    ]


def test_health_and_committed_openapi(server: ApiServer) -> None:
    with server.http(None) as http:
        assert http.get("/healthz").json()["status"] == "ok"
        assert http.get("/readyz").json() == {"status": "ready"}
        served = http.get("/api/v1/openapi.json").json()
    assert served["openapi"].startswith("3.1")
    committed = json.loads(OPENAPI.read_text())
    assert served == committed, (
        "the API changed: regenerate docs/openapi.json with `python -m harvest_studio.api`"
    )
    assert create_app().openapi() == committed
