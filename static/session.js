// linesman: the session page. Draws the call tree, flame graph, statistics table and
// call graph from the figures the server embeds as JSON. Everything is built lazily,
// so a profile of thousands of functions opens at once.

const data = JSON.parse(document.getElementById("profile-data").textContent);
const total = data.total || 1e-12;
const threshold = total * data.cutoff / 100;

const functions = data.functions.map(([name, file, line, calls, recursive, own, cum], index) => ({
  index, name, file, line, calls, recursive, own, cum,
  where: file === "~" ? "" : `${file}:${line}`,
}));
const callees = functions.map(() => []);
for (const [caller, callee, calls, cum] of data.calls) {
  callees[caller].push({ callee, calls, cum });
}
callees.forEach((list) => list.sort((a, b) => b.cum - a.cum));

// A comparison page sends each function's own-time change and its colour (red slower,
// blue faster, as in the call graph): the flame graph is then differential.
const change = data.change || null;

const ms = (seconds) => (seconds * 1000).toFixed(seconds * 1000 >= 100 ? 0 : 2);
const percent = (seconds) => `${(100 * seconds / total).toFixed(1)}%`;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// The children of a tree node: its callees, scaled by the share of the callee's
// time spent under this caller, above the cutoff, never a function inside itself.
function childrenOf(node, minimum) {
  const fn = functions[node.fn];
  const scale = Math.min(node.time / (fn.cum || 1e-12), 1);
  const result = [];
  for (const edge of callees[node.fn]) {
    const time = edge.cum * scale;
    if (time < minimum || time <= 0) continue;
    const recursive = node.path.has(edge.callee);
    result.push({
      fn: edge.callee, time, calls: edge.calls, recursive,
      path: recursive ? node.path : new Set([...node.path, edge.callee]),
    });
  }
  return result;
}

const roots = data.roots.map((fn) => ({
  fn, time: functions[fn].cum, calls: functions[fn].calls, recursive: false, path: new Set([fn]),
})).filter((root) => root.time >= threshold).sort((a, b) => b.time - a.time);

// -- call tree ------------------------------------------------------------------
function treeRow(node, depth) {
  const fn = functions[node.fn];
  const row = element("div", "node");
  row.setAttribute("role", "treeitem");
  const line = element("div", "row");
  line.style.paddingLeft = `${depth * 1.1}rem`;
  const kids = node.recursive ? [] : childrenOf(node, threshold);
  const toggle = element("span", "toggle", node.recursive ? "↻" : kids.length ? "▸" : "·");
  const bar = element("span", "bar");
  const fill = element("span", "fill");
  fill.style.width = `${Math.min(100, 100 * node.time / total)}%`;
  bar.append(fill);
  line.append(toggle, bar,
    element("span", "pct", percent(node.time)),
    element("span", "time", `${ms(node.time)} ms`),
    element("span", "calls", `${node.calls}×`),
    element("span", "name", fn.name),
    element("span", "where", fn.where));
  line.title = node.recursive ? "Called inside itself: not expanded again" : fn.where || fn.name;
  row.append(line);
  if (kids.length) {
    row.setAttribute("aria-expanded", "false");
    line.classList.add("expandable");
    let box = null;
    line.addEventListener("click", () => {
      const open = row.getAttribute("aria-expanded") === "true";
      if (!box) {
        box = element("div", "children");
        box.setAttribute("role", "group");
        kids.forEach((kid) => box.append(treeRow(kid, depth + 1)));
        row.append(box);
      }
      box.hidden = open;
      row.setAttribute("aria-expanded", String(!open));
      toggle.textContent = open ? "▸" : "▾";
    });
  }
  return row;
}

function drawTree() {
  const tree = document.getElementById("tree");
  if (!roots.length) {
    tree.append(element("p", "hint", "Nothing above the cutoff."));
    return;
  }
  roots.forEach((root) => tree.append(treeRow(root, 0)));
  // Open the hottest path, so the answer is on screen at once.
  let row = tree.querySelector(":scope > .node");
  for (let depth = 0; row && depth < 12; depth += 1) {
    const line = row.querySelector(":scope > .row.expandable");
    if (!line) break;
    line.click();
    row = row.querySelector(":scope > .children > .node");
  }
}

// -- flame graph ------------------------------------------------------------------
const FLAME_BUDGET = 4000;

function flameLevels(top) {
  const levels = [];
  let budget = FLAME_BUDGET;
  const minimum = top.time * 0.002;
  const visit = (node, depth, start) => {
    if (budget <= 0) return;
    budget -= 1;
    (levels[depth] ||= []).push({ node, start });
    if (node.recursive) return;
    let at = start;
    for (const kid of childrenOf(node, minimum)) {
      visit(kid, depth + 1, at);
      at += kid.time;
    }
  };
  visit(top, 0, 0);
  return levels;
}

