// Harvest Studio history explorer, run card and live DAG graph (anywidget front end).
// Plain JavaScript, no dependencies, no CDN, no build step: common.js, card.js,
// timeline.js and explorer.js are joined into one ES module by widgets/live.py
// (front_end()); explorer.js ends with the module's export. This part: shared helpers.
const SVGNS = "http://www.w3.org/2000/svg";

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

