// linesman: the session page. Draws the call tree, flame graph, statistics table and
// call graph from the figures the server embeds as JSON. Everything is built lazily,
// so a profile of thousands of functions opens at once.

const data = JSON.parse(document.getElementById("profile-data").textContent);
const total = data.total || 1e-12;
const threshold = total * data.cutoff / 100;

// Each function's file is shown short (relative to its site-packages, the standard
// library or the app's folder); the full path is in the tooltip and the exports.
const functions = data.functions.map(([name, file, line, calls, recursive, own, cum, short], index) => ({
  index, name, file, line, calls, recursive, own, cum,
  where: file === "~" ? "" : `${short || file}:${line}`,
  fullWhere: file === "~" ? "" : `${file}:${line}`,
}));
const label = (f) => (f.file === "~" ? f.name : `${f.where} ${f.name}`);
const sampled = data.kind === "sampled";
const callsLabel = (count) => (sampled ? `${count} sample${count === 1 ? "" : "s"}` : `${count}×`);

// The call tree comes from the server, laid out flat in preorder as
// [function, parent, time, calls, recursive]: exact for a sampled session (its
// stacks), estimated from caller/callee pairs for a cProfile one.
const nodes = data.tree.map(([fn, parent, time, calls, recursive]) => ({
  fn, parent, time, calls, recursive: Boolean(recursive), children: [],
}));
const roots = [];
for (const node of nodes) {
  if (node.parent < 0) roots.push(node);
  else nodes[node.parent].children.push(node);
}

// A comparison page sends each function's own-time change and its colour (red slower,
// blue faster, as in the call graph): the flame graph is then differential.
const change = data.change || null;

const ms = (seconds) => {
  const value = seconds * 1000;
  const text = value.toFixed(Math.abs(value) >= 100 ? 0 : 2);
  return /^-0(\.0+)?$/.test(text) ? text.slice(1) : text; // never "-0.00"
};
const percent = (seconds) => `${(100 * seconds / total).toFixed(1)}%`;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const visibleChildren = (node) => node.children.filter((kid) => kid.time >= threshold && kid.time > 0);

// -- call tree ------------------------------------------------------------------
const rowOf = new Map(); // tree node -> its row, once drawn

