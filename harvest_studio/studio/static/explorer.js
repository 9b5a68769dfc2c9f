// Harvest Studio history explorer, run card and live DAG graph (anywidget front end).
// Plain ES module: no dependencies, no CDN, no build step.
const SVGNS = "http://www.w3.org/2000/svg";
const ROW = 22; // lane height in px
const LABEL_W = 180; // lane label column width in px
const AXIS_H = 20;

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function s(tag, attrs = {}) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function fmtT(t) {
  if (t === null || t === undefined) return "";
  if (Math.abs(t) < 1) return `${(t * 1000).toFixed(0)}ms`;
  if (Math.abs(t) < 120) return `${t.toFixed(t < 10 ? 2 : 1)}s`;
  if (Math.abs(t) < 7200) return `${(t / 60).toFixed(1)}m`;
  return `${(t / 3600).toFixed(1)}h`;
}

// a span of time for people: 45 s, 12 min, 6 d 23 h
function inWords(seconds) {
  const sec = Math.max(0, seconds);
  if (sec < 60) return `${sec.toFixed(0)} s`;
  const min = sec / 60;
  if (min < 60) return `${min.toFixed(0)} min`;
  const hours = Math.floor(min / 60);
  if (hours < 24) return min % 60 >= 1 ? `${hours} h ${Math.floor(min % 60)} min` : `${hours} h`;
  return hours % 24 ? `${Math.floor(hours / 24)} d ${hours % 24} h` : `${Math.floor(hours / 24)} d`;
}

// "waiting for signal approve, times out in 6 d 23 h (Wed 14:02:10)": the moment in the
// reader's own time zone, counted from now
function waitLine(w) {
  let text = w.what;
  if (w.until) {
    const until = new Date(w.until);
    const left = (until.getTime() - Date.now()) / 1000;
    const opts = left >= 86400 ? { weekday: "short", hour: "2-digit", minute: "2-digit", second: "2-digit" }
      : { hour: "2-digit", minute: "2-digit", second: "2-digit" };
    text += `, ${w.until_label} in ${inWords(left)} (${until.toLocaleString([], opts)})`;
  }
  if (w.detail) text += `; ${w.detail}`;
  return text;
}

// replaceChildren without the nulls/undefineds that conditional children leave
function fill(node, ...kids) {
  node.replaceChildren(...kids.filter((k) => k !== null && k !== undefined));
}

// Destructive buttons ask again in place (window.confirm is unavailable in some front ends,
// e.g. VS Code's webviews): the first click arms the button for 4 s, the second acts.
function twoStep(button, action) {
  const label = button.textContent;
  let timer = null;
  button.addEventListener("click", () => {
    if (timer === null) {
      button.textContent = `${label}: sure?`;
      button.classList.add("hs-armed");
      timer = setTimeout(() => { timer = null; button.textContent = label; button.classList.remove("hs-armed"); }, 4000);
      return;
    }
    clearTimeout(timer);
    timer = null;
    button.textContent = label;
    button.classList.remove("hs-armed");
    action();
  });
  return button;
}

function badge(status) {
  return h("span", { class: `hs-status hs-st-${String(status || "").toLowerCase()}` }, status);
}

// Listen on the model and remember how to stop listening.
function listener(model) {
  const subs = [];
  return {
    on(name, fn) {
      model.on(name, fn);
      subs.push([name, fn]);
    },
    off() {
      for (const [name, fn] of subs) model.off(name, fn);
    },
  };
}

