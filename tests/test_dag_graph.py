"""DAG graphs as SVG: the pure-Python layered layout, Graphviz's dot, a real run's graph on
PostgreSQL, and what a person sees of it in Debian's headless Chromium."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import harvest_studio as hs
from harvest_studio.commands.render import dag_graph
from harvest_studio.commands.render.dag_graph import (
    FALLBACK_NOTE,
    PALETTE,
    DagGraph,
    dag_svg,
    duration,
    map_counts,
)
from harvest_studio.commands.render.dag_layout import Box, crossings, layout, ranks

SVG = "{http://www.w3.org/2000/svg}"
CHROMIUM = "/usr/bin/chromium"
HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(
    not HAS_DOT, reason="Graphviz's dot binary is not installed (.ci/run apt-installs graphviz)"
)
ENGINES = ["python", pytest.param("dot", marks=needs_dot)]


@hs.activity(start_to_close="10s")
def extract(ctx: hs.ActivityContext, n: int) -> list[int]:
    return list(range(n))


@hs.activity(start_to_close="10s", retry=hs.RetryPolicy(max_attempts=1))
def transform(ctx: hs.ActivityContext, item: int, bad: int) -> int:
    if item == bad:
        raise ValueError(f"bad item {item}")
    return item * 10


@hs.activity(start_to_close="10s")
def load(ctx: hs.ActivityContext, parts: list[int]) -> int:
    return sum(parts)


@hs.activity(start_to_close="10s")
def report(ctx: hs.ActivityContext, *args: Any) -> str:
    return "sent"


@hs.dag(params={"n": int, "bad": int})
def pipeline(d: hs.Dag, n: int, bad: int) -> None:
    raw = d.task(extract, n)
    parts = d.map(transform, bad, over=raw, failure="collect", name="each")
    loaded = d.task(load, parts)  # all_success: upstream_failed when an item failed
    d.task(report, upstream=[loaded], trigger_rule="all_done", name="report")
    d.task(report, raw, name="publish", run_if=lambda items: len(items) > 100)
    d.task(report, upstream=[raw, "publish"], name="x <&> y", trigger_rule="one_success")


def _groups(svg: str, cls: str) -> list[ET.Element]:
    root = ET.fromstring(svg)  # valid XML, or this raises
    assert root.tag == f"{SVG}svg"
    return [g for g in root.iter(f"{SVG}g") if cls in (g.get("class") or "").split()]


def _states(svg: str) -> dict[str, str]:
    return {g.get("data-node", ""): g.get("data-state", "") for g in _groups(svg, "node")}


def _text(group: ET.Element) -> str:
    return " ".join("".join(t.itertext()) for t in group.iter(f"{SVG}text"))


def _edge_count(graph: dict[str, Any]) -> int:
    return sum(len(n["upstream"]) for n in graph["nodes"])


AT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def _run_nodes() -> dict[str, hs.NodeInfo]:
    """A run of ``pipeline`` as ``client.dag_run`` reads it: one of each interesting state."""
    counts = {"items": 4, "succeeded": 3, "failed": 1, "timed_out": 0, "not_started": 0}
    nodes = {
        "extract": hs.NodeInfo(
            "extract",
            state="succeeded",
            attempts=1,
            started_at=AT,
            ended_at=AT + timedelta(seconds=1.2),
        ),
        "each": hs.NodeInfo(
            "each",
            kind="map",
            state="failed",
            counts=counts,
            started_at=AT,
            ended_at=AT + timedelta(seconds=3),
        ),
        "load": hs.NodeInfo("load", state="upstream_failed"),
        "report": hs.NodeInfo("report", state="running", attempts=2, started_at=AT),
        "publish": hs.NodeInfo("publish", state="skipped"),
        "x <&> y": hs.NodeInfo("x <&> y", state="timed_out", error="start_to_close timeout"),
    }
    for i in range(4):
        state = "failed" if i == 2 else "succeeded"
        nodes[f"each[{i}]"] = hs.NodeInfo(f"each[{i}]", kind="item", state=state)
    return nodes


# ---------------------------------------------------------------------------------------
# the pure-Python layout
# ---------------------------------------------------------------------------------------
def test_the_fallback_draws_one_box_per_node_and_every_edge() -> None:
    graph = pipeline.graph.to_json()
    drawn = dag_svg(graph, engine="python")
    assert drawn.engine == "python" and drawn.note == FALLBACK_NOTE
    nodes = _groups(drawn.svg, "node")
    assert [g.get("data-node") for g in nodes] == [n["name"] for n in graph["nodes"]]
    assert {g.get("data-state") for g in nodes} == {"pending"}
    assert all(f"state-{g.get('data-state')}" in (g.get("class") or "") for g in nodes)
    edges = _groups(drawn.svg, "edge")
    assert len(edges) == _edge_count(graph) == 6
    assert {(e.get("data-from"), e.get("data-to")) for e in edges} == {
        (up, n["name"]) for n in graph["nodes"] for up in n["upstream"]
    }
    assert all(
        e.find(f"{SVG}path") is not None and e.find(f"{SVG}polygon") is not None for e in edges
    )  # a line and an arrowhead
    labels = {g.get("data-node"): _text(g) for g in nodes}
    assert labels["report"] == "report all_done"  # the rule when it is not all_success
    assert labels["publish"] == "publish run_if"
    assert labels["each"] == "each map over extract"
    legend = _groups(drawn.svg, "legend-item")
    assert [g.get("data-state") for g in legend] == ["pending"]
    assert "Drawn without Graphviz" in drawn.svg


def test_names_are_escaped() -> None:
    drawn = dag_svg(pipeline.graph.to_json(), engine="python")
    assert "x <&> y" not in drawn.svg
    assert "x &lt;&amp;&gt; y" in drawn.svg
    node = next(g for g in _groups(drawn.svg, "node") if g.get("data-node") == "x <&> y")
    assert _text(node) == "x <&> y one_success"


def test_a_run_colours_each_node_by_state_and_shows_durations_and_counts() -> None:
    drawn = dag_svg(pipeline.graph.to_json(), _run_nodes(), engine="python")
    nodes = {g.get("data-node"): g for g in _groups(drawn.svg, "node")}
    assert set(nodes) == {"extract", "each", "load", "report", "publish", "x <&> y"}  # no items
    assert {name: g.get("data-state") for name, g in nodes.items()} == {
        "extract": "succeeded",
        "each": "failed",
        "load": "upstream_failed",
        "report": "running",
        "publish": "skipped",
        "x <&> y": "timed_out",
    }
    assert _text(nodes["extract"]) == "extract 1.2 s"
    assert _text(nodes["each"]) == "each 3/4 ok · 1 failed 3.0 s"
    box = nodes["each"].find(f"{SVG}rect[@class='box']")
    assert box is not None and box.get("fill") == PALETTE["failed"]
    tooltip = nodes["x <&> y"].find(f"{SVG}title")
    assert tooltip is not None and tooltip.text == "x <&> y: timed_out\nstart_to_close timeout"
    legend = [g.get("data-state") for g in _groups(drawn.svg, "legend-item")]
    assert legend == [
        "running",
        "succeeded",
        "failed",
        "upstream_failed",
        "skipped",
        "timed_out",
    ]  # only the states present, in palette order


def test_gates_say_what_opens_them() -> None:
    @hs.dag
    def gated(d: hs.Dag) -> None:
        files = d.wait_signal("files_ready", name="files")
        ok = d.approval(name="sign_off", upstream=[files])
        d.task(report, upstream=[ok])

    drawn = dag_svg(
        gated.graph.to_json(), {"files": hs.NodeInfo("files", state="waiting")}, engine="python"
    )
    labels = {g.get("data-node"): _text(g) for g in _groups(drawn.svg, "node")}
    assert labels == {
        "files": "files waits for files_ready",
        "sign_off": "sign_off waits for approval",
        "report": "report",
    }
    assert _states(drawn.svg)["files"] == "waiting"


def test_map_counts_and_durations() -> None:
    running = [
        hs.NodeInfo(f"m[{i}]", kind="item", state=s)
        for i, s in enumerate(["running", "running", "succeeded", "failed"])
    ]
    assert map_counts(hs.NodeInfo("m", kind="map", state="running"), running) == (
        "1 ok · 1 failed · 2 running"
    )
    assert map_counts(hs.NodeInfo("m", kind="map", state="running"), running[:2]) == "2 running"
    ended = hs.NodeInfo(
        "m",
        kind="map",
        state="failed",
        counts={"items": 10, "succeeded": 3, "failed": 1, "timed_out": 0, "not_started": 6},
    )
    assert map_counts(ended, []) == "3/10 ok · 1 failed · 6 not started"
    assert map_counts(hs.NodeInfo("m", kind="map"), []) is None

    def took(seconds: float) -> str | None:
        return duration(hs.NodeInfo("n", started_at=AT, ended_at=AT + timedelta(seconds=seconds)))

    assert (took(0.25), took(1.23), took(185)) == ("250 ms", "1.2 s", "3m05s")
    assert duration(hs.NodeInfo("n", started_at=AT)) is None


def test_longest_path_ranks_and_barycenter_ordering() -> None:
    # a0 -> b0, a0 -> c, b0 -> c: c is two ranks from a0 although it has an edge from it
    assert ranks(3, [(0, 1), (0, 2), (1, 2)]) == [0, 1, 2]
    # two sources and two sinks that cross in input order: the sweeps untangle them
    edges = [(0, 3), (1, 2)]
    placed = layout([Box(80, 30)] * 4, edges)
    (x0, y0, *_), (x1, y1, *_), (x2, y2, *_), (x3, y3, *_) = placed.boxes
    assert x0 == x1 < x2 == x3  # left to right by rank
    assert (y0 < y1) == (y3 < y2)  # no crossing: 0's target is on 0's side
    assert crossings([[0, 1], [3, 2]], [[3], [2], [], []]) == 0
    assert crossings([[0, 1], [2, 3]], [[3], [2], [], []]) == 1


def test_fallback_boxes_do_not_overlap_and_long_edges_go_around() -> None:
    @hs.dag
    def wide(d: hs.Dag) -> None:
        root = d.task(report, name="root")
        mids = [d.task(report, root, name=f"mid-{i}") for i in range(5)]
        tail = d.task(report, *mids, name="tail")
        d.task(report, root, tail, name="end")  # an edge across two ranks

    placed = layout(
        [Box(90, 40)] * 8,
        [(0, i) for i in range(1, 6)] + [(i, 6) for i in range(1, 6)] + [(0, 7), (6, 7)],
    )
    for (ax, ay, aw, ah), (bx, by, bw, bh) in itertools.combinations(placed.boxes, 2):
        assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay
    assert all(
        x >= 0 and x + w <= placed.width and y >= 0 and y + h <= placed.height
        for x, y, w, h in placed.boxes
    )
    drawn = dag_svg(wide.graph.to_json(), engine="python")
    assert len(_groups(drawn.svg, "edge")) == _edge_count(wide.graph.to_json()) == 12


def test_the_result_object(tmp_path: Path) -> None:
    drawn = hs.graph(pipeline, engine="python")
    assert isinstance(drawn, DagGraph)
    assert drawn._repr_svg_() == drawn.svg == str(drawn)
    assert "python" in repr(drawn) and "<svg" not in repr(drawn)
    saved = drawn.save(tmp_path / "pipeline.svg")
    assert saved.read_text(encoding="utf-8") == drawn.svg
    with pytest.raises(hs.UsageError, match="engine must be one of"):
        dag_svg(pipeline.graph.to_json(), engine="neato")
    with pytest.raises(hs.UsageError, match="draws a DAG"):
        hs.graph("pipeline")  # type: ignore[arg-type]


def test_without_dot_auto_falls_back_and_dot_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dag_graph.shutil, "which", lambda name: None)
    drawn = hs.graph(pipeline)
    assert drawn.engine == "python" and drawn.note == FALLBACK_NOTE
    assert "apt install graphviz" in drawn.note
    with pytest.raises(hs.UsageError, match="needs Graphviz's dot binary"):
        hs.graph(pipeline, engine="dot")


# ---------------------------------------------------------------------------------------
# Graphviz's dot
# ---------------------------------------------------------------------------------------
@needs_dot
def test_dot_draws_the_same_boxes_and_edges() -> None:
    graph = pipeline.graph.to_json()
    for drawn in (hs.graph(pipeline), dag_svg(graph, _run_nodes(), engine="dot")):
        assert drawn.engine == "dot" and drawn.note is None
        nodes = _groups(drawn.svg, "node")
        assert sorted(g.get("data-node", "") for g in nodes) == sorted(
            n["name"] for n in graph["nodes"]
        )
        assert len(_groups(drawn.svg, "edge")) == _edge_count(graph)
        assert "x &lt;&amp;&gt; y" in drawn.svg and "x <&> y" not in drawn.svg
        assert _groups(drawn.svg, "legend")
        assert not drawn.svg.startswith("<?xml")  # inline-able in an HTML page
    states = _states(dag_svg(graph, _run_nodes(), engine="dot").svg)
    assert states["each"] == "failed" and states["publish"] == "skipped"
    each = next(g for g in nodes if g.get("data-node") == "each")
    assert "3/4 ok · 1 failed" in _text(each)
    shape = next(el for el in each if el.get("fill") not in (None, "none"))
    assert shape.get("fill") == PALETTE["failed"]


@needs_dot
def test_python_can_be_forced_even_with_dot() -> None:
    drawn = hs.graph(pipeline, engine="python")
    assert drawn.engine == "python" and drawn.note == FALLBACK_NOTE


# ---------------------------------------------------------------------------------------
# a real run
# ---------------------------------------------------------------------------------------
@pytest.fixture
def worker(start_worker: Callable[..., hs.Worker]) -> hs.Worker:
    return start_worker(workflows=[pipeline], activities=[extract, transform, load, report])


def test_the_graph_of_a_real_run(client: hs.Client, worker: hs.Worker) -> None:
    run = client.start(pipeline, 4, 2)
    with pytest.raises(hs.WorkflowFailedError, match="each failed"):
        run.result(timeout=30)
    info = client.dag_run(run.id)
    assert info.graph == pipeline.graph.to_json()  # from the registry, for this version
    expected = {
        "extract": "succeeded",
        "each": "failed",
        "load": "upstream_failed",
        "report": "succeeded",
        "publish": "skipped",
        "x <&> y": "succeeded",
    }
    for drawn in (hs.graph(info, engine="python"), run.graph(engine="python")):
        assert _states(drawn.svg) == expected
        nodes = {g.get("data-node"): g for g in _groups(drawn.svg, "node")}
        assert "3/4 ok · 1 failed" in _text(nodes["each"])
        assert re.fullmatch(r"extract \d+(\.\d)? m?s", _text(nodes["extract"]))  # duration
        assert _text(nodes["publish"]) == "publish run_if"  # skipped: no duration
    auto = hs.graph(run)
    assert auto.engine == ("dot" if HAS_DOT else "python")
    assert _states(auto.svg) == expected


def test_a_plain_run_has_no_graph(client: hs.Client) -> None:
    @hs.workflow
    async def plain(ctx: hs.WorkflowContext) -> int:
        return 1

    run = client.start(plain)
    with pytest.raises(hs.UsageError, match="not a DAG"):
        run.graph()


# ---------------------------------------------------------------------------------------
# what a person sees
# ---------------------------------------------------------------------------------------
_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>graph</title></head>
<body style="margin:0;background:#fff">%s</body></html>"""


