"""``hs.profile`` / ``%harvest profile``: the critical path of a run with known durations,
and the time by kind adding up to the run's duration."""

from __future__ import annotations

import itertools
import os
import re
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


@hs.dag
def lanes(d: hs.Dag) -> None:
    first = d.task(sleep_for, 0.2, name="first")
    long = d.task(sleep_for, 0.6, name="long", upstream=[first])
    short = d.task(sleep_for, 0.05, name="short", upstream=[first])
    d.task(sleep_for, 0.1, name="last", upstream=[long, short])


def test_profiles_across_runs_name_the_nodes_most_often_critical(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[lanes], activities=[sleep_for])
    runs = [client.start(lanes) for _ in range(4)]
    for run in runs:
        run.result(timeout=30)
    one = hs.profile(runs[0])
    assert [s.name for s in one.critical_path if s.kind == "work"] == [
        "first #1", "long #1", "last #1"]  # a DAG's spans go by node
    db = hs.analytics.load(client)
    many = hs.profile(lanes, history=db)
    assert many.runs == 4 and len(many.durations) == 4
    assert many.criticality["first"] == many.criticality["long"] == 1.0
    assert many.criticality["last"] == 1.0 and "short" not in many.criticality
    assert 0.9 <= many.p50 <= many.p99 < 5
    assert many.breakdown["work"] == pytest.approx(0.9, abs=0.2)
    assert "most often critical" in str(many) and "<svg" in many._repr_html_()
    assert db.profile("lanes", limit=2).runs == 2
    with pytest.raises(hs.UsageError, match="no finished runs of nothing"):
        db.profile("nothing")
    db.close()


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
        result = shell.run_cell("chart = %harvest profile profiled --interactive")
        assert result.error_in_exec is None
        assert "<iframe" in shell.display_formatter.format(shell.user_ns["chart"])[0][
            "text/html"]
        early = shell.run_cell("%harvest profile --type known").error_in_exec
        assert early is not None and "run %harvest load first" in str(early)
        shell.run_cell("%harvest load")
        result = shell.run_cell("many = %harvest profile --type known")
        assert result.error_in_exec is None and shell.user_ns["many"].runs == 1
        both = shell.run_cell("%harvest profile profiled --type known").error_in_exec
        assert both is not None and "either REF or --type" in str(both)
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


_DEEP_TEXT = """() => {
  const parts = [];
  const walk = (node) => {
    for (const child of node.childNodes) {
      if (child.nodeType === 3) parts.push(child.textContent);
      else if (child.nodeType === 1 && !['STYLE', 'SCRIPT'].includes(child.tagName)) {
        if (child.shadowRoot) walk(child.shadowRoot);
        walk(child);
      }
    }
  };
  walk(document.body);
  return parts.join(' ').replace(/\\s+/g, ' ');
}"""


@pytest.mark.browser
@pytest.mark.skipif(
    not os.path.exists("/usr/bin/chromium") and not os.environ.get("CI"),
    reason="needs /usr/bin/chromium (installed by .ci/run; never skipped in CI)",
)
def test_the_interactive_gantt_draws_each_bar_where_it_ran_and_tells_on_hover(
    tmp_path: Path,
) -> None:
    import io
    from datetime import UTC, datetime

    from PIL import Image
    from playwright.sync_api import sync_playwright

    from harvest_studio.tools.profile import RunProfile
    from harvest_studio.tools.profile_chart import COLOURS

    spans = [Span("extract #1", "work", 0.0, 1.0, 3), Span("extract #1 backoff", "backoff",
             1.0, 1.5, 4), Span("extract #2", "work", 1.5, 2.0, 6),
             Span("side #1", "work", 0.2, 0.4, 5), Span("timer 1.00 s", "timer", 2.0, 3.0, 8)]
    chain = critical_path(spans, 3.0)
    prof = RunProfile("r1", "etl", "COMPLETED", datetime.now(UTC), 3.0, spans, chain,
                      breakdown(chain, 3.0))
    page_file = prof.gantt().save(tmp_path / "gantt.html")
    text = page_file.read_text()
    # BokehJS inline, no script or style fetched: works offline
    assert not re.search(r"<script[^>]*\bsrc=|<link[^>]*\bhref=", text) and "Bokeh" in text
    assert '<iframe class="hs-gantt"' in prof.gantt()._repr_html_()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 500})
            page.goto(page_file.as_uri())
            page.wait_for_function("() => window.Bokeh && [...Bokeh.index].some(v => v.frame)",
                                   timeout=20_000)
            bars = page.evaluate("""() => {
              const v = [...Bokeh.index].find(v => v.frame);
              const d = v.model.renderers[0].data_source.data;
              const box = v.el.getBoundingClientRect();
              const x = (s) => box.left + v.frame.x_scale.compute(s);
              return d.name.map((name, i) => ({name, left: x(d.start[i]), right: x(d.end[i]),
                y: box.top + v.frame.y_scale.compute(d.row[i]), zero: x(0), one: x(1)}));
            }""")
            shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
            by_name = {b["name"]: b for b in bars}
            page.mouse.move((by_name["side #1"]["left"] + by_name["side #1"]["right"]) / 2,
                            by_name["side #1"]["y"])
            page.wait_for_timeout(400)
            hovered = page.evaluate(_DEEP_TEXT)
        finally:
            browser.close()
    scale = bars[0]["one"] - bars[0]["zero"]
    for span in spans:  # each bar starts and ends where its span did, in the span's colour
        bar = by_name[span.name]
        assert bar["left"] - bar["zero"] == pytest.approx(span.start * scale, abs=1)
        assert bar["right"] - bar["left"] == pytest.approx(span.seconds * scale, abs=1)
        middle = shot.getpixel((int((bar["left"] + bar["right"]) / 2), int(bar["y"])))
        expected = tuple(int(COLOURS[span.kind][i:i + 2], 16) for i in (1, 3, 5))
        assert middle == pytest.approx(expected, abs=3), span.name
        past = shot.getpixel((int(bar["right"]) + 6, int(bar["y"])))
        assert past != middle or span.end == 3.0  # nothing drawn after the span ended
    assert "span: side #1" in hovered and "took: 0.200 s" in hovered
    assert "critical: no" in hovered
