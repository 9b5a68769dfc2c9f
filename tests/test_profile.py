"""``hs.profile`` / ``%harvest profile``: the critical path of a run with known durations,
and the time by kind adding up to the run's duration."""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

import harvest_studio as hs
from harvest_studio.tools.profile import Span, breakdown, critical_path

from .conftest import wait_for

slow = {"fail": 0}


@hs.activity(start_to_close="10s")
def sleep_for(ctx: hs.ActivityContext, seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@hs.activity(retry=hs.RetryPolicy(max_attempts=3, initial_interval=0.3, jitter=0.0))
def flaky_step(ctx: hs.ActivityContext) -> str:
    if slow["fail"] > 0:
        slow["fail"] -= 1
        raise ConnectionError("try again")
    return "ok"


@hs.workflow
async def known(ctx: hs.WorkflowContext) -> None:
    await ctx.execute_activity(sleep_for, 0.3)                      # A
    await ctx.gather(ctx.execute_activity(sleep_for, 0.1),          # B, off the path
                     ctx.execute_activity(sleep_for, 0.6))          # C, on it
    await ctx.sleep(0.4)                                             # a timer
    await ctx.execute_activity(flaky_step)                           # fails once, backs off
    await ctx.wait_signal("go")                                      # a signal wait


def test_the_critical_path_of_a_run_with_known_durations(
    client: hs.Client, start_worker: Any
) -> None:
    slow["fail"] = 1
    start_worker(workflows=[known], activities=[sleep_for, flaky_step])
    run = client.start(known)
    # the last activity done (A, B, C, flaky_step): the run waits for "go"
    wait_for(lambda: sum(e.event_type == "ActivityCompleted" for e in run.history()) == 4)
    time.sleep(0.3)
    run.signal("go")
    run.result(timeout=30)
    prof = hs.profile(run)
    steps = [
        (s.kind, "timer" if s.kind == "timer" else s.name)
        for s in prof.critical_path if s.kind != "queue"
    ]
    assert steps == [
        ("work", "sleep_for #1"),          # A
        ("work", "sleep_for #1"),          # C (0.6 s), not B (0.1 s)
        ("timer", "timer"),
        ("work", "flaky_step #1"),
        ("backoff", "flaky_step #1 backoff"),
        ("work", "flaky_step #2"),
        ("signal", "signal go"),
    ]
    works = [s for s in prof.critical_path if s.kind == "work" and s.name == "sleep_for #1"]
    assert works[0].seconds == pytest.approx(0.3, abs=0.15)
    assert works[1].seconds == pytest.approx(0.6, abs=0.15)
    assert prof.breakdown["timer"] == pytest.approx(0.4, abs=0.1)
    assert prof.breakdown["backoff"] == pytest.approx(0.3, abs=0.1)
    assert prof.breakdown["signal"] >= 0.25
    assert sum(prof.breakdown.values()) == pytest.approx(prof.duration, abs=1e-6)
    assert all(a.end <= b.start + 0.001 for a, b in itertools.pairwise(prof.critical_path))
    text = str(prof)
    assert "critical path:" in text and "timer" in text and "\n" in text
    page = prof._repr_html_()
    assert page.count('class="span ') == len(prof.spans) and page.count(' critical"') == len(
        prof.critical_path
    )
    with pytest.raises(hs.UsageError, match="run handle"):
        hs.profile("not a handle")  # type: ignore[arg-type]


def test_breakdown_counts_overlaps_once_and_gaps_as_the_workflow() -> None:
    chain = [Span("a", "work", 0.1, 0.5, 2), Span("t", "timer", 0.4, 1.0, 5)]
    totals = breakdown(chain, 1.2)
    assert totals["work"] == pytest.approx(0.4) and totals["timer"] == pytest.approx(0.5)
    assert totals["workflow"] == pytest.approx(0.3)  # 0-0.1 and 1.0-1.2
    spans = [Span("x", "work", 0.0, 1.0, 2), Span("y", "work", 0.0, 0.2, 3),
             Span("z", "timer", 1.0, 2.0, 4)]
    assert [s.name for s in critical_path(spans, 2.0)] == ["x", "z"]


class ProfileShell(InteractiveShell):
    __test__ = False


def test_the_magic_returns_the_profile(client: hs.Client, start_worker: Any, db_url: str) -> None:
    start_worker(workflows=[known], activities=[sleep_for, flaky_step])
    run = client.start(known, id="profiled")
    run.signal("go")
    run.result(timeout=30)
    config = Config()
    config.HistoryAccessor.enabled = False
    shell = ProfileShell.instance(config=config)
    try:
        shell.run_cell("%load_ext harvest_studio")
        shell.run_cell(f"%config HarvestMagics.database_url = {db_url!r}")
        result = shell.run_cell("prof = %harvest profile profiled")
        assert result.error_in_exec is None
        prof = shell.user_ns["prof"]
        assert prof.run_id == run.run_id and prof.critical_path
        data, _ = shell.display_formatter.format(prof)
        assert "<svg" in data["text/html"] and "critical path:" in data["text/plain"]
        missing = shell.run_cell("%harvest profile nope").error_in_exec
        assert missing is not None and str(missing).startswith("run_not_found")
    finally:
        shell.run_cell("%unload_ext harvest_studio")
        ProfileShell.clear_instance()


@pytest.mark.browser
@pytest.mark.skipif(
    not os.path.exists("/usr/bin/chromium") and not os.environ.get("CI"),
    reason="needs /usr/bin/chromium (installed by .ci/run; never skipped in CI)",
)
def test_a_person_sees_the_bars_where_the_spans_ran(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from playwright.sync_api import sync_playwright

    from harvest_studio.tools.profile import RunProfile

    spans = [Span("extract #1", "work", 0.0, 1.0, 3), Span("extract #1 backoff", "backoff",
             1.0, 1.5, 4), Span("extract #2", "work", 1.5, 2.0, 6),
             Span("side #1", "work", 0.2, 0.4, 5), Span("timer 1.00 s", "timer", 2.0, 3.0, 8)]
    chain = critical_path(spans, 3.0)
    prof = RunProfile("r1", "etl", "COMPLETED", datetime.now(UTC), 3.0, spans, chain,
                      breakdown(chain, 3.0))
    page_file = tmp_path / "gantt.html"
    page_file.write_text(f"<!doctype html><html><body>{prof._repr_html_()}</body></html>")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 900, "height": 500})
            page.goto(page_file.as_uri())
            page.screenshot(path=str(tmp_path / "gantt.png"))
            seen = page.evaluate("""() => [...document.querySelectorAll('g.span')].map((g) => {
                const bar = g.querySelector('rect').getBoundingClientRect();
                const label = g.querySelector('text').getBoundingClientRect();
                return {name: g.querySelector('title').textContent.split(':')[0],
                        left: bar.left, right: bar.right, labelRight: label.right,
                        critical: g.classList.contains('critical'),
                        stroke: getComputedStyle(g.querySelector('rect')).strokeWidth};
            })""")
        finally:
            browser.close()
    by_name = {s["name"]: s for s in seen}
    assert len(seen) == 5
    px_per_second = (by_name["timer 1.00 s"]["right"] - by_name["extract #1"]["left"]) / 3.0
    for span in spans:  # each bar sits where its span ran, and is as long as it lasted
        bar = by_name[span.name]
        assert bar["left"] - by_name["extract #1"]["left"] == pytest.approx(
            span.start * px_per_second, abs=2)
        assert bar["right"] - bar["left"] == pytest.approx(span.seconds * px_per_second, abs=2)
        assert bar["labelRight"] <= by_name["extract #1"]["left"]  # labels left of the bars
    assert {s["name"] for s in seen if s["critical"]} == {
        "extract #1", "extract #1 backoff", "extract #2", "timer 1.00 s"}
    assert by_name["extract #2"]["stroke"] == "2px" and by_name["side #1"]["stroke"] != "2px"
