"""The history explorer as a person sees it: the real widget object in this process, its
front end in Debian's headless Chromium (tests/widget_bridge.py), real runs and workers.

Checked over time, not only once: the live view follows a running run and receives
patches instead of whole lanes; the type filter hides bars; a reset moves the explorer to
the new run and back; large runs show one lane per type; the tables page and switch to
the compact and JSON views."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest

import harvest_studio as hs
from harvest_studio.studio.widgets.explorer import HistoryExplorer

from .test_explorer import _synthetic_run, wait_for
from .widget_bridge import ARGS, CHROMIUM, Bridge

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                       reason="needs /usr/bin/chromium (installed by .ci/run; never skipped"
                              " in CI)"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@hs.activity
async def nap(ctx: hs.ActivityContext, seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


@hs.workflow
async def slow_steps(ctx: hs.WorkflowContext, steps: int) -> int:
    for _ in range(steps):
        await ctx.execute_activity(nap, 0.4)
    return steps


@hs.workflow
async def approve_later(ctx: hs.WorkflowContext) -> Any:
    ctx.set_query_handler("stage", lambda: "waiting")
    await ctx.execute_activity(nap, 0.01)
    await ctx.sleep(0.05)
    return await ctx.wait_signal("approve")


def test_live_explorer_follows_the_run_and_sends_only_what_changed(
    browser: Any, client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[slow_steps], activities=[nap])
    run = client.start(slow_steps, 6)
    explorer = HistoryExplorer(client, run.id, live=True, interval=0.25)
    bridge = Bridge(browser, explorer)
    try:
        axis_end = "+document.querySelector('.hs-timeline').dataset.t1"
        first_end = bridge.page.evaluate(axis_end)
        bridge.until("document.querySelector('.hs-bar.hs-k-attempt.hs-open')")  # one running
        bridge.pump(1.5)
        later_end = bridge.page.evaluate(axis_end)
        bars_then = bridge.page.locator(".hs-lanes .hs-bar").count()
        assert later_end > first_end + 1.0  # the axis moved with the run, no Fit pressed
        bridge.until("document.querySelector('.hs-status').textContent === 'COMPLETED'", 30)
        bridge.pump(0.5)
        assert bridge.page.locator(".hs-lanes .hs-bar").count() > bars_then
        # six activity lanes, each ending green where its attempt ended
        assert bridge.page.locator(".hs-bar.hs-k-ok").count() == 6
        # while live, lanes and rows came as patches; whole lists never went again
        resent = [d for d in bridge.delivered if d[0] == "set" and d[1] in ("lanes", "events")]
        patches = [d for d in bridge.delivered if d[:2] == ("msg", "patch")]
        assert resent == [] and len(patches) >= 5
        assert max(size for *_, size in patches) < 20_000
        assert bridge.errors == []
    finally:
        bridge.close()
        explorer.close()


def test_table_timeline_and_filter_in_the_page(
    browser: Any, client: hs.Client, db_url: str
) -> None:
    run_id = _synthetic_run(client, db_url, 1000)
    explorer = HistoryExplorer(client, run_id, window_size=100, group_at=10**6)
    bridge = Bridge(browser, explorer)
    page = bridge.page
    try:
        assert page.locator("tbody tr").count() == 100
        count = page.locator(".hs-count")
        assert count.inner_text().strip() == "rows 901\u20131,000 of 1,000 events"
        page.locator(".hs-lanes .hs-bar.hs-k-ok").first.click()
        bridge.pump()
        clicked = explorer.selected_seq  # the kernel saw the click on the bar
        assert clicked is not None
        # the table moved to the bar's event and marked its row
        bridge.until(f"document.querySelector('tr.hs-sel')?.dataset.seq === '{clicked}'")
        assert page.locator(".hs-count").inner_text().strip() == "rows 1\u2013100 of 1,000 events"
        row = page.locator("tbody tr").nth(2)
        seq = int(row.get_attribute("data-seq") or 0)
        row.click()
        bridge.until(f"document.querySelector('tr.hs-sel')?.dataset.seq === '{seq}'")
        assert explorer.selected_seq == seq
        assert page.locator(".hs-bar.hs-sel").count() >= 1  # its bar is lit
        page.get_by_role("button", name="later ▶").click()
        bridge.until("document.querySelector('.hs-count').textContent.includes('101\u2013200')")

        scheduled = page.locator(".hs-bar.hs-k-scheduled").count()
        page.locator("input[data-type='ActivityCompleted']").check()
        bridge.until("!document.querySelector('.hs-bar.hs-k-scheduled')")
        assert scheduled > 0 and explorer.type_filter == ["ActivityCompleted"]
        assert page.locator(".hs-bar.hs-k-ok").count() > 0  # completions stay
        assert {t for t in page.locator("td.hs-type").all_inner_texts()} == {"ActivityCompleted"}
        assert "matching" in page.locator(".hs-count").inner_text()
        page.locator("input[data-type='ActivityCompleted']").uncheck()
        bridge.until("document.querySelector('.hs-bar.hs-k-scheduled')")

        page.get_by_role("button", name="Compact").click()
        bridge.until("document.querySelectorAll('tr.hs-compact').length === 500")
        assert "500 rows" in page.locator(".hs-count").inner_text()
        page.get_by_role("button", name="JSON").click()
        bridge.until("document.querySelector('.hs-json').textContent.includes('ActivityScheduled')")
        assert page.locator("a.hs-download").get_attribute("download", timeout=5000)
        assert bridge.errors == []
    finally:
        bridge.close()
        explorer.close()


def test_a_large_run_shows_one_lane_per_type(
    browser: Any, client: hs.Client, db_url: str
) -> None:
    run_id = _synthetic_run(client, db_url, 10_000)
    explorer = HistoryExplorer(client, run_id)
    bridge = Bridge(browser, explorer)
    page = bridge.page
    try:
        labels = page.evaluate("[...document.querySelectorAll('.hs-lane-label')]"
                               ".map((t) => t.firstChild.textContent)")
        assert labels == ["workflow", "step \u00d75,000"]
        page.locator(".hs-lane-label.hs-link").click()
        bridge.pump()
        inspector = page.locator(".hs-inspector")
        assert "4,999 completed" in inspector.inner_text()
        assert inspector.locator(".hs-hist-bar").count() == 12
        assert bridge.errors == []
    finally:
        bridge.close()
        explorer.close()


def test_reset_from_the_page_opens_the_new_run_and_back(
    browser: Any, client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[approve_later], activities=[nap])
    run = client.start(approve_later)
    wait_for(lambda: any(e.event_type == "TimerFired" for e in run.history()))
    fired = next(e.seq for e in run.history() if e.event_type == "TimerFired")
    explorer = HistoryExplorer(client, run.id)
    bridge = Bridge(browser, explorer)
    page = bridge.page
    try:
        # the run card part of the header says what the run waits for
        assert "waiting for signal approve" in page.locator(".hs-pending").inner_text()
        page.locator(".hs-talk-kind").select_option("query")
        page.locator(".hs-talk-name").fill("stage")
        page.locator(".hs-send").click()
        bridge.until("document.querySelector('.hs-msg').textContent === 'query → \"waiting\"'")

        # an invalid point offers valid ones; clicking one previews it
        page.locator(f"tbody tr[data-seq='{fired - 1}']").click()
        page.get_by_role("button", name="Preview reset").click()
        bridge.until("document.querySelector('.hs-preview .hs-err')")
        assert page.locator(".hs-preview .hs-ok").count() == 0
        assert page.locator(".hs-msg").inner_text() == ""  # said once, in the preview
        page.locator(f".hs-point[data-seq='{fired}']").click()
        bridge.until("document.querySelector('.hs-preview .hs-ok')")
        assert explorer.selected_seq == fired

        reset = page.locator("button.hs-reset")
        reset.click()
        reset.click()  # armed, then acts: but there is no reason yet
        assert page.locator(".hs-msg").inner_text() == "a reset needs a reason"
        page.locator(".hs-reset-reason").fill("approve again from the timer")
        page.locator(".hs-reapply").select_option("drop")
        reset.click()
        reset.click()
        new_run = bridge.until(
            f"(() => {{ const c = document.querySelector('.hs-head code:nth-of-type(2)');"
            f" return c && c.textContent !== '{run.id[:8]}' && c.textContent; }})()")
        assert explorer.run_id.startswith(new_run) and explorer.run_id != run.id
        assert client.describe(run.id).status == "TERMINATED"
        assert page.locator(".hs-linkbtn", has_text="reset from").count() == 1
        page.locator(".hs-back").click()
        bridge.until(f"document.querySelector('.hs-head code:nth-of-type(2)').textContent"
                     f" === '{run.id[:8]}'")
        assert page.locator(".hs-linkbtn", has_text="reset to").count() == 1
        assert bridge.errors == []
    finally:
        bridge.close()
        explorer.close()


def test_the_selected_row_stands_out_in_a_dark_theme(
    browser: Any, client: hs.Client, db_url: str
) -> None:
    run_id = _synthetic_run(client, db_url, 40)
    explorer = HistoryExplorer(client, run_id, window_size=20)
    bridge = Bridge(browser, explorer)
    page = bridge.page
    try:
        # JupyterLab's dark theme sets these variables on the page
        page.evaluate("""() => { const s = document.body.style;
            s.setProperty('--jp-layout-color0', '#111111');
            s.setProperty('--jp-layout-color1', '#111111');
            s.setProperty('--jp-ui-font-color0', '#ffffff');
            s.setProperty('--jp-ui-font-color1', '#e0e0e0');
            s.setProperty('--jp-brand-color1', '#4fa3ff');
            s.background = '#111111'; }""")
        rows = page.locator("tbody tr")
        rows.nth(3).click()
        bridge.until("document.querySelector('tr.hs-sel')")
        shot = page.locator(".hs-table-box").screenshot()
        from io import BytesIO

        from PIL import Image

        image = Image.open(BytesIO(shot)).convert("L")
        box = page.locator(".hs-table-box").bounding_box()
        chosen = page.locator("tr.hs-sel").bounding_box()
        other = rows.nth(6).bounding_box()
        assert box and chosen and other

        def brightness(row: dict[str, float]) -> float:
            y = int(row["y"] - box["y"] + row["height"] / 2)
            band = [image.getpixel((x, y)) for x in range(4, int(row["width"]) - 4, 3)]
            return sum(band) / len(band)

        # the selected row is clearly lighter than its neighbours on a dark page
        assert brightness(chosen) - brightness(other) > 20
    finally:
        bridge.close()
        explorer.close()
