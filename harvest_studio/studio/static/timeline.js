// ---------------------------------------------------------------- timeline (the explorer's lanes)
// makeTimeline({ getLanes, getExtent, getSelected, onSelect, onLabel, onView }) returns
// { node, draw, fit, follow, measure, scrollTo }: an axis over scrollable lanes, drawn in SVG.
// Only the lanes scrolled into view and the items overlapping the visible time are drawn,
// and at most one point per pixel and kind, so 100,000 events draw like 100.
const ROW = 22; // lane height in px
const LABEL_W = 180; // lane label column width in px
const AXIS_H = 20;

function makeTimeline({ getLanes, getExtent, getSelected, onSelect, onLabel, onView, getMarks = () => [] }) {
  const state = { t0: 0, t1: 1, fitted: false, zoomed: false, drag: null };
  const node = h("div", { class: "hs-timeline" });
  const axis = s("svg", { class: "hs-axis", height: AXIS_H });
  const lanesBox = h("div", { class: "hs-lanes" });
  const svg = s("svg", { class: "hs-lanes-svg" });
  lanesBox.append(svg);
  node.append(axis, lanesBox);

  let lastT = 0; // the latest time any lane item reaches
  function measure() {
    lastT = 0;
    for (const lane of getLanes()) {
      for (const it of lane.items) lastT = Math.max(lastT, it[0], it[1] ?? 0);
    }
  }
  const extent = () => Math.max(getExtent(), lastT, 0.001);

  function fit() {
    const span = extent();
    state.t0 = -span * 0.02;
    state.t1 = span * 1.02;
    state.fitted = true;
    state.zoomed = false;
  }

  // keep the end of the run in view: the whole run, or (zoomed in) the same span at the end
  function follow() {
    const end = extent();
    const span = state.t1 - state.t0;
    if (!state.zoomed || span >= end) { fit(); return; }
    state.t1 = end + span * 0.02;
    state.t0 = state.t1 - span;
  }

  // Reading clientWidth forces a layout; inside a draw (which appends to the DOM between
  // reads) that would lay the page out once per bar. A draw reads it once.
  let frozenWidth = null;
  const width = () => frozenWidth ?? Math.max((lanesBox.clientWidth || 800) - LABEL_W, 100);
  const x = (t) => LABEL_W + ((t - state.t0) / (state.t1 - state.t0)) * width();

  function drawAxis() {
    const w = width() + LABEL_W;
    axis.setAttribute("width", w);
    axis.replaceChildren();
    const span = state.t1 - state.t0;
    const raw = span / 8;
    const mag = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((v) => v >= raw) || raw;
    for (let t = Math.ceil(state.t0 / step) * step; t <= state.t1; t += step) {
      const px = x(t);
      axis.append(s("line", { x1: px, x2: px, y1: AXIS_H - 5, y2: AXIS_H, class: "hs-tick" }));
      const label = s("text", { x: px + 2, y: AXIS_H - 7, class: "hs-tick-label" });
      label.textContent = fmtT(t);
      axis.append(label);
    }
  }

  function mark(it, y, sel, now, w) {
    const [a, b, kind, label, s0, s1] = it;
    const end = b === null ? now : b;
    const x0 = Math.max(x(a), LABEL_W);
    const x1 = Math.min(x(end), w);
    // a wait ends at the event that starts the next bar: only that bar lights up
    const selected = sel !== null && sel !== undefined && (s0 === sel
      || (s0 < sel && sel <= s1 && kind !== "scheduled" && kind !== "backoff" && kind !== "band"));
    const cls = `hs-bar hs-k-${kind}${b === null ? " hs-open" : ""}${selected ? " hs-sel" : ""}`;
    const node = b !== null && b === a
      ? s("circle", { cx: x(a), cy: y + ROW / 2, r: 5, class: cls })
      : s("rect", { x: x0, y: y + 4, width: Math.max(x1 - x0, 2), height: ROW - 8, rx: 2, class: cls });
    node.setAttribute("data-seq", s0);
    const tip = s("title");
    tip.textContent = `${label} [${s0}${s1 !== s0 ? `-${s1}` : ""}] ${fmtT(a)}${b !== a ? ` → ${b === null ? "…" : fmtT(b)}` : ""}`;
    node.append(tip);
    node.addEventListener("click", (ev) => { ev.stopPropagation(); onSelect(s0); });
    return node;
  }

  // a group's concurrency profile: an area as tall as the most attempts running at once
  function profile(lane, y) {
    const m = lane.meta;
    if (!m.profile || !m.profile.length || !m.peak) return null;
    const base = y + ROW - 3;
    const scale = (ROW - 6) / m.peak;
    let d = `M${x(m.profile[0][0])},${base}`;
    for (const [t, n] of m.profile) d += `L${x(t)},${base - n * scale}`;
    d += `L${x(m.profile[m.profile.length - 1][0])},${base}Z`;
    const path = s("path", { d, class: "hs-profile" });
    const tip = s("title");
    tip.textContent = `${lane.label}: at most ${m.peak} running at once`;
    path.append(tip);
    return path;
  }

  function draw() {
    frozenWidth = null;
    frozenWidth = width();
    try {
      if (!state.fitted) fit();
      drawAxis();
      const lanes = getLanes();
      const sel = getSelected();
      const now = extent();
      const w = width() + LABEL_W;
      svg.setAttribute("width", w);
      svg.setAttribute("height", lanes.length * ROW);
      svg.replaceChildren();
      const top = lanesBox.scrollTop;
      const first = Math.max(Math.floor(top / ROW) - 2, 0);
      const last = Math.min(Math.ceil((top + (lanesBox.clientHeight || 300)) / ROW) + 2, lanes.length);
      let drawn = 0;
      for (let i = first; i < last; i++) {
        const lane = lanes[i];
        const y = i * ROW;
        svg.append(s("rect", { x: 0, y, width: w, height: ROW, class: `hs-lane-bg ${i % 2 ? "odd" : ""}` }));
        const lastX = {};
        for (const it of lane.items) {
          const [a, b, kind] = it;
          const end = b === null ? now : b;
          if (end < state.t0 || a > state.t1) continue;
          const px = x(a);
          if (x(end) - px < 1 && Math.abs(px - (lastX[kind] ?? -9)) < 1) continue; // same pixel
          lastX[kind] = px;
          svg.append(mark(it, y, sel, now, w));
          drawn++;
          if (lane.kind === "group" && kind === "band") {
            const area = profile(lane, y);
            if (area) svg.append(area);
          }
        }
        svg.append(s("rect", { x: 0, y, width: LABEL_W, height: ROW, class: "hs-label-bg" }));
        const m = lane.meta || {};
        const linked = lane.kind === "child" || lane.kind === "group";
        const text = s("text", { x: 4, y: y + ROW / 2 + 4,
          class: `hs-lane-label hs-lk-${lane.kind}${linked ? " hs-link" : ""}`, "data-lane": lane.id });
        const extra = (lane.kind === "activity" || lane.kind === "group") && (m.retries || m.timeouts)
          ? ` ↻${m.retries || 0}${m.timeouts ? ` (${m.timeouts} timed out)` : ""}` : "";
        text.textContent = (lane.label + extra).slice(0, 30);
        const tip = s("title");
        tip.textContent = lane.kind === "child" ? `${lane.label}: click to open the child run`
          : lane.kind === "group" ? `${lane.label}: click for counts and durations` : lane.label;
        text.append(tip);
        if (linked) text.addEventListener("click", (ev) => { ev.stopPropagation(); onLabel(lane); });
        svg.append(text);
      }
      // marks across all lanes: where a blocked run stopped
      for (const { t, label, kind } of getMarks()) {
        if (t < state.t0 || t > state.t1) continue;
        const line = s("line", { x1: x(t), x2: x(t), y1: 0, y2: lanes.length * ROW, class: `hs-mark hs-mark-${kind}` });
        const tip = s("title");
        tip.textContent = label;
        line.append(tip);
        svg.append(line);
      }
      svg.setAttribute("data-drawn", drawn);
      node.dataset.t0 = state.t0;
      node.dataset.t1 = state.t1;
    } finally {
      frozenWidth = null;
    }
  }

  lanesBox.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const rect = lanesBox.getBoundingClientRect();
    const px = ev.clientX - rect.left - LABEL_W;
    const at = state.t0 + (Math.max(px, 0) / width()) * (state.t1 - state.t0);
    const factor = ev.deltaY > 0 ? 1.25 : 0.8;
    const span = Math.max((state.t1 - state.t0) * factor, 0.001);
    const share = (at - state.t0) / (state.t1 - state.t0);
    state.t0 = at - share * span;
    state.t1 = state.t0 + span;
    state.zoomed = true;
    draw();
    onView(state, "zoom");
  }, { passive: false });
  lanesBox.addEventListener("mousedown", (ev) => {
    state.drag = { x: ev.clientX, t0: state.t0, t1: state.t1, moved: false };
  });
  const onMove = (ev) => {
    if (!state.drag) return;
    const dx = ev.clientX - state.drag.x;
    if (Math.abs(dx) > 2) state.drag.moved = true;
    const dt = (dx / width()) * (state.drag.t1 - state.drag.t0);
    state.t0 = state.drag.t0 - dt;
    state.t1 = state.drag.t1 - dt;
    state.zoomed = true;
    draw();
  };
  const onUp = () => {
    if (state.drag && state.drag.moved) onView(state, "pan");
    state.drag = null;
  };
  window.addEventListener("mousemove", onMove);
  window.addEventListener("mouseup", onUp);
  lanesBox.addEventListener("scroll", () => draw());

  // scroll the lane holding event `seq` into view
  function scrollTo(seq) {
    const i = getLanes().findIndex((l) => l.items.some((it) => it[4] <= seq && seq <= it[5]));
    if (i < 0) return;
    const y = i * ROW;
    if (y < lanesBox.scrollTop || y > lanesBox.scrollTop + lanesBox.clientHeight - ROW) lanesBox.scrollTop = y - ROW;
  }

  function dispose() {
    window.removeEventListener("mousemove", onMove);
    window.removeEventListener("mouseup", onUp);
  }

  return { node, state, draw, fit, follow, measure, scrollTo, dispose };
}

// a small histogram of a group's durations, for the inspector
function histogramSvg(hist) {
  const counts = hist.counts || [];
  const most = Math.max(1, ...counts);
  const box = s("svg", { width: 240, height: 70, class: "hs-hist" });
  counts.forEach((n, i) => {
    const height = (n / most) * 54;
    const bar = s("rect", { x: 4 + i * 19, y: 58 - height, width: 16, height, class: "hs-hist-bar" });
    const tip = s("title");
    tip.textContent = `${fmtT(hist.edges[i])}–${fmtT(hist.edges[i + 1])}: ${n}`;
    bar.append(tip);
    box.append(bar);
  });
  const lo = s("text", { x: 4, y: 69, class: "hs-tick-label" });
  lo.textContent = fmtT(hist.edges[0]);
  const hi = s("text", { x: 236, y: 69, "text-anchor": "end", class: "hs-tick-label" });
  hi.textContent = fmtT(hist.edges[hist.edges.length - 1]);
  box.append(lo, hi);
  return box;
}