// ---------------------------------------------------------------- run card
function renderCard({ model, el }) {
  const root = h("div", { class: "hs-card" });
  el.append(root);
  const draw = () => {
    const sm = model.get("summary") || {};
    fill(root,
      h("div", { class: "hs-card-head" },
        h("strong", {}, sm.workflow_type || "?"), " ",
        h("code", {}, sm.workflow_id || ""), " ", badge(sm.status),
        sm.paused ? h("span", { class: "hs-tag" }, "paused") : null,
        sm.cancel_requested ? h("span", { class: "hs-tag" }, "cancel requested") : null,
        model.get("live") ? h("span", { class: "hs-tag hs-live" }, "live") : null),
      h("div", { class: "hs-card-line" }, `${sm.events ?? 0} events, ${fmtT(sm.duration)}`),
      sm.blocked_reason ? h("div", { class: "hs-card-line hs-warn" }, `blocked: ${sm.blocked_reason}`) : null,
      sm.waiting ? h("div", { class: "hs-card-line hs-warn" }, `waiting: ${sm.waiting}`) : null,
      ...(sm.waiting_on || []).map((w) => h("div", { class: `hs-card-line hs-wait hs-wait-${w.kind}` },
        waitLine(w))),
      sm.last_error ? h("div", { class: `hs-card-line ${sm.status === "RUNNING" ? "hs-warn" : "hs-err"}` },
        `${sm.status === "RUNNING" ? "retrying after" : "error"}: ${sm.last_error}`) : null,
      !sm.last_error && sm.retried_errors ? h("div", { class: "hs-card-line hs-note" },
        `${sm.retried_errors} failed attempt${sm.retried_errors > 1 ? "s" : ""} retried`) : null,
    );
  };
  const subs = listener(model);
  subs.on("change:summary", draw);
  subs.on("change:live", draw);
  draw();
  return () => subs.off();
}

// ---------------------------------------------------------------- live DAG graph
function renderGraph({ model, el }) {
  const head = h("div", { class: "hs-card-head" });
  const body = h("div", { class: "hs-graph" });
  el.append(h("div", { class: "hs-card hs-graph-card" }, head, body));
  const drawHead = () => {
    const sm = model.get("summary") || {};
    const counts = Object.entries(sm.nodes || {}).map(([state, n]) => `${n} ${state}`).join(" · ");
    fill(head,
      h("strong", {}, sm.workflow_type || "?"), " ",
      h("code", {}, sm.workflow_id || ""), " ", badge(sm.status),
      model.get("live") ? h("span", { class: "hs-tag hs-live" }, "live") : null,
      h("span", { class: "hs-graph-counts" }, counts));
  };
  // the SVG is drawn by the kernel (commands/render/dag_graph.py), never from user text
  const drawGraph = () => { body.innerHTML = model.get("svg") || ""; };
  const subs = listener(model);
  subs.on("change:summary", drawHead);
  subs.on("change:live", drawHead);
  subs.on("change:svg", drawGraph);
  drawHead();
  drawGraph();
  return () => subs.off();
}

