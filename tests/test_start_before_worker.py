"""Starting a run with the definition in hand, before any worker is up.

A web process commonly starts runs before its workers have registered anything: the client
registers the type from the definition and the run waits, visibly, for a worker. Starting an
unknown type by name is still refused unless forced.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import harvest_studio as hs
from harvest_studio.commands.render import render_run

from .apps import cli_app
from .conftest import FAST, sql
from .headless_page import page_log

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def env(db_url: str) -> Iterator[dict[str, str]]:
    yield {**os.environ, "HARVEST_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}


@pytest.mark.slow
def test_script_starts_before_any_worker_then_a_worker_process_finishes_it(
    client: hs.Client, env: dict[str, str]
) -> None:
    script = textwrap.dedent(
        """
        import json
        import harvest_studio as hs
        from tests.apps.cli_app import greet

        run = hs.connect().start(greet, "ada", id="early-bird")
        info = run.describe()
        print(json.dumps({"run_id": run.run_id, "status": info.status,
                          "unserved": list(info.unserved_queues)}))
        """
    )
    started = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )
    assert started.returncode == 0, started.stderr
    facts = json.loads(started.stdout.strip().splitlines()[-1])
    assert facts["status"] == "RUNNING"
    assert facts["unserved"] == ["default"]

    harvest = shutil.which("harvest") or str(Path(sys.executable).parent / "harvest")
    worker = subprocess.Popen(
        [harvest, "worker", "tests.apps.cli_app"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        assert client.result("early-bird", timeout=60) == "HELLO ADA!"
        assert client.describe("early-bird").run_id == facts["run_id"]
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def test_show_tells_that_no_worker_serves_the_queue(
    client: hs.Client, start_worker: object
) -> None:
    run = client.start(cli_app.greet, "bob", queue="nobody-listens")
    info = run.describe()
    assert info.status == "RUNNING" and info.unserved_queues == ("nobody-listens",)
    assert "no worker serves queue 'nobody-listens'" in render_run(info)
    assert info.to_json()["unserved_queues"] == ["nobody-listens"]

    with hs.Worker(client, workflows=[cli_app.greet], activities=[cli_app.shout],
                   queues=["nobody-listens", "default"], **FAST):
        assert run.result(timeout=30) == "HELLO BOB!"
        served = client.start(cli_app.napper, 30, queue="nobody-listens")
        assert served.describe().unserved_queues == ()


def test_unknown_type_by_name_is_still_refused_but_known_after_a_definition_start(
    client: hs.Client, db_url: str
) -> None:
    with pytest.raises(hs.UnknownWorkflowError):
        client.start("greet", "x")
    assert sql(db_url, "SELECT count(*) FROM harvest.runs")[0][0] == 0
    client.start(cli_app.greet, "x", id="by-definition")
    by_name = client.start("greet", "y", id="by-name")
    info = by_name.describe()
    assert info.fingerprint == cli_app.greet.fingerprint and info.queue == "default"


def test_a_client_registration_does_not_displace_a_served_version(
    client: hs.Client, db_url: str
) -> None:
    with hs.Worker(client, workflows=[cli_app.greet], activities=[cli_app.shout], **FAST):
        pass
    served_at = sql(
        db_url, "SELECT last_seen FROM harvest.registry WHERE name = 'greet'"
    )[0][0]
    client.start(cli_app.greet, "z")
    rows = sql(db_url, "SELECT fingerprint, last_seen FROM harvest.registry WHERE name = 'greet'")
    assert rows == [(cli_app.greet.fingerprint, served_at)]


_CARD_PAGE = """<!doctype html><html><head><style>%(css)s</style></head><body>
<div id="el" style="width:700px"></div><pre id="log"></pre>
<script type="module">
const state = %(state)s; const subs = {};
const model = {
  get: (k) => state[k],
  set: (k, v) => { state[k] = v; (subs["change:" + k] || []).forEach((f) => f()); },
  save_changes() {}, send() {},
  on: (n, f) => (subs[n] = subs[n] || []).push(f),
  off: (n, f) => { subs[n] = (subs[n] || []).filter((g) => g !== f); },
};
const mod = await import(URL.createObjectURL(new Blob([%(js)s], {type: "text/javascript"})));
const el = document.getElementById("el");
mod.default.render({model, el});
const seen = [el.innerText];
model.set("summary", %(later)s);
seen.push(el.innerText);
document.getElementById("log").textContent = JSON.stringify(seen);
</script></body></html>"""


@pytest.mark.browser
def test_card_says_the_run_waits_for_a_worker_until_one_serves_it(
    client: hs.Client, tmp_path: Path
) -> None:
    """What a person sees on the run card: the waiting line, then (the card polls) the run
    moving on once a worker serves the queue."""
    from harvest_studio.studio.widgets.card import run_card
    from harvest_studio.studio.widgets.live import STATIC, front_end

    run = client.start(cli_app.napper, 0.2, id="card-waits")
    card = run_card(client, "card-waits", interval=0.1)
    try:
        state = {k: v for k, v in card.get_state().items() if not k.startswith("_")}
        assert state["summary"]["waiting"]
        with hs.Worker(client, workflows=[cli_app.napper], **FAST):
            assert run.result(timeout=30) == "rested"
            deadline = time.monotonic() + 15
            while card.summary["status"] != "COMPLETED" and time.monotonic() < deadline:
                time.sleep(0.05)
        later = card.summary
    finally:
        card.close()
    page = tmp_path / "card.html"
    page.write_text(_CARD_PAGE % {
        "css": (STATIC / "explorer.css").read_text(),
        "state": json.dumps(state),
        "later": json.dumps(later),
        "js": json.dumps(front_end()),
    })
    before, after = page_log(page, tmp_path)
    assert "waiting: no worker serves queue 'default'" in before
    assert "%harvest worker start" in before and "RUNNING" in before
    assert "waiting" not in after and "COMPLETED" in after