@pytest.mark.browser
@pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
    reason="needs /usr/bin/chromium (installed by .ci/run; never skipped in CI)",
)
@pytest.mark.parametrize("engine", ENGINES)
def test_a_person_sees_the_boxes_the_failure_and_the_legend(engine: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    drawn = dag_svg(pipeline.graph.to_json(), _run_nodes(), engine=engine)
    page_file = tmp_path / "graph.html"
    page_file.write_text(_PAGE % drawn.svg, encoding="utf-8")
    red = "rgb({}, {}, {})".format(*(int(PALETTE["failed"][i : i + 2], 16) for i in (1, 3, 5)))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 700})
            page.goto(page_file.as_uri())
            page.screenshot(path=str(tmp_path / f"graph-{engine}.png"))
            seen = page.evaluate(
                """() => [...document.querySelectorAll('g.node')].map((g) => {
                    const shape = [...g.querySelectorAll('rect, path, polygon')]
                        .find((el) => getComputedStyle(el).fill !== 'none');
                    const box = shape.getBoundingClientRect();
                    const texts = [...g.querySelectorAll('text')].map((t) => {
                        const r = t.getBoundingClientRect();
                        return [r.left, r.top, r.right, r.bottom];
                    });
                    return {name: g.dataset.node, state: g.dataset.state,
                            fill: getComputedStyle(shape).fill, texts,
                            box: [box.left, box.top, box.right, box.bottom]};
                })"""
            )
            nodes = page.locator("g.node")
            assert nodes.count() == len(seen) == 6
            for i in range(nodes.count()):
                assert nodes.nth(i).is_visible()
            for a, b in itertools.combinations(seen, 2):
                (al, at, ar, ab), (bl, bt, br, bb) = a["box"], b["box"]
                assert ar <= bl or br <= al or ab <= bt or bb <= at, (a["name"], b["name"])
            for node in seen:
                left, top, right, bottom = node["box"]
                assert right - left > 20 and bottom - top > 10, node
                for tl, tt, tr, tb in node["texts"]:  # every label inside its box
                    assert left - 1 <= tl and tr <= right + 1, node
                    assert top - 1 <= tt and tb <= bottom + 1, node
            failed = [n for n in seen if n["state"] == "failed"]
            assert [n["name"] for n in failed] == ["each"] and failed[0]["fill"] == red
            assert next(n for n in seen if n["state"] == "succeeded")["fill"] != red
            legend = page.locator("g.legend")
            assert legend.is_visible()
            items = page.locator("g.legend-item")
            assert items.all_text_contents() == [
                "running",
                "succeeded",
                "failed",
                "upstream_failed",
                "skipped",
                "timed_out",
            ]
            legend_box = legend.bounding_box()
            assert legend_box is not None
            assert all(legend_box["y"] >= n["box"][3] for n in seen)  # below the graph
            swatch = page.locator("g.legend-item[data-state=failed] rect")
            assert swatch.evaluate("(el) => getComputedStyle(el).fill") == red
        finally:
            browser.close()


