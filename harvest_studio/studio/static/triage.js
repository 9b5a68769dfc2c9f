// ---------------------------------------------------------------- dead letter triage
// %harvest dlq: failures clustered by fingerprint. Click a cluster: its sample error and
// the letters an action would take (asked of the kernel); then replay or discard them.
function renderTriage({ model, el }) {
  const tbody = h("tbody");
  const detail = h("div", { class: "hs-triage-detail" });
  const status = h("div", { class: "hs-msg" });
  el.append(h("div", { class: "hs-triage" },
    h("table", { class: "hs-table" }, h("thead", {}, h("tr", {},
      ...["fingerprint", "count", "error", "where", "workflows", "last"].map((c) => h("th", {}, c)))), tbody),
    detail, status));
  const draw = () => {
    const selected = model.get("selected");
    const groups = model.get("groups") || [];
    if (!groups.length) {
      tbody.replaceChildren(h("tr", {}, h("td", { colspan: "6" }, h("em", {}, "no open dead letters"))));
    } else {
      tbody.replaceChildren(...groups.map((g) => {
        const tr = h("tr", { "data-key": g.key, class: g.key === selected ? "hs-sel" : "",
          title: "preview this cluster" },
          h("td", {}, h("code", {}, g.key)), h("td", {}, g.count),
          h("td", {}, `${g.type}: ${g.message}`), h("td", {}, h("code", {}, g.frame || "-")),
          h("td", {}, g.workflow_types.join(", ")), h("td", {}, g.last));
        tr.addEventListener("click", () => model.send({ type: "select", key: g.key }));
        return tr;
      }));
    }
    const group = groups.find((g) => g.key === selected);
    const preview = model.get("preview") || [];
    if (!group) { fill(detail); return; }
    const note = h("input", { class: "hs-triage-text", placeholder: "note or reason", size: "40" });
    const replay = h("button", { class: "hs-triage-replay" }, `Replay ${preview.length}`);
    const discard = h("button", { class: "hs-triage-discard", disabled: "" }, `Discard ${preview.length}`);
    note.addEventListener("input", () => { discard.disabled = !note.value.trim(); });
    const act = (type) => {
      replay.disabled = discard.disabled = true;
      fill(status, type === "replay" ? "replaying…" : "discarding…");
      status.className = "hs-msg";
      model.send({ type, key: group.key, ids: preview, text: note.value });
    };
    replay.addEventListener("click", () => act("replay"));
    discard.addEventListener("click", () => act("discard"));
    fill(detail,
      h("div", { class: "hs-card-line" }, h("strong", {}, `${group.count} dead letter(s)`),
        ` of ${group.kinds.join(", ")}, sample `, h("code", {}, group.sample.id),
        ` (run `, h("code", {}, group.sample.run_id.slice(0, 8)), `, ${group.sample.type_name})`),
      h("div", { class: "hs-card-line hs-err" }, group.sample.error),
      group.sample.traceback ? h("pre", { class: "hs-output-text" }, group.sample.traceback) : null,
      h("div", { class: "hs-card-line hs-dim hs-triage-preview" },
        `would act on: ${preview.slice(0, 12).join(", ")}${preview.length > 12 ? " …" : ""}`),
      h("div", { class: "hs-card-line" }, note, " ", replay, " ", discard));
  };
  const subs = listener(model);
  subs.on("change:groups", draw);
  subs.on("change:selected", draw);
  subs.on("change:preview", draw);
  subs.on("msg:custom", (msg) => {
    if (!msg || msg.type !== "done") return;
    fill(status, msg.message);
    status.className = msg.ok ? "hs-msg" : "hs-msg hs-err";
  });
  draw();
  return () => subs.off();
}
