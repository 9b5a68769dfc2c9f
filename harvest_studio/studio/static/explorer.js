// ---------------------------------------------------------------- explorer
// What a view shows is the model's traits, patched in place by live refreshes ("patch"
// messages carry only the changed lanes and the rows added at the tail). Draws are
// coalesced: several changes arriving together draw once.
function renderExplorer({ model, el }) {
  const ui = { reqId: 0, follow: true, tab: "events", compact: null, compactPage: 0, group: null,
    json: null, lastReset: null };
  const data = { lanes: model.get("lanes") || [], events: model.get("events") || [],
    window: model.get("window") || {}, revision: model.get("base_revision") || 0 };
  const subs = listener(model);
  const root = h("div", { class: "hs-explorer" });
  el.append(root);

  const following = () => !!model.get("live") && ui.follow;
  const timeline = makeTimeline({
    getLanes: () => data.lanes,
    getExtent: () => (model.get("summary") || {}).duration || 0,
    getSelected: () => model.get("selected_seq"),
    getMarks: () => {
      const sm = model.get("summary") || {};
      return sm.blocked_t === null || sm.blocked_t === undefined ? []
        : [{ t: sm.blocked_t, kind: "blocked", label: `blocked here: ${sm.blocked_reason}` }];
    },
    onSelect: (seq) => { ui.group = null; select(seq); },
    onLabel: (lane) => {
      if (lane.kind === "child" && lane.meta.run_id) act({ type: "open_run", run_id: lane.meta.run_id });
      if (lane.kind === "group") { ui.group = lane.id; drawInspector(); }
    },
    onView: (state, how) => {
      if (ui.follow && model.get("live")) { ui.follow = false; followBox.checked = false; }
      scheduleRange(state);
    },
  });

  // header: the run, live and follow toggles, links to related runs
  const head = h("div", { class: "hs-head" });
  const headInfo = h("span", {});
  const liveBox = h("input", { type: "checkbox", class: "hs-live-box" });
  liveBox.addEventListener("change", () => { model.set("live", liveBox.checked); model.save_changes(); });
  const followBox = h("input", { type: "checkbox", class: "hs-follow-box" });
  followBox.checked = true;
  followBox.addEventListener("change", () => {
    ui.follow = followBox.checked;
    if (ui.follow) { timeline.fit(); timeline.draw(); }
  });
  const followLabel = h("label", { class: "hs-live-toggle", title: "keep the end of the run in view" }, followBox, " follow");
  const links = h("span", { class: "hs-links" });
  head.append(headInfo,
    h("label", { class: "hs-live-toggle" }, liveBox, " live"), followLabel,
    h("button", { onclick: () => act({ type: "refresh" }) }, "Refresh"),
    h("button", { onclick: () => { timeline.fit(); timeline.draw(); } }, "Fit"), links);
  const pending = h("div", { class: "hs-pending" });
  const filters = h("div", { class: "hs-filters" });

  // the tables: full history, compact history, JSON
  const tabs = h("div", { class: "hs-tabs" });
  const nav = h("div", { class: "hs-nav" });
  const tbody = h("tbody");
  const thead = h("thead");
  const table = h("table", { class: "hs-table" }, thead, tbody);
  const jsonBox = h("pre", { class: "hs-json", hidden: true });
  const tableBox = h("div", { class: "hs-table-box" }, tabs, nav,
    h("div", { class: "hs-table-scroll" }, table, jsonBox));
  const inspector = h("div", { class: "hs-inspector" }, "select an event");
  const middle = h("div", { class: "hs-middle" }, tableBox, inspector);

  // actions: talk to the run; reset with a preview
  const talkKind = h("select", { class: "hs-in hs-talk-kind" },
    ...["signal", "query", "update"].map((k) => h("option", { value: k }, k)));
  const talkName = h("input", { type: "text", placeholder: "name", class: "hs-in hs-talk-name" });
  const talkArgs = h("input", { type: "text", placeholder: "JSON payload / arguments (optional)", class: "hs-in hs-wide hs-talk-args" });
  const preview = h("div", { class: "hs-preview" });
  const reason = h("input", { type: "text", placeholder: "reason (required)", class: "hs-in hs-wide hs-reset-reason" });
  const reapply = h("select", { class: "hs-in hs-reapply", title: "signals received after the reset point" },
    h("option", { value: "buffer" }, "re-deliver later signals"),
    h("option", { value: "drop" }, "drop later signals"));
  const followNew = h("input", { type: "checkbox", class: "hs-follow-new" });
  followNew.checked = true;
  const resetBtn = h("button", { disabled: true, class: "hs-danger hs-reset" }, "Reset");
  const status = h("div", { class: "hs-msg" });
  const cancelBtn = twoStep(h("button", {}, "Cancel"), () => act({ type: "cancel" }));
  const terminateBtn = twoStep(h("button", { class: "hs-danger" }, "Terminate"), () => act({ type: "terminate" }));
  const actions = h("div", { class: "hs-actions" },
    talkKind, talkName, talkArgs, h("button", { class: "hs-send", onclick: talk }, "Send"),
    cancelBtn, terminateBtn);
  const resetRow = h("div", { class: "hs-actions hs-reset-row" },
    h("button", { class: "hs-preview-btn", onclick: () => act({ type: "reset_preview", seq: model.get("selected_seq") }) }, "Preview reset"),
    reason, reapply, h("label", {}, followNew, " open the new run"), resetBtn, preview);
  twoStep(resetBtn, () => {
    if (!reason.value.trim()) { say("a reset needs a reason", true); return; }
    act({ type: "reset", seq: model.get("selected_seq"), reason: reason.value.trim(),
      reapply_signals: reapply.value, follow: followNew.checked });
  });

  root.append(head, pending, filters, timeline.node, middle, actions, resetRow, status);

  function act(msg) {
    msg.request = ++ui.reqId;
    say(`${msg.type.replace("_", " ")}…`);
    model.send(msg);
  }

  function say(text, bad = false, ...extra) {
    fill(status, text, ...extra);
    status.className = `hs-msg${bad ? " hs-err" : ""}`;
  }

  function talk() {
    const name = talkName.value.trim();
    const kind = talkKind.value;
    if (!name) { say(`a ${kind} needs a name`, true); return; }
    let value = null;
    if (talkArgs.value.trim()) {
      try { value = JSON.parse(talkArgs.value); } catch (e) {
        say(`not JSON: ${e.message}`, true);
        return;
      }
    }
    if (kind === "signal") act({ type: "signal", name, payload: value });
    else act({ type: kind, name, args: value === null ? [] : Array.isArray(value) ? value : [value] });
  }

  // ------------------------------------------------------------ drawing, coalesced
  const dirty = new Set();
  function schedule(...parts) {
    if (!dirty.size) queueMicrotask(flush);
    for (const p of parts) dirty.add(p);
  }
  function flush() {
    const parts = new Set(dirty);
    dirty.clear();
    if (parts.has("head")) drawHead();
    if (parts.has("filters")) drawFilters();
    if (parts.has("lanes")) timeline.measure();
    if ((parts.has("lanes") || parts.has("head")) && following()) timeline.follow();
    if (parts.has("table")) drawTable();
    if (parts.has("lanes") || parts.has("head") || parts.has("timeline")) timeline.draw();
    if (parts.has("inspector")) drawInspector();
  }

  function drawHead() {
    const sm = model.get("summary") || {};
    fill(headInfo,
      h("strong", {}, sm.workflow_type || "?"), " ", h("code", {}, sm.workflow_id || ""),
      " run ", h("code", {}, (sm.run_id || "").slice(0, 8)), " ", badge(sm.status),
      ` ${(sm.events ?? 0).toLocaleString()} events, ${fmtT(sm.duration)} `);
    liveBox.checked = !!model.get("live");
    followLabel.hidden = !model.get("live");
    // an ended run takes queries only (signals, updates, cancel and terminate need a running one)
    const ended = sm.status && sm.status !== "RUNNING";
    cancelBtn.disabled = terminateBtn.disabled = !!ended;
    for (const opt of talkKind.options) opt.disabled = !!ended && opt.value !== "query";
    if (ended && talkKind.value !== "query") talkKind.value = "query";
    const trail = model.get("trail") || [];
    const back = trail.length ? h("button", { class: "hs-back", onclick: () => act({ type: "back" }) },
      `◀ ${trail[trail.length - 1].label}`) : null;
    fill(links, back, ...(sm.links || []).map((l) => h("button", {
      class: "hs-linkbtn", "data-run": l.run_id, title: l.run_id,
      onclick: () => act({ type: "open_run", run_id: l.run_id }),
    }, `${l.rel} ${l.run_id.slice(0, 8)} ↗`)));
    const line = (cls, ...kids) => h("div", { class: `hs-pend ${cls}` }, ...kids);
    fill(pending,
      sm.input !== undefined && sm.input !== null ? line("hs-note", "input: ", h("code", {}, short(sm.input))) : null,
      sm.status === "COMPLETED" ? line("hs-ok", "result: ", h("code", {}, short(sm.result))) : null,
      sm.last_error ? line(sm.status === "RUNNING" ? "hs-warn" : "hs-err",
        `${sm.status === "RUNNING" ? "retrying after" : "error"}: ${sm.last_error}`) : null,
      !sm.last_error && sm.retried_errors ? line("hs-note", `${sm.retried_errors} failed attempt${sm.retried_errors > 1 ? "s" : ""} retried`) : null,
      sm.blocked_reason ? line("hs-warn", `blocked: ${sm.blocked_reason} `,
        sm.blocked && sm.blocked.seq ? h("button", { onclick: () => select(sm.blocked.seq) }, "show the event") : null) : null,
      sm.waiting ? line("hs-warn", `waiting: ${sm.waiting}`) : null,
      ...(sm.waiting_on || []).map((w) => line(`hs-wait hs-wait-${w.kind}`, waitLine(w))));
  }

  function short(value) {
    const text = JSON.stringify(value);
    return text && text.length > 300 ? `${text.slice(0, 299)}…` : String(text);
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

  let rangeTimer = null;
  function scheduleRange(state) {
    clearTimeout(rangeTimer);
    rangeTimer = setTimeout(() => {
      const rows = data.events;
      if (!rows.length) return;
      if (state.t0 >= rows[0].t && state.t0 <= rows[rows.length - 1].t) return; // covered
      model.send({ type: "range", t0: Math.max(state.t0, 0), request: ++ui.reqId });
    }, 250);
  }

  // ------------------------------------------------------------ tables, inspector
  function select(seq) {
    model.set("selected_seq", seq);
    model.save_changes();
    drawSelection();
  }

  function tabButton(name, label) {
    return h("button", { class: `hs-tab${ui.tab === name ? " hs-tab-on" : ""}`, "data-tab": name, onclick: () => {
      ui.tab = name;
      if (name === "compact" && ui.compact === null) act({ type: "compact" });
      if (name === "json" && ui.json === null) act({ type: "json" });
      drawTable();
    } }, label);
  }

  function drawTable() {
    fill(tabs, tabButton("events", "History"), tabButton("compact", "Compact"), tabButton("json", "JSON"));
    jsonBox.hidden = ui.tab !== "json";
    table.hidden = ui.tab === "json";
    if (ui.tab === "json") { drawJson(); return; }
    if (ui.tab === "compact") { drawCompact(); return; }
    const sel = model.get("selected_seq");
    thead.replaceChildren(h("tr", {}, h("th", {}, "seq"), h("th", {}, "t"), h("th", {}, "type"), h("th", {}, "details")));
    const rows = data.events.map((e) => {
      const tr = h("tr", { "data-seq": e.seq, class: e.seq === sel ? "hs-sel" : "" },
        h("td", {}, e.seq), h("td", {}, fmtT(e.t)), h("td", { class: "hs-type" }, e.type),
        h("td", { class: "hs-summary" }, e.summary));
      tr.addEventListener("click", () => select(e.seq));
      return tr;
    });
    tbody.replaceChildren(...rows);
    const win = data.window;
    const size = model.get("window_size") || 500;
    const offset = win.offset || 0;
    const filtered = (model.get("type_filter") || []).length > 0;
    fill(nav,
      h("button", { disabled: !offset, onclick: () => model.send({ type: "range", offset: Math.max(offset - size, 0) }) }, "◀ earlier"),
      h("span", { class: "hs-dim hs-count", title: `events ${win.start ?? 0}–${win.end ?? 0}` },
        rows.length ? ` rows ${(offset + 1).toLocaleString()}–${(offset + rows.length).toLocaleString()} of ${(win.total ?? 0).toLocaleString()}${filtered ? " matching" : ""} events `
          : " no events "),
      h("button", { disabled: offset + rows.length >= (win.total || 0), onclick: () => model.send({ type: "range", offset: offset + size }) }, "later ▶"));
  }

  function drawCompact() {
    thead.replaceChildren(h("tr", {}, ...["seq", "t", "kind", "name", "status", "attempts", "duration", "input", "result / failure"].map((c) => h("th", {}, c))));
    const all = ui.compact || [];
    const size = 500;
    const page = all.slice(ui.compactPage * size, (ui.compactPage + 1) * size);
    tbody.replaceChildren(...page.map((r) => {
      const tr = h("tr", { "data-seq": r.seq, class: `hs-compact hs-cs-${r.status}` },
        h("td", {}, r.seq), h("td", {}, fmtT(r.t)), h("td", {}, r.kind), h("td", {}, r.name),
        h("td", { class: `hs-cstatus` }, r.status), h("td", {}, r.attempts || ""),
        h("td", {}, r.duration === null ? "…" : fmtT(r.duration)),
        h("td", { class: "hs-summary" }, r.input ?? ""),
        h("td", { class: "hs-summary" }, r.output ?? r.last_failure ?? ""));
      tr.addEventListener("click", () => select(r.seq));
      return tr;
    }));
    fill(nav, ui.compact === null ? h("span", { class: "hs-dim" }, "loading…") : h("span", {},
      h("button", { disabled: !ui.compactPage, onclick: () => { ui.compactPage--; drawTable(); } }, "◀"),
      h("span", { class: "hs-dim hs-count" }, ` ${all.length.toLocaleString()} rows: activities, timers, signals, updates, children `),
      h("button", { disabled: (ui.compactPage + 1) * size >= all.length, onclick: () => { ui.compactPage++; drawTable(); } }, "▶"),
      h("button", { onclick: () => { ui.compact = null; act({ type: "compact" }); } }, "reload")));
  }

  // the JSON answer, its text in the box and its download link are made once per answer
  let jsonUrl = null;
  let jsonShown = null;
  function setJson(value) {
    if (jsonUrl) URL.revokeObjectURL(jsonUrl);
    jsonUrl = value ? URL.createObjectURL(new Blob([value.text], { type: "application/json" })) : null;
    ui.json = value;
  }

  function drawJson() {
    if (ui.json === null) { fill(nav, h("span", { class: "hs-dim" }, "loading…")); jsonBox.textContent = ""; jsonShown = null; return; }
    if (jsonShown === ui.json) return;
    jsonShown = ui.json;
    const limit = 200000;
    jsonBox.textContent = ui.json.text.length > limit ? `${ui.json.text.slice(0, limit)}\n… (download for the rest)` : ui.json.text;
    const download = h("a", { class: "hs-download", download: ui.json.name, href: jsonUrl }, h("button", {}, "Download JSON"));
    fill(nav, download, h("span", { class: "hs-dim" }, ` ${(ui.json.text.length / 1024).toFixed(0)} KiB `),
      h("button", { onclick: () => { setJson(null); act({ type: "json" }); drawTable(); } }, "reload"));
  }

  function drawSelection() {
    const sel = model.get("selected_seq");
    for (const tr of tbody.querySelectorAll("tr")) {
      const on = Number(tr.dataset.seq) === sel;
      tr.classList.toggle("hs-sel", on);
      if (on && tr.scrollIntoView) tr.scrollIntoView({ block: "nearest" });
    }
    if (sel !== null && sel !== undefined) timeline.scrollTo(sel);
    timeline.draw();
    drawPreviewState();
  }

  function drawInspector() {
    const group = ui.group && data.lanes.find((l) => l.id === ui.group);
    if (group) {
      const m = group.meta;
      const d = m.durations;
      fill(inspector, h("strong", {}, group.label),
        h("div", {}, Object.entries(m.statuses).map(([k, n]) => `${n.toLocaleString()} ${k}`).join(", ")),
        h("div", {}, `${m.attempts.toLocaleString()} attempts, ${m.retries} retried, ${m.timeouts} timed out; at most ${m.peak} at once`),
        d ? h("div", {}, `duration p50 ${fmtT(d.p50)}, p90 ${fmtT(d.p90)}, max ${fmtT(d.max)}`) : null,
        m.histogram && m.histogram.counts.length ? histogramSvg(m.histogram) : null,
        h("div", { class: "hs-dim" }, "tick the event types above to list them in the table"));
      return;
    }
    const ev = model.get("selected_event");
    if (!ev) { fill(inspector, h("pre", {}, "select an event")); return; }
    const { output, output_dropped: dropped, ...event } = ev;
    fill(inspector, h("pre", {}, JSON.stringify(event, null, 2)),
      output === undefined ? null : h("div", { class: "hs-output" },
        h("strong", {}, `what attempt ${event.data.attempt} printed or logged`),
        dropped ? h("div", { class: "hs-dim" }, `(${dropped.toLocaleString()} earlier characters not kept)`) : null,
        h("pre", { class: "hs-output-text" }, output)));
  }

  function drawPreviewState() {
    const p = model.get("reset_preview");
    const sel = model.get("selected_seq");
    resetBtn.disabled = !(p && p.valid && p.boundary === sel);
    if (!p) { fill(preview); return; }
    const point = (seq) => (seq === null || seq === undefined ? null
      : h("button", { class: "hs-point", "data-seq": seq, onclick: () => act({ type: "reset_preview", seq }) }, `event ${seq}`));
    fill(preview,
      h("strong", {}, `dry run: reset to event ${p.boundary} `),
      p.valid ? h("span", { class: "hs-ok" }, "valid") : h("span", { class: "hs-err" }, `not valid: ${p.reason || ""}`),
      p.valid ? ` · ${p.signals_after_boundary} later signal(s)` : " · try ",
      p.valid ? null : point(p.nearest_valid_before), p.valid ? null : " ",
      p.valid ? null : point(p.nearest_valid_after));
  }

  // ------------------------------------------------------------ messages
  let syncAsked = false;
  function applyPatch(msg) {
    if (msg.revision <= data.revision) return;
    if (msg.revision !== data.revision + 1) {
      // a patch missed (this view opened after some): ask once for the whole state
      if (!syncAsked) { syncAsked = true; model.send({ type: "sync", request: ++ui.reqId }); }
      return;
    }
    data.revision = msg.revision;
    if (msg.lanes) {
      const byId = new Map(data.lanes.map((l) => [l.id, l]));
      for (const lane of msg.lanes) {
        if (lane.splice === undefined) { byId.set(lane.id, lane); continue; }
        const { splice, ...rest } = lane; // the first `splice` items are unchanged
        byId.set(lane.id, { ...rest, items: [...(byId.get(lane.id)?.items || []).slice(0, splice), ...lane.items] });
      }
      const order = msg.order || [...data.lanes.map((l) => l.id), ...msg.lanes.map((l) => l.id).filter((id) => !data.lanes.some((l) => l.id === id))];
      data.lanes = order.map((id) => byId.get(id)).filter(Boolean);
      schedule("lanes");
    }
    if (msg.append) {
      data.events = [...data.events.slice(msg.drop || 0), ...msg.append];
      schedule("table");
    }
    if (msg.window) { data.window = msg.window; schedule("table"); }
  }

  function onResult(msg) {
    const v = msg.value;
    if (msg.action === "compact") { ui.compact = v; ui.compactPage = 0; fill(status); schedule("table"); return; }
    if (msg.action === "json") { setJson(v); fill(status); schedule("table"); return; }
    if (msg.action === "reset_preview" || msg.action === "sync" || msg.action === "refresh") { fill(status); return; }
    if (msg.action === "open_run" || msg.action === "back") { fill(status); return; }
    if (msg.action === "reset") {
      if (v.followed) { say(`reset: now showing the new run ${v.new_run_id.slice(0, 8)}`); return; }
      say(`reset: made run ${v.new_run_id.slice(0, 8)} `, false,
        h("button", { class: "hs-open-new", onclick: () => act({ type: "open_run", run_id: v.new_run_id }) }, "open the new run"));
      return;
    }
    if (msg.action === "query" || msg.action === "update") { say(`${msg.action} → ${short(v.result)}`); return; }
    if (msg.action === "signal") { say(v.queued ? "signal sent" : "signal not delivered (the run has ended)", !v.queued); return; }
    say(`${msg.action}: ${short(v)}`);
  }

  subs.on("msg:custom", (msg) => {
    if (!msg || msg.type === "range") return;
    if (msg.type === "patch") applyPatch(msg);
    else if (msg.type === "result") onResult(msg);
    else if (msg.type === "error") say(`${msg.action.replace("_", " ")} failed: ${msg.error}: ${msg.message}`, true);
  });
  const take = (name) => () => {
    data[name] = model.get(name) || (name === "window" ? {} : []);
    data.revision = Math.max(data.revision, model.get("base_revision") || 0);
    syncAsked = false;
    schedule(name === "lanes" ? "lanes" : "table");
  };
  let shownRun = (model.get("summary") || {}).run_id;
  subs.on("change:summary", () => {
    const run = (model.get("summary") || {}).run_id;
    if (run !== shownRun) { // another run (a reset followed, a link, back): start afresh
      shownRun = run;
      ui.compact = null; ui.group = null; ui.tab = "events";
      setJson(null);
      timeline.fit();
      schedule("table", "timeline");
    }
    schedule("head");
  });
  subs.on("change:live", () => schedule("head"));
  subs.on("change:trail", () => schedule("head"));
  subs.on("change:lanes", take("lanes"));
  subs.on("change:events", take("events"));
  subs.on("change:window", take("window"));
  subs.on("change:event_types", () => schedule("filters"));
  subs.on("change:type_filter", () => schedule("filters"));
  subs.on("change:selected_seq", drawSelection);
  subs.on("change:selected_event", () => { ui.group = null; drawInspector(); });
  subs.on("change:reset_preview", drawPreviewState);

  timeline.measure();
  drawHead();
  drawFilters();
  drawTable();
  drawInspector();
  drawPreviewState();
  // first draw once the element has a width
  requestAnimationFrame(() => { timeline.fit(); timeline.draw(); });
  timeline.draw();
  // a view opened after live patches asks for the whole state again
  if ((model.get("revision") || 0) > data.revision) model.send({ type: "sync", request: ++ui.reqId });

  return () => {
    subs.off();
    clearTimeout(rangeTimer);
    timeline.dispose();
    setJson(null);
  };
}

function render({ model, el, host }) {
  const view = model.get("view");
  if (view === "card") return renderCard({ model, el });
  if (view === "graph") return renderGraph({ model, el });
  if (view === "list") return renderList({ model, el, host });
  if (view === "triage") return renderTriage({ model, el });
  return renderExplorer({ model, el });
}

export default { render };