function drawFlame(top) {
  const flame = document.getElementById("flame");
  flame.replaceChildren();
  const everything = { fn: -1, time: roots.reduce((sum, r) => sum + r.time, 0), path: new Set() };
  const base = top || everything;
  const levels = top ? flameLevels(top) : [[{ node: everything, start: 0 }],
    ...mergeLevels(roots)];
  levels.forEach((level, depth) => {
    for (const { node, start } of level) {
      const fn = functions[node.fn];
      const name = fn ? fn.name : "all";
      const bar = element("div", "frame", name);
      bar.style.left = `${100 * start / base.time}%`;
      bar.style.width = `${Math.max(0.05, 100 * node.time / base.time)}%`;
      bar.style.top = `${depth * 20}px`;
      bar.title = `${name} ${fn ? fn.where : ""}\n${ms(node.time)} ms, ${percent(node.time)}`;
      if (change && fn) {
        bar.style.background = data.change_colours[fn.index];
        bar.dataset.change = String(change[fn.index]);
        bar.title += `\nown time ${change[fn.index] >= 0 ? "+" : ""}${ms(change[fn.index])} ms`;
      }
      bar.dataset.share = String(Math.round(100 * node.time / total));
      bar.addEventListener("click", () => drawFlame(depth === 0 ? null : node));
      flame.append(bar);
    }
  });
  flame.style.height = `${levels.length * 20 + 4}px`;
}

function mergeLevels(nodes) {
  const merged = [];
  let at = 0;
  for (const root of nodes) {
    flameLevels(root).forEach((level, depth) => {
      (merged[depth] ||= []).push(...level.map(({ node, start }) => ({ node, start: start + at })));
    });
    at += root.time;
  }
  return merged;
}

// -- statistics table ----------------------------------------------------------------
const ROWS_SHOWN = 100;
const sorters = {
  calls: (f) => f.calls,
  own: (f) => f.own,
  ownper: (f) => f.own / (f.calls || 1),
  cum: (f) => f.cum,
  cumper: (f) => f.cum / (f.calls - f.recursive || 1),
  name: (f) => `${f.where}(${f.name})`,
};
let sortKey = "cum";
let descending = true;
let showAll = false;

function drawStats() {
  const body = document.querySelector("#stats tbody");
  const filter = document.getElementById("stats-search").value.trim().toLowerCase();
  const key = sorters[sortKey];
  const rows = functions
    .filter((f) => !filter || f.name.toLowerCase().includes(filter) || f.file.toLowerCase().includes(filter))
    .sort((a, b) => {
      const x = key(a);
      const y = key(b);
      const order = x < y ? -1 : x > y ? 1 : 0;
      return descending ? -order : order;
    });
  const shown = showAll ? rows : rows.slice(0, ROWS_SHOWN);
  body.replaceChildren(...shown.map((f) => {
    const row = element("tr");
    const calls = f.recursive ? `${f.calls}/${f.calls - f.recursive}` : String(f.calls);
    row.append(
      element("td", "num", calls),
      element("td", "num", (f.own * 1000).toFixed(3)),
      element("td", "num", (sorters.ownper(f) * 1000).toFixed(3)),
      element("td", "num", (f.cum * 1000).toFixed(3)),
      element("td", "num", (sorters.cumper(f) * 1000).toFixed(3)),
      element("td", "fn", f.file === "~" ? f.name : `${f.where}(${f.name})`),
    );
    return row;
  }));
  const more = document.getElementById("stats-more");
  more.replaceChildren();
  if (rows.length > shown.length) {
    const button = element("button", "", `Show all ${rows.length} functions`);
    button.type = "button";
    button.addEventListener("click", () => { showAll = true; drawStats(); });
    more.append(`Showing ${shown.length} of ${rows.length}. `, button);
  } else {
    more.textContent = `${rows.length} function${rows.length === 1 ? "" : "s"}; times in ms.`;
  }
}

function wireStats() {
  document.querySelectorAll("#stats th[data-sort]").forEach((header) => {
    header.tabIndex = 0;
    const choose = () => {
      const key = header.dataset.sort;
      descending = key === sortKey ? !descending : key !== "name";
      sortKey = key;
      document.querySelectorAll("#stats th").forEach((th) => th.classList.remove("sorted", "ascending"));
      header.classList.add("sorted");
      if (!descending) header.classList.add("ascending");
      drawStats();
    };
    header.addEventListener("click", choose);
    header.addEventListener("keydown", (event) => { if (event.key === "Enter") choose(); });
  });
  document.getElementById("stats-search").addEventListener("input", drawStats);
  drawStats();
}

// -- call graph --------------------------------------------------------------------
async function drawGraph() {
  const target = document.getElementById("graph");
  const button = document.getElementById("graph-download");
  try {
    const { Graphviz } = await import(new URL("./vendor/graphviz/graphviz.js", import.meta.url));
    const graphviz = await Graphviz.load();
    const svgText = graphviz.dot(data.dot);
    const svg = new DOMParser().parseFromString(svgText, "image/svg+xml").documentElement;
    target.replaceChildren(document.importNode(svg, true));
    button.disabled = false;
    button.addEventListener("click", () => {
      const link = element("a");
      link.href = URL.createObjectURL(new Blob([svgText], { type: "image/svg+xml" }));
      link.download = "callgraph.svg";
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    });
  } catch (error) {
    target.replaceChildren(element("p", "hint", `The graph could not be drawn here (${error}). The .dot export opens in any Graphviz viewer.`));
  }
}

if (document.getElementById("tree")) drawTree();
drawFlame(null);
if (document.getElementById("stats")) wireStats();
drawGraph();