@hs.dag
def live_gate(d: hs.Dag) -> None:
    files = d.wait_signal("files_ready", name="files")
    d.task(report, files, name="notify")


_LIVE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>%(css)s</style></head>
<body><div id="el"></div><script type="module">
const state = %(state)s;
const subs = {};
window.model = {
  get: (k) => state[k],
  set: (k, v) => { state[k] = v; (subs["change:" + k] || []).forEach((f) => f()); },
  save_changes() {}, send() {},
  on: (n, f) => (subs[n] = subs[n] || []).push(f),
  off: (n, f) => { subs[n] = (subs[n] || []).filter((g) => g !== f); },
};
const src = %(js)s;
const mod = await import(URL.createObjectURL(new Blob([src], {type: "text/javascript"})));
mod.default.render({model: window.model, el: document.getElementById("el")});
window.rendered = true;
</script></body></html>"""


@pytest.mark.browser
@pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
    reason="needs /usr/bin/chromium (installed by .ci/run; never skipped in CI)",
)
def test_a_person_sees_the_live_graph_move(
    client: hs.Client, start_worker: Callable[..., hs.Worker], tmp_path: Path
) -> None:
    """The live widget against a real run, its synced state carried into the front end in
    Chromium as the kernel would: the waiting node turns from yellow to green by itself."""
    from playwright.sync_api import sync_playwright

    from harvest_studio.studio.widgets.dag_graph import DagGraphView
    from harvest_studio.studio.widgets.live import STATIC, front_end

    start_worker(workflows=[live_gate], activities=[report])
    run = client.start(live_gate)
    view = run.graph(live=True, interval=0.2, engine="python")
    assert isinstance(view, DagGraphView)

    def colours() -> Any:
        return page.evaluate(
            """() => Object.fromEntries([...document.querySelectorAll('g.node')].map((g) => {
                const shape = [...g.querySelectorAll('rect, path, polygon')]
                    .find((el) => getComputedStyle(el).fill !== 'none');
                return [g.dataset.node, getComputedStyle(shape).fill];
            }))"""
        )

    def push() -> None:  # what the kernel's comm does when a synced trait changes
        for name in ("svg", "summary", "live"):
            page.evaluate("([k, v]) => window.model.set(k, v)", [name, getattr(view, name)])

    def rgb(state: str) -> str:
        return "rgb({}, {}, {})".format(*(int(PALETTE[state][i : i + 2], 16) for i in (1, 3, 5)))

    def until(check: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = datetime.now(UTC) + timedelta(seconds=timeout)
        while not check():
            assert datetime.now(UTC) < deadline, "the page did not change in time"
            page.wait_for_timeout(100)
            push()

    state = {k: v for k, v in view.get_state().items() if not k.startswith("_")}
    page_file = tmp_path / "live.html"
    page_file.write_text(_LIVE_PAGE % {
        "css": (STATIC / "explorer.css").read_text(),
        "state": json.dumps(state),
        "js": json.dumps(front_end()),
    }, encoding="utf-8")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                page = browser.new_page(viewport={"width": 900, "height": 500})
                page.goto(page_file.as_uri())
                page.wait_for_function("window.rendered === true")
                until(lambda: colours().get("files") == rgb("waiting"))
                head = page.locator(".hs-card-head")
                assert "RUNNING" in head.inner_text() and "live" in head.inner_text()
                assert colours()["notify"] == rgb("pending")
                page.screenshot(path=str(tmp_path / "live-waiting.png"))
                run.signal("files_ready", {"files": 2})
                until(lambda: colours() == {"files": rgb("succeeded"), "notify": rgb("succeeded")})
                until(lambda: "COMPLETED" in head.inner_text())
                assert "2 succeeded" in head.inner_text()
                until(lambda: "live" not in head.locator(".hs-tag").all_inner_texts())
                page.screenshot(path=str(tmp_path / "live-done.png"))
            finally:
                browser.close()
    finally:
        view.close()
