"""The dashboard as an operator meets it, in Debian's headless Chromium against a real
``harvest serve`` process: log in with a token, see the runs list keep up with new runs
without a reload, open a run and see its timeline, cancel it behind a confirmation, watch
it end, and find the change in the audit trail; a read-only token cannot change anything."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import harvest_studio as hs

from .api_server import ApiServer, api_server
from .apps import cli_app
from .widget_bridge import ARGS, CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                       reason="needs /usr/bin/chromium (installed by .ci/run; never skipped"
                              " in CI)"),
]
TIMEOUT = 20_000  # ms


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def server(db_url: str) -> Iterator[ApiServer]:
    with api_server(db_url) as running:
        yield running


def log_in(browser: Any, server: ApiServer, who: str) -> Any:
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.set_default_timeout(TIMEOUT)
    page.goto(f"{server.base}/ui/runs")
    assert page.url.endswith("/ui/login")  # no token yet: to the login form
    page.fill("input[name=token]", server.tokens[who])
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.base}/ui/runs")
    return page


def test_log_in_follow_runs_open_one_cancel_it_and_see_the_audit(
    browser: Any, server: ApiServer, client: hs.Client,
    start_worker: Callable[..., hs.Worker], tmp_path: Path,
) -> None:
    shots = Path(os.environ.get("HARVEST_SHOTS", tmp_path))
    start_worker(workflows=[cli_app.greet, cli_app.inbox], activities=[cli_app.shout])
    for name in ("ada", "bob"):
        client.start(cli_app.greet, name).result(timeout=20)
    waiting = client.start(cli_app.inbox, 1, id="inbox-1")

    page = log_in(browser, server, "operate")
    links = page.locator("a.hs-run-link")
    links.nth(2).wait_for()
    assert links.count() == 3
    assert server.tokens["operate"] not in page.content()  # the cookie never reaches the page
    # a run started now appears without a reload (the list refreshes itself)
    client.start(cli_app.greet, "cy", id="late-one")
    page.locator("a.hs-run-link", has_text="late-one").wait_for()
    page.screenshot(path=str(shots / "dashboard-runs.png"))

    page.locator("a.hs-run-link", has_text="inbox-1").click()
    page.wait_for_url(lambda url: "/ui/run?" in url)
    header = page.locator(".hs-run-header")
    header.get_by_text("RUNNING").first.wait_for()
    page.locator(".hs-timeline svg .hs-snap-bar").first.wait_for()  # the timeline drew
    page.locator(".hs-events").get_by_text("WorkflowStarted").wait_for()

    page.locator(".hs-act-cancel button").click()
    page.locator(".hs-confirm button").first.wait_for()
    page.locator("input[placeholder=reason]").first.fill("no longer needed")
    page.locator(".hs-confirm button").first.click()
    page.locator(".hs-message").get_by_text("cancel").first.wait_for()
    header.get_by_text("CANCELLED").first.wait_for()  # the page follows the run to its end
    page.screenshot(path=str(shots / "dashboard-run.png"))
    assert client.describe(waiting.run_id).status == "CANCELLED"

    page.goto(f"{server.base}/ui/audit")
    row = page.locator(".hs-audit tr", has_text="run.cancel")
    row.first.wait_for()
    text = row.first.inner_text()
    assert "token:t-operate" in text and "ui" in text and "ok" in text
    [record] = client.audit(action="run.cancel")
    assert (record.front_end, record.actor) == ("ui", "token:t-operate")


def test_a_read_token_sees_but_cannot_change(
    browser: Any, server: ApiServer, client: hs.Client,
) -> None:
    run = client.start("anything", force=True, id="look-only")
    page = log_in(browser, server, "read")
    page.locator("a.hs-run-link", has_text="look-only").click()
    page.locator(".hs-run-header").get_by_text("RUNNING").first.wait_for()
    assert page.locator(".hs-act-cancel button").is_disabled()
    assert client.describe(run.run_id).status == "RUNNING"
    for path in ("/ui/workers", "/ui/dlq", "/ui/schedules", "/ui/dags"):
        page.goto(f"{server.base}{path}")
        page.locator(".hs-nav").first.wait_for()  # each page opens for a reader
    context = browser.new_context()
    stranger = context.new_page()
    stranger.goto(f"{server.base}/ui/audit")
    assert stranger.url.endswith("/ui/login")
    context.close()
