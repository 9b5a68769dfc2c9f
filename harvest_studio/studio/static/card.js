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
      sm.output ? h("div", { class: "hs-card-line hs-output" },
        h("span", { class: "hs-dim" }, `${sm.output.activity} #${sm.output.activity_seq} attempt ${sm.output.attempt} printed${sm.output.more ? " (last lines)" : ""}:`),
        h("pre", { class: "hs-output-text" }, sm.output.lines.join("\n"))) : null,
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


// ---------------------------------------------------------------- runs table (%harvest list)
// Clicking a row asks the kernel for that run's explorer and renders it under the table
// (anywidget's host nests one widget's view in another's).
function renderList({ model, el, host }) {
  const slot = h("div", { class: "hs-runlist-slot" });
  const note = h("div", { class: "hs-msg" });
  const tbody = h("tbody");
  el.append(h("div", { class: "hs-runlist" },
    h("table", { class: "hs-table" }, h("thead", {}, h("tr", {},
      ...["run id", "workflow id", "type", "status", "started", "took", "events"].map((c) => h("th", {}, c)))), tbody),
    h("div", { class: "hs-dim" }, model.get("note") || ""), note, slot));
  let shown = null; // the AbortController of the explorer view under the table
  const draw = () => {
    tbody.replaceChildren(...(model.get("rows") || []).map((r) => {
      const tr = h("tr", { "data-run": r.run_id, title: "open this run's explorer" },
        h("td", {}, h("code", {}, r.run_id.slice(0, 8))),
        h("td", {}, r.workflow_id === r.run_id ? "(= run id)" : r.workflow_id),
        h("td", {}, r.workflow_type), h("td", {}, badge(r.status)), h("td", {}, r.started),
        h("td", {}, r.took), h("td", {}, r.events));
      tr.addEventListener("click", () => {
        for (const row of tbody.querySelectorAll("tr")) row.classList.toggle("hs-sel", row === tr);
        fill(note, `opening ${r.workflow_id}…`);
        model.send({ type: "open", run_id: r.run_id });
      });
      return tr;
    }));
  };
  const subs = listener(model);
  subs.on("change:rows", draw);
  subs.on("msg:custom", async (msg) => {
    if (!msg) return;
    if (msg.type === "error") { fill(note, msg.message); note.className = "hs-msg hs-err"; return; }
    if (msg.type !== "opened") return;
    note.className = "hs-msg";
    if (!host || !host.getWidget) {
      fill(note, "this front end cannot show a widget inside another: run ",
        h("code", {}, `%harvest explore ${msg.run_id}`));
      return;
    }
    if (shown) shown.abort();
    shown = new AbortController();
    const box = h("div", { class: "hs-runlist-explorer", "data-run": msg.run_id });
    slot.replaceChildren(box);
    try {
      const widget = await host.getWidget(msg.ref);
      await widget.render({ el: box, signal: shown.signal });
      fill(note);
    } catch (e) {
      fill(note, `could not open the explorer: ${e.message}`);
      note.className = "hs-msg hs-err";
    }
  });
  draw();
  return () => { subs.off(); if (shown) shown.abort(); };
}
