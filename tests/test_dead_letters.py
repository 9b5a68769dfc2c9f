"""Dead letters: a poison task quarantined by real crashing workers, grouped, replayed after
the fix and completed; runs failed on an exhausted activity grouped by fingerprint, shown
with their attempts, replayed in bulk by filter after a fix, or discarded with a reason —
each bulk action one audit row naming the ids it touched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import harvest_studio as hs
from harvest_studio.cli import main as harvest_main

from .apps import crash_app
from .conftest import sql

ROOT = Path(__file__).resolve().parents[1]
broken = {"on": True}
Cli = Callable[..., tuple[int, str, str]]


@hs.activity(start_to_close="10s", retry=hs.RetryPolicy(max_attempts=2, initial_interval=0.01))
def charge(ctx: hs.ActivityContext, n: int) -> str:
    if broken["on"]:
        if n < 0:
            raise ValueError("negative amount")
        raise RuntimeError(f"card {n} declined at 0x{n + 4096:x}")
    return f"charged {n}"


@hs.workflow
async def billing(ctx: hs.WorkflowContext, n: int) -> str:
    return str(await ctx.execute_activity(charge, n))


@pytest.fixture
def cli(db_url: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = harvest_main(["--database-url", db_url, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def failed_billing(client: hs.Client, n: int) -> str:
    run = client.start(billing, n)
    with pytest.raises(hs.WorkflowFailedError):
        run.result(timeout=20)
    assert run.run_id is not None
    return run.run_id


def test_failed_runs_grouped_replayed_and_discarded(
    client: hs.Client, cli: Cli, start_worker: Callable[..., hs.Worker]
) -> None:
    broken["on"] = True
    start_worker(workflows=[billing], activities=[charge])
    same = [failed_billing(client, n) for n in (11, 222, 3333)]
    odd = failed_billing(client, -1)

    code, out, err = cli("--json", "dlq", "list", "--kind", "failed_run")
    letters = json.loads(out)["dead_letters"]
    assert {d["id"] for d in letters} == {f"run-{r}" for r in [*same, odd]}
    assert {d["type_name"] for d in letters} == {"charge"} and letters[0]["attempts"] == 2

    code, out, err = cli("--json", "dlq", "group")
    groups = json.loads(out)["groups"]
    assert [g["count"] for g in groups] == [3, 1]
    big, small = groups
    assert big["type"] == "RuntimeError" and big["message"] == "card <n> declined at <hex>"
    assert big["frame"] == "test_dead_letters.py:charge"
    assert sorted(big["ids"]) == sorted(f"run-{r}" for r in same)
    code, text, _ = cli("dlq", "group")
    assert text.splitlines()[1].split()[:3] == [big["fingerprint"], "3", "RuntimeError"]

    code, out, err = cli("dlq", "show", f"run-{same[0]}")
    assert code == 0 and "RuntimeError: card 11 declined at 0x100b" in out
    assert out.count("card 11 declined") >= 3  # the error, then each of the two attempts
    assert "ATTEMPT" in out and "Traceback" in out

    code, out, err = cli("dlq", "replay")
    assert code == 2 and "--all" in err
    code, out, err = cli("dlq", "discard", "--fingerprint", small["fingerprint"])
    assert code == 2  # a reason is required
    code, out, err = cli("dlq", "replay", "--fingerprint", big["fingerprint"], "--dry-run")
    assert code == 0 and out.startswith("would act on 3 dead letter(s)")
    assert client.audit(action="dlq.") == []  # a dry run changes nothing

    broken["on"] = False  # the fix is deployed
    code, out, err = cli("--json", "dlq", "replay", "--fingerprint", big["fingerprint"],
                         "--note", "card service fixed")
    outcome = json.loads(out)["outcome"]
    assert sorted(outcome["done"]) == sorted(f"run-{r}" for r in same)
    for old, new in outcome["new_runs"].items():
        assert client.result(new, timeout=20) == f"charged {client.describe(old[4:]).input[0]}"
    code, out, err = cli("dlq", "discard", f"run-{odd}", "--reason", "refund by hand")
    assert code == 0 and out.startswith("discarded 1")
    code, out, err = cli("dlq", "list")
    assert out.strip() == "(no open dead letters)"
    code, out, err = cli("dlq", "replay", f"run-{odd}")  # no longer open: skipped
    assert "skipped 1" in out

    [replayed, discarded, skipped] = sorted(
        client.audit(action="dlq."), key=lambda r: r.seq)[::1][:3]
    assert replayed.action == "dlq.replay" and sorted(replayed.touched or []) == sorted(
        f"run-{r}" for r in same)
    assert replayed.target == "3 dead letters" and replayed.front_end == "cli"
    assert discarded.action == "dlq.discard" and discarded.touched == [f"run-{odd}"]
    assert skipped.touched == []
    letter, _ = client.dead_letter(f"run-{odd}")
    assert (letter.resolution, letter.resolution_note) == ("discarded", "refund by hand")
    # a run retried the ordinary way leaves the list too
    broken["on"] = True
    again = failed_billing(client, 5)
    assert [d.id for d in client.dead_letters()] == [f"run-{again}"]
    client.reset(again, to="last_workflow_task", reason="try again")
    assert client.dead_letters() == []


@pytest.fixture
def spawn(db_url: str, tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        env = {**os.environ, "HARVEST_DATABASE_URL": db_url, "HARVEST_TEST_MARKS": str(tmp_path)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.apps.run_worker", "tests.apps.crash_app"],
            cwd=ROOT, env=env,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.mark.slow
def test_poison_task_quarantined_grouped_replayed_after_the_fix(
    client: hs.Client, cli: Cli, db_url: str, tmp_path: Path,
    spawn: Callable[[], subprocess.Popen[bytes]],
) -> None:
    (tmp_path / "poison_on").touch()
    runs = [client.start(crash_app.sometimes_poisoned, n) for n in (1, 2)]
    current = spawn()
    deadline = time.time() + 90
    while time.time() < deadline:
        if len(sql(db_url, "SELECT 1 FROM harvest.dead_letters")) == 2:
            break
        if current.poll() is not None:  # the worker died with its task: start another
            current = spawn()
        time.sleep(0.2)
    current.kill()
    current.wait()
    assert [client.describe(r.run_id).blocked["kind"] for r in runs] == [  # type: ignore[index]
        "quarantined", "quarantined"]

    code, out, err = cli("--json", "dlq", "group")
    [group] = json.loads(out)["groups"]
    assert group["count"] == 2 and group["type"] == "WorkerCrash"
    assert group["kinds"] == ["quarantined"] and group["workflow_types"] == [
        "sometimes_poisoned"]
    code, out, err = cli("dlq", "show", group["ids"][0])
    assert "crashed its worker 3 times" in out and "poison_until_cured" in out

    (tmp_path / "poison_on").unlink()  # the fix
    code, out, err = cli("dlq", "replay", "--fingerprint", group["fingerprint"])
    assert code == 0 and out.startswith("replayed 2"), err
    spawn()
    assert sorted(r.result(timeout=40) for r in runs) == ["cured 1", "cured 2"]
    assert all(client.describe(r.run_id).blocked is None for r in runs)
    assert client.dead_letters() == []
    [row] = client.audit(action="dlq.replay")
    assert sorted(row.touched or []) == sorted(group["ids"])


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists("/usr/bin/chromium") and not os.environ.get("CI"),
                    reason="needs /usr/bin/chromium (installed by .ci/run; never skipped"
                           " in CI)")
def test_triage_widget_in_chromium(
    client: hs.Client, start_worker: Callable[..., hs.Worker],
) -> None:
    """%harvest dlq's widget: clusters with counts; click one, see its sample and the
    letters an action takes; discard them with a reason; the cluster is gone."""
    from playwright.sync_api import sync_playwright

    from harvest_studio import commands
    from harvest_studio.studio.widgets.triage import triage

    from .widget_bridge import ARGS, CHROMIUM, Bridge

    broken["on"] = True
    start_worker(workflows=[billing], activities=[charge])
    for n in (1, 22, -1):
        failed_billing(client, n)
    groups = client._run(commands.dlq_group(client.aio))
    widget = triage(client, groups)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        bridge = Bridge(browser, widget)
        try:
            bridge.until("document.querySelectorAll('.hs-triage tbody tr').length === 2")
            first = bridge.page.locator(".hs-triage tbody tr").first
            assert "card <n> declined at <hex>" in first.inner_text()
            assert first.locator("td").nth(1).inner_text() == "2"
            first.click()
            bridge.until("document.querySelector('.hs-triage-preview')")
            assert bridge.page.locator(".hs-triage-preview").inner_text().count("run-") == 2
            assert "RuntimeError: card" in bridge.page.locator(".hs-triage-detail").inner_text()
            discard = bridge.page.locator(".hs-triage-discard")
            assert discard.is_disabled()  # a reason first
            bridge.page.fill(".hs-triage-text", "refunded by hand")
            discard.click()
            bridge.until("document.querySelector('.hs-triage .hs-msg').textContent"
                         ".startsWith('discarded 2')")
            bridge.until("document.querySelectorAll('.hs-triage tbody tr').length === 1")
        finally:
            bridge.close()
            browser.close()
    assert [d.error["type"] for d in client.dead_letters()] == ["ValueError"]
    assert {(r.action, r.front_end) for r in client.audit(action="dlq.")} == {
        ("dlq.discard", "python")}
