"""Webhooks: each run end (and SLA miss) a subscription wants is POSTed once, signed with
HMAC-SHA256, retried with backoff after a failure, and logged; a receiver that keeps failing
ends in ``failed``; bad subscriptions are refused with one-line errors."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import harvest_studio as hs
from harvest_studio.cli import main as harvest_main

from .apps import cli_app
from .conftest import wait_for


class Receiver:
    """A local HTTP endpoint recording every POST; ``fail_first`` answers 500 to the first
    attempt of each delivery, ``always_fail`` to every attempt."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail_first = True
        self.always_fail = False
        seen: set[str] = set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                delivery = self.headers["X-Harvest-Delivery"]
                first = delivery not in seen
                seen.add(delivery)
                outer.received.append({"headers": dict(self.headers), "body": body,
                                       "path": self.path})
                fail = outer.always_fail or (outer.fail_first and first)
                self.send_response(500 if fail else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.received if r["path"] == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def test_run_ends_and_sla_misses_are_delivered_signed_and_retried(
    client: hs.Client, receiver: Receiver, start_worker: Callable[..., hs.Worker],
) -> None:
    ends = client.create_webhook("ends", f"{receiver.url}/ends",
                                 events=["run.completed", "run.failed"])
    late = client.create_webhook("late", f"{receiver.url}/late", events=["run.sla_missed"],
                                 workflow_type="inbox", sla="0.5s")
    start_worker(workflows=[cli_app.greet, cli_app.doomed, cli_app.inbox],
                 activities=[cli_app.shout, cli_app.explode],
                 tuning={"webhook_backoff": 0.2})
    ok = client.start(cli_app.greet, "ada")
    bad = client.start(cli_app.doomed, "boom")
    waiting = client.start(cli_app.inbox, 1)
    ok.result(timeout=20)
    with pytest.raises(hs.WorkflowFailedError):
        bad.result(timeout=20)

    def delivered(name: str, n: int) -> bool:
        rows = client.webhook_deliveries(name, state="delivered")
        return len(rows) >= n
    wait_for(lambda: delivered("ends", 2) and delivered("late", 1), timeout=30)

    events = {b["run_id"]: b for b in receiver.bodies("/ends")}
    assert events[ok.run_id]["event"] == "run.completed"
    assert events[bad.run_id]["event"] == "run.failed"
    assert events[bad.run_id]["error"]["type"] == "ActivityError"
    assert waiting.run_id not in events  # still running: no end yet
    [sla] = {b["run_id"]: b for b in receiver.bodies("/late")}.values()
    assert sla["run_id"] == waiting.run_id and sla["event"] == "run.sla_missed"

    for request in receiver.received:
        headers = request["headers"]
        secret = ends.secret if request["path"] == "/ends" else late.secret
        mac = hmac.new(secret.encode(), headers["X-Harvest-Timestamp"].encode() + b"."
                       + request["body"], hashlib.sha256).hexdigest()
        assert headers["X-Harvest-Signature"] == f"sha256={mac}"
    # each delivery failed once (500), then went through: two attempts, one id
    log = client.webhook_deliveries("ends")
    assert {(d["state"], d["attempts"], d["last_status"]) for d in log} == {
        ("delivered", 2, 204)}
    per_delivery: dict[str, int] = {}
    for request in receiver.received:
        key = request["headers"]["X-Harvest-Delivery"]
        per_delivery[key] = per_delivery.get(key, 0) + 1
    assert set(per_delivery.values()) == {2}
    client.signal(waiting.run_id, "item", 1)
    waiting.result(timeout=20)
    [listed_ends, listed_late] = client.webhooks()
    assert (listed_ends.name, listed_ends.pending, listed_ends.failed) == ("ends", 0, 0)
    assert "secret" not in json.dumps(listed_late.to_json())


def test_a_receiver_that_keeps_failing_ends_failed(
    client: hs.Client, receiver: Receiver, start_worker: Callable[..., hs.Worker],
    capsys: pytest.CaptureFixture[str], db_url: str,
) -> None:
    receiver.always_fail = True
    capsys.readouterr()
    assert harvest_main(["--database-url", db_url, "hooks", "add", "doomed-hook", "--url",
                         f"{receiver.url}/x"]) == 0
    assert capsys.readouterr().out.startswith("whsec_")
    start_worker(workflows=[cli_app.greet], activities=[cli_app.shout],
                 tuning={"webhook_backoff": 0.05})
    client.start(cli_app.greet, "x").result(timeout=20)
    wait_for(lambda: client.webhook_deliveries(state="failed") != [], timeout=60)
    [row] = client.webhook_deliveries()
    assert (row["state"], row["attempts"], row["last_status"]) == ("failed", 8, 500)
    assert harvest_main(["--database-url", db_url, "hooks", "deliveries", "--state",
                         "failed"]) == 0
    assert "HTTP 500" in capsys.readouterr().out
    for argv, code in (
        (["hooks", "add", "h2", "--url", "ftp://example.com/x"], "usage_error"),
        (["hooks", "add", "h3", "--url", "http://h/x", "--event", "run.sla_missed"],
         "usage_error"),
        (["hooks", "add", "doomed-hook", "--url", "http://h/x"], "webhook_name_taken"),
        (["hooks", "remove", "nope"], "webhook_not_found"),
    ):
        assert harvest_main(["--database-url", db_url, *argv]) in (1, 2)
        assert code in capsys.readouterr().err
    assert harvest_main(["--database-url", db_url, "hooks", "remove", "doomed-hook"]) == 0
    assert client.webhooks() == [] and client.webhook_deliveries() == []
    assert [(r.action, r.outcome) for r in client.audit(action="webhook.")] == [
        ("webhook.remove", "ok"), ("webhook.remove", "webhook_not_found"),
        ("webhook.create", "webhook_name_taken"), ("webhook.create", "ok")]


def test_sla_miss_hooks_fire_once_whichever_worker_notices(
    client: hs.Client, db_url: str, start_worker: Callable[..., hs.Worker],
) -> None:
    heard: list[hs.SlaMissed] = []
    for _ in range(2):  # two workers watch the same SLA: each miss is heard once
        start_worker(workflows=[cli_app.inbox, cli_app.greet], activities=[cli_app.shout],
                     tuning={"slas": {"inbox": "0.5s"}, "on_sla_missed": [heard.append]})
    late = client.start(cli_app.inbox, 1)
    quick = client.start(cli_app.greet, "x")
    quick.result(timeout=20)
    wait_for(lambda: len(heard) == 1, timeout=30)
    [missed] = heard
    assert (missed.run_id, missed.workflow_type, missed.sla_seconds) == (
        late.run_id, "inbox", 0.5)
    client.signal(late.run_id, "item", 1)
    late.result(timeout=20)
    time.sleep(1.5)  # more looks: nothing new
    assert len(heard) == 1
    with pytest.raises(hs.UsageError):
        hs.Worker(client, workflows=[cli_app.inbox], slas={"inbox": "-1s"})