function treeRow(node, depth) {
  const fn = functions[node.fn];
  const row = element("div", "node");
  row.tabIndex = -1;
  rowOf.set(node, row);
  row.setAttribute("role", "treeitem");
  const line = element("div", "row");
  line.style.paddingLeft = `${depth * 1.1}rem`;
  const kids = node.recursive ? [] : visibleChildren(node);
  const toggle = element("span", "toggle", node.recursive ? "↻" : kids.length ? "▸" : "·");
  const bar = element("span", "bar");
  const fill = element("span", "fill");
  fill.style.width = `${Math.min(100, 100 * node.time / total)}%`;
  bar.append(fill);
  line.append(toggle, bar,
    element("span", "pct", percent(node.time)),
    element("span", "time", `${ms(node.time)} ms`),
    element("span", "calls", callsLabel(node.calls)),
    element("span", "name", fn.name),
    element("span", "where", fn.where));
  line.title = node.recursive ? "Called inside itself: not expanded again" : fn.fullWhere || fn.name;
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
  const shown = roots.filter((root) => root.time >= threshold);
  if (!shown.length) {
    tree.append(element("p", "hint", sampled && !data.samples
      ? "No samples: the request ran for less than the sampling interval."
      : "Nothing above the cutoff."));
    return;
  }
  shown.forEach((root) => tree.append(treeRow(root, 0)));
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
// Drawn from the same tree: zoom by clicking a bar, back through the breadcrumb
// (or the top bar), and search to mark every bar whose function matches.
const FLAME_BUDGET = 4000;
const everything = { fn: -1, time: roots.reduce((sum, r) => sum + r.time, 0), children: roots };
let flameTop = everything;
let flameSearch = "";

function flameLevels(top) {
  const levels = [];
  let budget = FLAME_BUDGET;
  const minimum = top.time * 0.002;
  const todo = [{ node: top, depth: 0, start: 0 }];
  while (todo.length && budget > 0) {
    const { node, depth, start } = todo.pop();
    budget -= 1;
    (levels[depth] ||= []).push({ node, start });
    if (node.recursive) continue;
    let at = start;
    const next = [];
    for (const kid of node.children) {
      if (kid.time < minimum || kid.time <= 0) continue;
      next.push({ node: kid, depth: depth + 1, start: at });
      at += kid.time;
    }
    todo.push(...next.reverse());
  }
  return levels;
}

function pathTo(node) {
  const path = [];
  for (let at = node; at && at !== everything; at = at.parent >= 0 ? nodes[at.parent] : null) {
    path.unshift(at);
  }
  return [everything, ...path];
}

function nameOf(node) {
  return node === everything ? "all" : functions[node.fn].name;
}

function drawCrumbs() {
  const crumbs = document.getElementById("flame-crumbs");
  if (!crumbs) return;
  crumbs.replaceChildren();
  const path = pathTo(flameTop);
  path.forEach((node, position) => {
    if (position) crumbs.append(" › ");
    if (node === flameTop) {
      crumbs.append(element("span", "current", nameOf(node)));
    } else {
      const link = element("button", "crumb", nameOf(node));
      link.type = "button";
      link.addEventListener("click", () => drawFlame(node));
      crumbs.append(link);
    }
  });
}

// Each bar takes its function's package's colour, as in the package chart (the
// server says which slice each file falls in); a comparison colours by change.
const flamePalette = (() => {
  const found = document.getElementById("flame-colours");
  return found ? JSON.parse(found.textContent) : null;
})();
const OTHER_COLOUR = ["", "#f3a46b", "#1d232a"]; // a file the chart does not name

function packageOf(fn) {
  if (!flamePalette || !fn) return null;
  const at = flamePalette.files[fn.file];
  return at === undefined ? null : flamePalette.slices[at];
}

// A bar shows the function's own name first ("iterobjects", not "PackData.iter…"),
// then what it belongs to, as much as fits: [own name, what it belongs to].
function nameParts(name) {
  let found = /^<built-in method (\S+) of (.+?) object(?: at 0x[0-9a-f]+)?>$/.exec(name);
  if (found) return [found[1], found[2]];
  found = /^<built-in (?:method|function) (?:(.+)\.)?([^.]+)>$/.exec(name);
  if (found) return [found[2], found[1] || ""];
  found = /^<method '([^']+)' of '([^']+)' objects>$/.exec(name);
  if (found) return [found[1], found[2]];
  const at = name.lastIndexOf(".");
  if (at > 0 && at < name.length - 1) return [name.slice(at + 1), name.slice(0, at)];
  return [name, ""];
}

function frameLabel(bar, fn, changed) {
  if (!fn) {
    bar.textContent = "all";
    return;
  }
  const [own, owner] = nameParts(fn.name);
  bar.append(element("span", "own", own));
  if (owner) bar.append(" ", element("span", "owner", `· ${owner}`));
  if (changed) bar.append(` ${changed}`);
}

// The bar's full name and figures, on hover and on keyboard focus: a bar's label is
// often cut, and a title tooltip shows late and never to the keyboard.
const tipFor = new WeakMap(); // bar -> the lines of its tooltip
let flameTip = null;

function tipLines(node, fn) {
  if (!fn) return ["all", `${ms(node.time)} ms, the whole request`];
  const lines = [fn.name];
  if (fn.fullWhere) lines.push(fn.fullWhere);
  lines.push(`${ms(node.time)} ms · ${percent(node.time)} of the request · ${callsLabel(node.calls)}`);
  const slice = packageOf(fn);
  if (slice) lines.push(`package: ${slice[0]}`);
  if (change) {
    const delta = change[fn.index];
    const label = data.change_labels[fn.index];
    lines.push(`own time ${delta >= 0 ? "+" : ""}${ms(delta)} ms${label ? ` (${label})` : ""}`);
  }
  return lines;
}

function showTip(bar, x, y) {
  const lines = tipFor.get(bar);
  if (!lines || !flameTip) return;
  flameTip.replaceChildren(element("strong", "", lines[0]), ...lines.slice(1).map((line) => element("div", "", line)));
  flameTip.hidden = false;
  const box = bar.getBoundingClientRect();
  const left = x === undefined ? box.left : x + 12;
  const top = y === undefined ? box.bottom + 4 : y + 16;
  const width = flameTip.offsetWidth;
  const height = flameTip.offsetHeight;
  flameTip.style.left = `${Math.max(4, Math.min(left, window.innerWidth - width - 8))}px`;
  flameTip.style.top = `${top + height > window.innerHeight - 4 ? Math.max(4, box.top - height - 4) : top}px`;
  bar.setAttribute("aria-describedby", "flame-tip");
}

function hideTip() {
  if (flameTip) flameTip.hidden = true;
}

function wireFlameTip() {
  const flame = document.getElementById("flame");
  if (!flame) return;
  flameTip = element("div", "flame-tip");
  flameTip.id = "flame-tip";
  flameTip.setAttribute("role", "tooltip");
  flameTip.hidden = true;
  flame.after(flameTip);
  flame.addEventListener("mousemove", (event) => {
    const bar = event.target.closest(".frame");
    if (bar) showTip(bar, event.clientX, event.clientY);
    else hideTip();
  });
  flame.addEventListener("mouseleave", hideTip);
  flame.addEventListener("focusin", (event) => {
    const bar = event.target.closest(".frame");
    if (bar) showTip(bar);
  });
  flame.addEventListener("focusout", hideTip);
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") hideTip(); });
}

function drawFlame(top) {
  flameTop = top || everything;
  const flame = document.getElementById("flame");
  flame.replaceChildren();
  hideTip();
  const base = flameTop;
  const levels = flameLevels(base);
  let matched = 0;
  const counted = new Set();
  flame.classList.toggle("searching", Boolean(flameSearch));
  levels.forEach((level, depth) => {
    for (const { node, start } of level) {
      const fn = node === everything ? null : functions[node.fn];
      // In a comparison each bar says how its function's own time changed.
      const changed = change && fn ? data.change_labels[fn.index] : "";
      const bar = element("div", "frame");
      frameLabel(bar, fn, changed);
      bar.style.left = `${100 * start / (base.time || 1e-12)}%`;
      bar.style.width = `${Math.max(0.05, 100 * node.time / (base.time || 1e-12))}%`;
      bar.style.top = `${depth * 20}px`;
      tipFor.set(bar, tipLines(node, fn));
      if (change && fn) {
        bar.style.background = data.change_colours[fn.index];
        bar.dataset.change = String(change[fn.index]);
        bar.classList.add("compared");
      } else if (fn) {
        const [name, colour, ink] = packageOf(fn) || OTHER_COLOUR;
        bar.style.background = colour;
        bar.style.color = ink;
        if (name) bar.dataset.package = name;
      }
      if (fn) bar.dataset.fn = String(fn.index);
      if (flameSearch && fn && (fn.name.toLowerCase().includes(flameSearch)
          || fn.file.toLowerCase().includes(flameSearch))) {
        bar.classList.add("match");
        // Count a match's time once, not again for a match nested inside it.
        let inside = false;
        for (let at = node.parent >= 0 ? nodes[node.parent] : null; at; at = at.parent >= 0 ? nodes[at.parent] : null) {
          if (counted.has(at)) { inside = true; break; }
        }
        if (!inside) { matched += node.time; counted.add(node); }
      }
      bar.dataset.share = String(Math.round(100 * node.time / total));
      bar.addEventListener("click", () => drawFlame(depth === 0 ? null : node));
      bar.tabIndex = depth === 0 && start === 0 ? 0 : -1;
      bar.dataset.depth = String(depth);
      bar.setAttribute("role", "button");
      flame.append(bar);
    }
  });
  flame.style.height = `${levels.length * 20 + 4}px`;
  drawCrumbs();
  const found = document.getElementById("flame-matched");
  if (found) found.textContent = flameSearch ? `Matched: ${percent(matched)} of the request` : "";
}

function wireFlameSearch() {
  const search = document.getElementById("flame-search");
  if (!search) return;
  search.addEventListener("input", () => {
    flameSearch = search.value.trim().toLowerCase();
    drawFlame(flameTop === everything ? null : flameTop);
  });
}

// The flame graph by keyboard: arrows move between bars (Up to the caller, Down
// to the first callee, Left and Right along the row), Enter or Space zooms.
function wireFlameKeys() {
  const flame = document.getElementById("flame");
  if (!flame) return;
  flame.addEventListener("keydown", (event) => {
    const bar = event.target.closest(".frame");
    if (!bar) return;
    const bars = [...flame.querySelectorAll(".frame")];
    const depth = Number(bar.dataset.depth);
    const left = bar.offsetLeft;
    const row = (d) => bars.filter((b) => Number(b.dataset.depth) === d);
    let next = null;
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      bar.click();
      const first = flame.querySelector(".frame");
      if (first) { first.tabIndex = 0; first.focus(); }
      return;
    }
    if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      const same = row(depth);
      next = same[same.indexOf(bar) + (event.key === "ArrowRight" ? 1 : -1)];
    } else if (event.key === "ArrowDown") {
      next = row(depth + 1).find((b) => b.offsetLeft >= left - 1 && b.offsetLeft < left + bar.offsetWidth);
    } else if (event.key === "ArrowUp") {
      next = row(depth - 1).filter((b) => b.offsetLeft <= left + 1).pop();
    }
    if (next) {
      event.preventDefault();
      bar.tabIndex = -1;
      next.tabIndex = 0;
      next.focus();
    }
  });
}

