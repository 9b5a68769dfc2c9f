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