// ---------------------------------------------------------------- explorer
function renderExplorer({ model, el }) {
  const state = { t0: 0, t1: 1, fitted: false, drag: null, pendingRange: null, reqId: 0 };
  const subs = listener(model);
  const root = h("div", { class: "hs-explorer" });
  el.append(root);

  // header
  const head = h("div", { class: "hs-head" });
  const liveBox = h("input", { type: "checkbox" });
  liveBox.addEventListener("change", () => { model.set("live", liveBox.checked); model.save_changes(); });
  const refreshBtn = h("button", { onclick: () => model.send({ type: "refresh" }) }, "Refresh");
  const fitBtn = h("button", { onclick: () => { fit(); drawTimeline(); } }, "Fit");
  const headInfo = h("span", {});
  head.append(headInfo, h("label", { class: "hs-live-toggle" }, liveBox, " live"), refreshBtn, fitBtn);

  // filters
  const filters = h("div", { class: "hs-filters" });

  // timeline
  const timeline = h("div", { class: "hs-timeline" });
  const axis = s("svg", { class: "hs-axis", height: AXIS_H });
  const lanesBox = h("div", { class: "hs-lanes" });
  const svg = s("svg", { class: "hs-lanes-svg" });
  lanesBox.append(svg);
  timeline.append(axis, lanesBox);

  // table + inspector
  const tableBox = h("div", { class: "hs-table-box" });
  const table = h("table", { class: "hs-table" });
  const tbody = h("tbody");
  table.append(h("thead", {}, h("tr", {}, h("th", {}, "seq"), h("th", {}, "t"),
    h("th", {}, "type"), h("th", {}, "details"))), tbody);
  const nav = h("div", { class: "hs-nav" });
  tableBox.append(nav, h("div", { class: "hs-table-scroll" }, table));
  const inspector = h("pre", { class: "hs-inspector" }, "select an event");
  const middle = h("div", { class: "hs-middle" }, tableBox, inspector);

  // actions
  const sigName = h("input", { type: "text", placeholder: "signal name", class: "hs-in" });
  const sigPayload = h("input", { type: "text", placeholder: "JSON payload (optional)", class: "hs-in hs-wide" });
  const preview = h("div", { class: "hs-preview" });
  const resetBtn = h("button", { disabled: true, class: "hs-danger" }, "Reset");
  const status = h("div", { class: "hs-msg" });
  const actions = h("div", { class: "hs-actions" },
    sigName, sigPayload,
    h("button", { onclick: sendSignal }, "Signal"),
    twoStep(h("button", {}, "Cancel"), () => act({ type: "cancel" })),
    twoStep(h("button", { class: "hs-danger" }, "Terminate"), () => act({ type: "terminate" })),
    h("button", { onclick: () => act({ type: "reset_preview", seq: model.get("selected_seq") }) }, "Preview reset"),
    resetBtn, preview, status);
  twoStep(resetBtn, () => act({ type: "reset", seq: model.get("selected_seq") }));

  root.append(head, filters, timeline, middle, actions);

  function act(msg) {
    msg.request = ++state.reqId;
    status.textContent = `${msg.type}…`;
    status.className = "hs-msg";
    model.send(msg);
  }

  function sendSignal() {
    const name = sigName.value.trim();
    if (!name) { status.textContent = "a signal needs a name"; return; }
    let payload = null;
    if (sigPayload.value.trim()) {
      try { payload = JSON.parse(sigPayload.value); } catch (e) {
        status.textContent = `payload is not JSON: ${e.message}`;
        status.className = "hs-msg hs-err";
        return;
      }
    }
    act({ type: "signal", name, payload });
  }

  // ------------------------------------------------------------ header, filters
  function drawHead() {
    const sm = model.get("summary") || {};
    fill(headInfo,
      h("strong", {}, sm.workflow_type || "?"), " ", h("code", {}, sm.workflow_id || ""),
      " run ", h("code", {}, (sm.run_id || "").slice(0, 8)), " ", badge(sm.status),
      ` ${sm.events ?? 0} events, ${fmtT(sm.duration)} `,
      sm.blocked_reason ? h("span", { class: "hs-warn" }, `blocked: ${sm.blocked_reason} `) : null,
      sm.waiting ? h("span", { class: "hs-warn" }, `waiting: ${sm.waiting} `) : null,
      sm.reset_from ? h("span", { class: "hs-tag" }, `reset from ${sm.reset_from.slice(0, 8)}`) : null,
    );
    liveBox.checked = !!model.get("live");
  }

  function drawFilters() {
    const chosen = new Set(model.get("type_filter") || []);
    const boxes = (model.get("event_types") || []).map((type) => {
      const box = h("input", { type: "checkbox", "data-type": type });
      box.checked = chosen.has(type);
      box.addEventListener("change", () => {
        const now = new Set(model.get("type_filter") || []);
        if (box.checked) now.add(type); else now.delete(type);
        model.set("type_filter", [...now].sort());
        model.save_changes();
      });
      return h("label", { class: "hs-filter" }, box, type);
    });
    filters.replaceChildren(h("span", { class: "hs-dim" }, "show only: "), ...boxes);
  }

  // ------------------------------------------------------------ timeline
  let lastT = 0; // the latest time any lane item reaches
  function measure() {
    lastT = 0;
    for (const lane of model.get("lanes") || []) {
      for (const it of lane.items) lastT = Math.max(lastT, it[0], it[1] ?? 0);
    }
  }

  function extent() {
    const sm = model.get("summary") || {};
    return Math.max(sm.duration || 0, lastT, 0.001);
  }

  function fit() {
    const span = extent();
    state.t0 = -span * 0.02;
    state.t1 = span * 1.02;
    state.fitted = true;
  }

  // Reading clientWidth forces a layout; inside a draw (which appends to the DOM between
  // reads) that would lay the page out once per bar. Draws read it once and freeze it.
  let frozenWidth = null;
  function width() {
    if (frozenWidth !== null) return frozenWidth;
    return Math.max((lanesBox.clientWidth || 800) - LABEL_W, 100);
  }
  function frozen(draw) {
    return (...args) => {
      if (frozenWidth !== null) return draw(...args);
      frozenWidth = width();
      try { return draw(...args); } finally { frozenWidth = null; }
    };
  }

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

  // Only the lanes scrolled into view and the items overlapping [t0, t1] are drawn.
  const drawTimeline = frozen(function drawTimelineNow() {
    if (!state.fitted) fit();
    drawAxis();
    const lanes = model.get("lanes") || [];
    const sel = model.get("selected_seq");
    const now = extent();
    const w = width() + LABEL_W;
    const height = lanes.length * ROW;
    svg.setAttribute("width", w);
    svg.setAttribute("height", height);
    svg.replaceChildren();
    const top = lanesBox.scrollTop;
    const first = Math.max(Math.floor(top / ROW) - 2, 0);
    const last = Math.min(Math.ceil((top + (lanesBox.clientHeight || 300)) / ROW) + 2, lanes.length);
    let drawn = 0;
    for (let i = first; i < last; i++) {
      const lane = lanes[i];
      const y = i * ROW;
      svg.append(s("rect", { x: 0, y, width: w, height: ROW, class: `hs-lane-bg ${i % 2 ? "odd" : ""}` }));
      for (const it of lane.items) {
        const [a, b, kind, label, s0, s1] = it;
        const end = b === null ? now : b;
        if (end < state.t0 || a > state.t1) continue;
        const x0 = Math.max(x(a), LABEL_W);
        const x1 = Math.min(x(end), w);
        // a wait ends at the event that starts the next bar: only that bar lights up
        const selected = sel !== null && sel !== undefined && (s0 === sel
          || (s0 < sel && sel <= s1 && kind !== "scheduled" && kind !== "backoff"));
        const cls = `hs-bar hs-k-${kind}${b === null ? " hs-open" : ""}${selected ? " hs-sel" : ""}`;
        let mark;
        if (b !== null && b === a) {
          mark = s("circle", { cx: x(a), cy: y + ROW / 2, r: 5, class: cls });
        } else {
          mark = s("rect", { x: x0, y: y + 4, width: Math.max(x1 - x0, 2), height: ROW - 8, rx: 2, class: cls });
        }
        mark.setAttribute("data-seq", s0);
        const tip = s("title");
        tip.textContent = `${label} [${s0}${s1 !== s0 ? `-${s1}` : ""}] ${fmtT(a)}${b !== a ? ` → ${b === null ? "…" : fmtT(b)}` : ""}`;
        mark.append(tip);
        mark.addEventListener("click", (ev) => { ev.stopPropagation(); select(s0); });
        svg.append(mark);
        drawn++;
      }
      svg.append(s("rect", { x: 0, y, width: LABEL_W, height: ROW, class: "hs-label-bg" }));
      const text = s("text", { x: 4, y: y + ROW / 2 + 4, class: `hs-lane-label hs-lk-${lane.kind}` });
      const m = lane.meta || {};
      const extra = lane.kind === "activity" && (m.retries || m.timeouts)
        ? ` ↻${m.retries || 0}${m.timeouts ? ` ⏱${m.timeouts}` : ""}` : "";
      text.textContent = (lane.label + extra).slice(0, 28);
      const tip = s("title");
      tip.textContent = `${lane.label} ${JSON.stringify(m)}`;
      text.append(tip);
      svg.append(text);
    }
    svg.setAttribute("data-drawn", drawn);
  });

  let rangeTimer = null;
  function scheduleRange() {
    clearTimeout(rangeTimer);
    rangeTimer = setTimeout(() => {
      const rows = model.get("events") || [];
      if (!rows.length) return;
      const lo = rows[0].t;
      const hi = rows[rows.length - 1].t;
      if (state.t0 >= lo && state.t0 <= hi) return; // the table already covers the view's start
      model.send({ type: "range", t0: Math.max(state.t0, 0), request: ++state.reqId });
    }, 250);
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
    drawTimeline();
    scheduleRange();
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
    drawTimeline();
  };
  const onUp = () => {
    if (state.drag && state.drag.moved) scheduleRange();
    state.drag = null;
  };
  window.addEventListener("mousemove", onMove);
  window.addEventListener("mouseup", onUp);
  lanesBox.addEventListener("scroll", () => drawTimeline());

  // ------------------------------------------------------------ table, inspector
  function select(seq) {
    model.set("selected_seq", seq);
    model.save_changes();
    drawSelection();
  }

  function drawTable() {
    const sel = model.get("selected_seq");
    const rows = (model.get("events") || []).map((e) => {
      const tr = h("tr", { "data-seq": e.seq, class: e.seq === sel ? "hs-sel" : "" },
        h("td", {}, e.seq), h("td", {}, fmtT(e.t)), h("td", { class: `hs-type` }, e.type),
        h("td", { class: "hs-summary" }, e.summary));
      tr.addEventListener("click", () => select(e.seq));
      return tr;
    });
    tbody.replaceChildren(...rows);
    const win = model.get("window") || {};
    const size = model.get("window_size") || 500;
    nav.replaceChildren(
      h("button", { disabled: !win.offset, onclick: () => model.send({ type: "range", offset: Math.max((win.offset || 0) - size, 0) }) }, "◀ earlier"),
      h("span", { class: "hs-dim" }, ` events ${win.start ?? 0}–${win.end ?? 0} (${(win.offset || 0) + rows.length} of ${win.total ?? 0}) `),
      h("button", { disabled: (win.offset || 0) + rows.length >= (win.total || 0), onclick: () => model.send({ type: "range", offset: (win.offset || 0) + size }) }, "later ▶"),
    );
  }

  function drawSelection() {
    const sel = model.get("selected_seq");
    for (const tr of tbody.querySelectorAll("tr")) {
      const on = Number(tr.dataset.seq) === sel;
      tr.classList.toggle("hs-sel", on);
      if (on && tr.scrollIntoView) tr.scrollIntoView({ block: "nearest" });
    }
    const lanes = model.get("lanes") || [];
    // scroll the lane holding the selection into view, then redraw the highlight
    if (sel !== null && sel !== undefined) {
      const i = lanes.findIndex((l) => l.items.some((it) => it[4] <= sel && sel <= it[5]));
      if (i >= 0) {
        const y = i * ROW;
        if (y < lanesBox.scrollTop || y > lanesBox.scrollTop + lanesBox.clientHeight - ROW) lanesBox.scrollTop = y - ROW;
      }
    }
    drawTimeline();
    drawPreviewState();
  }

  function drawInspector() {
    const ev = model.get("selected_event");
    inspector.textContent = ev ? JSON.stringify(ev, null, 2) : "select an event";
  }

  function drawPreviewState() {
    const p = model.get("reset_preview");
    const sel = model.get("selected_seq");
    resetBtn.disabled = !(p && p.valid && p.boundary === sel);
    if (!p) { fill(preview); return; }
    fill(preview,
      h("strong", {}, `dry run: reset to event ${p.boundary} `),
      p.valid ? h("span", { class: "hs-ok" }, "valid") : h("span", { class: "hs-err" }, `not valid: ${p.reason || ""}`),
      ` · ${p.signals_after_boundary} later signal(s) re-delivered`,
      p.valid ? "" : ` · nearest valid: ${p.nearest_valid_before ?? "-"} / ${p.nearest_valid_after ?? "-"}`,
    );
  }

  subs.on("msg:custom", (msg) => {
    if (!msg || msg.type === "range") return;
    if (msg.type === "result") {
      status.className = "hs-msg hs-ok";
      status.textContent = `${msg.action}: ${JSON.stringify(msg.value)}`;
    } else if (msg.type === "error") {
      status.className = "hs-msg hs-err";
      status.textContent = `${msg.action} failed: ${msg.error}: ${msg.message}`;
    }
  });
  subs.on("change:summary", () => { drawHead(); drawTimeline(); });
  subs.on("change:live", drawHead);
  subs.on("change:lanes", () => { measure(); drawTimeline(); });
  subs.on("change:events", () => { drawTable(); drawSelection(); });
  subs.on("change:window", drawTable);
  subs.on("change:event_types", drawFilters);
  subs.on("change:type_filter", drawFilters);
  subs.on("change:selected_seq", drawSelection);
  subs.on("change:selected_event", drawInspector);
  subs.on("change:reset_preview", drawPreviewState);

  measure();
  drawHead();
  drawFilters();
  drawTable();
  drawInspector();
  drawPreviewState();
  // first draw once the element has a width
  requestAnimationFrame(() => { fit(); drawTimeline(); });
  drawTimeline();

  return () => {
    subs.off();
    clearTimeout(rangeTimer);
    window.removeEventListener("mousemove", onMove);
    window.removeEventListener("mouseup", onUp);
  };
}

function render({ model, el }) {
  const view = model.get("view");
  if (view === "card") return renderCard({ model, el });
  if (view === "graph") return renderGraph({ model, el });
  return renderExplorer({ model, el });
}

export default { render };