// The call tree by keyboard, as a tree widget: Up and Down move between the rows
// shown, Right opens a row (or moves into it), Left closes it (or moves to its
// parent), Enter or Space opens and closes.
function wireTreeKeys() {
  const tree = document.getElementById("tree");
  if (!tree) return;
  const shownRows = () => [...tree.querySelectorAll(".node")].filter((node) => node.offsetParent !== null);
  const focusRow = (node) => {
    tree.querySelectorAll(".node[tabindex='0']").forEach((other) => { other.tabIndex = -1; });
    node.tabIndex = 0;
    node.focus();
  };
  const first = tree.querySelector(".node");
  if (first) first.tabIndex = 0;
  tree.addEventListener("keydown", (event) => {
    const node = event.target.closest(".node");
    if (!node || event.target !== node) return;
    const rows = shownRows();
    const at = rows.indexOf(node);
    const open = node.getAttribute("aria-expanded");
    const toggle = () => node.querySelector(":scope > .row").click();
    let handled = true;
    if (event.key === "ArrowDown" && rows[at + 1]) focusRow(rows[at + 1]);
    else if (event.key === "ArrowUp" && at > 0) focusRow(rows[at - 1]);
    else if (event.key === "ArrowRight" && open === "false") toggle();
    else if (event.key === "ArrowRight" && open === "true") {
      const child = node.querySelector(":scope > .children > .node");
      if (child) focusRow(child);
    } else if (event.key === "ArrowLeft" && open === "true") toggle();
    else if (event.key === "ArrowLeft") {
      const parent = node.parentElement.closest(".node");
      if (parent) focusRow(parent);
    } else if ((event.key === "Enter" || event.key === " ") && open !== null) toggle();
    else handled = false;
    if (handled) event.preventDefault();
  });
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
let picked = null; // the function last picked in the call graph
let descending = true;
let showAll = false;

function drawStats() {
  const body = document.querySelector("#stats tbody");
  const columns = sampled ? [0, 1, 3, 5] : [0, 1, 2, 3, 4, 5];
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
  let shown = showAll ? rows : rows.slice(0, ROWS_SHOWN);
  if (picked !== null && !shown.includes(functions[picked]) && rows.includes(functions[picked])) {
    shown = [...shown, functions[picked]]; // the function picked in the graph is always listed
  }
  body.replaceChildren(...shown.map((f) => {
    const row = element("tr");
    if (f.index === picked) row.classList.add("picked");
    const calls = f.recursive ? `${f.calls}/${f.calls - f.recursive}` : String(f.calls);
    const cells = [
      element("td", "num", calls),
      element("td", "num", (f.own * 1000).toFixed(3)),
      element("td", "num", (sorters.ownper(f) * 1000).toFixed(3)),
      element("td", "num", (f.cum * 1000).toFixed(3)),
      element("td", "num", (sorters.cumper(f) * 1000).toFixed(3)),
      Object.assign(element("td", "fn", label(f)), { title: f.fullWhere ? `${f.fullWhere}(${f.name})` : f.name }),
    ];
    row.append(...columns.map((column) => cells[column]));
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
  if (data.function_count > functions.length) {
    more.append(` The page carries the ${functions.length} largest of ` +
      `${data.function_count} functions; the .json and .prof exports hold every one.`);
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
// The graph zooms and pans (wheel or pinch, drag, the +/- and Fit buttons). "Fit"
// shows it whole where its labels stay readable; a large graph (a real app's 100
// functions) is fitted to the box's width only down to readable labels, shown from
// its top, and the rest is a drag away.
async function makeZoomable(svg) {
  try {
    await import(new URL("./vendor/svg-pan-zoom/svg-pan-zoom.min.js", import.meta.url));
  } catch (error) {
    return; // the graph stays as drawn, scrolled by its box
  }
  const layout = graphLayout(svg); // read while the SVG is as Graphviz drew it
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  svg.classList.add("zoomable");
  svg.style.overflow = "hidden"; // set here: the library would write a style attribute, which the CSP refuses
  // A small graph (a short request's one or two functions) gets a box of its own
  // height, not the big graph's 70vh: fitted to that, its labels were 40-60 px tall.
  const drawnHeight = svg.viewBox.baseVal ? svg.viewBox.baseVal.height : 0;
  if (drawnHeight > 0 && drawnHeight * GRAPH_NATURAL_SCALE + 48 < svg.getBoundingClientRect().height) {
    svg.style.height = `${Math.max(drawnHeight * GRAPH_NATURAL_SCALE + 48, 160)}px`;
  }
  const panZoom = window.svgPanZoom(svg, {
    controlIconsEnabled: false, // its icons bring an inline <style>; ours are buttons, reachable by keyboard
    fit: true,
    center: true,
    minZoom: 0.5,
    maxZoom: 40,
    zoomScaleSensitivity: 0.3,
  });
  const controls = element("div", "zoom-controls");
  controls.setAttribute("role", "group");
  controls.setAttribute("aria-label", "Zoom the call graph");
  for (const [text, label, action] of [
    ["+", "Zoom in", () => panZoom.zoomIn()],
    ["−", "Zoom out", () => panZoom.zoomOut()],
    ["Fit", "Fit the graph to its box, its labels readable", () => fitReadable(panZoom, layout)],
  ]) {
    const button = element("button", "", text);
    button.type = "button";
    button.setAttribute("aria-label", label);
    button.addEventListener("click", action);
    controls.append(button);
  }
  svg.before(controls);
  // A node reached by Tab is brought into the box.
  svg.addEventListener("focusin", (event) => {
    const node = event.target.closest("g.node");
    if (!node) return;
    const box = svg.getBoundingClientRect();
    const at = node.getBoundingClientRect();
    if (at.left >= box.left && at.right <= box.right && at.top >= box.top && at.bottom <= box.bottom) return;
    panZoom.panBy({
      x: box.left + box.width / 2 - (at.left + at.width / 2),
      y: box.top + box.height / 2 - (at.top + at.height / 2),
    });
  });
  fitReadable(panZoom, layout); // the box's size is final only now that the page's CSS applies
}

// Never drawn larger than its own size (Graphviz's points, 4/3 of a pixel): a
// one-node graph fitted to the box's width showed its title and labels in huge
// type. Never smaller than labels of READABLE_PX where the graph does not fit whole:
// a real app's graph fitted whole had labels 6 px high.
const GRAPH_NATURAL_SCALE = 4 / 3;
const READABLE_PX = 11.5;

// What the fit needs from the drawing, in the graph's own units (those of its
// viewBox): its smallest label's size, and each node's centre, share and callees,
// to show a graph too large for the box from its top node down its hottest path.
function graphLayout(svg) {
  const sizes = [...svg.querySelectorAll("g.node text, g.edge text")]
    .map((text) => parseFloat(text.getAttribute("font-size")))
    .filter((size) => size > 0);
  const graph = svg.querySelector("g.graph");
  const matrix = graph && graph.transform.baseVal.consolidate();
  const shift = matrix ? matrix.matrix : { a: 1, d: 1, e: 0, f: 0 };
  const byId = new Map();
  for (const node of svg.querySelectorAll("g.node")) {
    const box = node.getBBox();
    const share = /([\d.]+)% cumulative/.exec(node.textContent);
    byId.set(node.querySelector("title")?.textContent, {
      x: shift.a * (box.x + box.width / 2) + shift.e,
      y: shift.d * box.y + shift.f,
      share: share ? parseFloat(share[1]) : 0,
      callees: [],
    });
  }
  for (const edge of svg.querySelectorAll("g.edge > title")) {
    const [from, to] = edge.textContent.split("->");
    if (byId.has(from) && byId.has(to)) byId.get(from).callees.push(byId.get(to));
  }
  const placed = [...byId.values()];
  const top = placed.reduce((best, node) => (!best || node.y < best.y ? node : best), null);
  return { smallestFont: sizes.length ? Math.min(...sizes) : 10, top };
}

// The top node and its hottest callees, as far down as ``depth`` and as wide as
// ``span`` graph units: what a box of that size can show of where the time went.
function hotPath(top, depth, span) {
  const path = [top];
  for (let at = top; at.callees.length;) {
    at = at.callees.reduce((best, node) => (node.share > best.share ? node : best));
    const xs = [...path, at].map((node) => node.x);
    if (path.includes(at) || at.y - top.y > depth || Math.max(...xs) - Math.min(...xs) > span) break;
    path.push(at);
  }
  return path;
}

function fitReadable(panZoom, layout) {
  panZoom.resize();
  panZoom.fit();
  const { width, height, realZoom: whole, viewBox } = panZoom.getSizes();
  const readable = READABLE_PX / layout.smallestFont;
  const toWidth = width / viewBox.width;
  // Whole if that reads; else as wide as the box, but never below readable.
  let real = whole >= readable ? whole : Math.max(readable, Math.min(toWidth, GRAPH_NATURAL_SCALE));
  real = Math.min(real, Math.max(GRAPH_NATURAL_SCALE, readable));
  const zoom = (panZoom.getZoom() * real) / whole; // the library counts zoom from the fitted size
  panZoom.setMinZoom(Math.min(0.5, zoom));
  panZoom.setMaxZoom(Math.max(40, zoom * 8));
  panZoom.zoom(zoom);
  const drawnWidth = real * viewBox.width;
  const drawnHeight = real * viewBox.height;
  let x = (width - drawnWidth) / 2 - real * viewBox.x;
  if (drawnWidth > width) {
    // Wider than the box: its top node and hottest path in the middle, no empty
    // band at a side.
    let wanted = x;
    if (layout.top) {
      const xs = hotPath(layout.top, (height * 0.8) / real, (width * 0.7) / real).map((node) => node.x);
      wanted = width / 2 - real * ((Math.min(...xs) + Math.max(...xs)) / 2 - viewBox.x);
    }
    x = Math.min(0, Math.max(width - drawnWidth, wanted)) - real * viewBox.x;
  }
  const y = (drawnHeight > height ? 0 : (height - drawnHeight) / 2) - real * viewBox.y;
  panZoom.pan({ x, y });
  const overflow = document.getElementById("graph-overflow");
  if (overflow) {
    overflow.hidden = drawnWidth <= width + 1 && drawnHeight <= height + 1;
  }
}

// -- picking a function in the call graph marks it in the tree and the table --------
const keyOf = (f) => (f.file === "~" ? f.name : `${f.file}:${f.line}(${f.name})`);
const byKey = new Map(functions.map((f) => [keyOf(f), f]));

function revealInTree(fn) {
  document.querySelectorAll("#tree .row.picked").forEach((line) => line.classList.remove("picked"));
  const candidates = nodes.filter((node) => node.fn === fn.index).sort((a, b) => b.time - a.time);
  for (const node of candidates) {
    const chain = [];
    for (let at = node; at; at = at.parent >= 0 ? nodes[at.parent] : null) chain.unshift(at);
    for (const step of chain.slice(0, -1)) {
      const row = rowOf.get(step);
      if (!row) break;
      if (row.getAttribute("aria-expanded") === "false") row.querySelector(":scope > .row").click();
    }
    const row = rowOf.get(node);
    if (row) {
      row.querySelector(":scope > .row").classList.add("picked");
      return row;
    }
  }
  return null;
}

function pick(fn) {
  picked = fn.index;
  const inTree = revealInTree(fn);
  if (document.getElementById("stats")) drawStats();
  document.querySelectorAll("#graph g.node").forEach((node) => {
    node.classList.toggle("picked", node.dataset.fn === String(fn.index));
  });
  const status = document.getElementById("graph-picked");
  if (!status) return;
  status.replaceChildren(`${fn.name}: `);
  const jump = (text, target) => {
    const button = element("button", "link", text);
    button.type = "button";
    button.addEventListener("click", () => {
      target.scrollIntoView({ block: "center" });
      target.tabIndex = -1;
      target.focus();
    });
    return button;
  };
  const row = document.querySelector("#stats tr.picked");
  if (inTree) status.append(jump("show in the call tree", inTree.querySelector(":scope > .row")));
  else status.append("below the call tree's cutoff");
  if (row) status.append(" · ", jump("show in the statistics", row));
}

function wirePicking(svg) {
  svg.querySelectorAll("g.node").forEach((node) => {
    const link = node.querySelector("a");
    const fn = byKey.get(link ? link.getAttribute("xlink:title") || link.getAttribute("title") : "");
    if (!fn) return;
    node.dataset.fn = String(fn.index);
    node.setAttribute("tabindex", "0");
    node.setAttribute("role", "button");
    node.addEventListener("click", () => pick(fn));
    node.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); pick(fn); }
    });
  });
}

async function drawGraph() {
  const target = document.getElementById("graph");
  const button = document.getElementById("graph-download");
  try {
    const { Graphviz } = await import(new URL("./vendor/graphviz/graphviz.js", import.meta.url));
    const graphviz = await Graphviz.load();
    const svgText = graphviz.dot(data.dot);
    const svg = new DOMParser().parseFromString(svgText, "image/svg+xml").documentElement;
    const drawn = document.importNode(svg, true);
    target.replaceChildren(drawn);
    button.disabled = false;
    wirePicking(drawn);
    makeZoomable(drawn);
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

if (document.getElementById("tree")) { drawTree(); wireTreeKeys(); }
wireFlameSearch();
wireFlameTip();
drawFlame(null);
wireFlameKeys();
if (document.getElementById("stats")) wireStats();
drawGraph();
