// linesman: the endpoints page's charts, one per endpoint, drawn with the vendored
// uPlot: its median and 95th-percentile duration (lines, ms) and its request
// count (bars, on their own scale) in the same time buckets for every endpoint.
// Each chart is labelled with its scale (its highest duration at the top, 0 at the
// bottom), and pointing at it tells the nearest bucket's figures: a lone session
// is a dot at the top of a scale that says its time.
const data = document.getElementById("endpoint-charts");
const uPlot = window.uPlot;
const HEIGHT = 48;

const msText = (value) => `${value.toFixed(value >= 100 ? 0 : 1)} ms`; // as the table's cells say it
// A bucket's start and end, to the millisecond where buckets are that short.
const clock = (seconds, fine) => new Date(seconds * 1000).toISOString().slice(11, fine ? 23 : 19);

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// The bucket with requests nearest to ``index``: the cursor snaps to what there is.
function nearestFilled(counts, index) {
  for (let step = 0; step < counts.length; step += 1) {
    if (counts[index - step] > 0) return index - step;
    if (counts[index + step] > 0) return index + step;
  }
  return null;
}

function tipText(starts, one, index) {
  const width = starts.length > 1 ? starts[1] - starts[0] : 0;
  const count = one.counts[index];
  const fine = width < 10;
  const when = `${clock(starts[index], fine)}–${clock(starts[index] + width, fine)} UTC`;
  const lines = [when, `${count} request${count === 1 ? "" : "s"}`];
  if (count === 1) lines.push(`took ${msText(one.medians[index])}`);
  else lines.push(`median ${msText(one.medians[index])}`, `95th percentile ${msText(one.p95s[index])}`);
  return lines;
}

function draw(box, starts, one, tip) {
  const top = Math.max(...one.p95s.filter((value) => value !== null), 0) || 1;
  const lone = one.counts.reduce((sum, count) => sum + count, 0) === 1;
  // The scale, beside the chart: the top line's duration and the baseline's 0.
  const scale = element("div", "trend-scale");
  scale.setAttribute("aria-hidden", "true"); // the chart's label and the row's cells say it
  scale.append(element("span", "trend-max", msText(top)), element("span", "trend-zero", "0"));
  box.before(scale);
  const bars = uPlot.paths.bars({ size: [0.8, 12] });
  const dot = lone ? 8 : 4;
  const options = {
    width: box.clientWidth || 200,
    height: HEIGHT,
    legend: { show: false },
    cursor: { y: false, points: { show: false }, drag: { x: false, y: false } },
    select: { show: false },
    padding: [dot / 2 + 1, dot / 2 + 1, 1, dot / 2 + 1],
    // Durations from zero to the chart's highest, the line the label names.
    scales: {
      x: { time: true },
      y: { range: () => [0, top] },
      n: { range: (u, min, max) => [0, Math.max(1, max)] },
    },
    axes: [
      { show: false },
      // Only the grid lines at the top and the bottom, where the labels are.
      { show: true, size: 0, ticks: { show: false }, values: (u, splits) => splits.map(() => ""),
        splits: () => [0, top], grid: { stroke: "#d9dee3", width: 1, dash: [3, 3] } },
      { scale: "n", show: false },
    ],
    series: [
      {},
      { label: "requests", scale: "n", paths: bars, fill: "#d9dee3", stroke: "#c3cad1", width: 0, points: { show: false } },
      { label: "95th percentile (ms)", stroke: "#e8590c", width: 1.5, spanGaps: true, points: { show: true, size: dot, fill: "#e8590c" } },
      { label: "median (ms)", stroke: "#1f6feb", width: 1.5, spanGaps: true, points: { show: true, size: dot, fill: "#1f6feb" } },
    ],
    hooks: {
      setCursor: [(u) => {
        const index = u.cursor.idx === null || u.cursor.idx === undefined ? null : nearestFilled(one.counts, u.cursor.idx);
        if (index === null || u.cursor.left < 0) {
          tip.hidden = true;
          return;
        }
        tip.replaceChildren(...tipText(starts, one, index).map((line, at) => element(at ? "div" : "strong", "", line)));
        tip.hidden = false;
        const over = u.over.getBoundingClientRect();
        const x = over.left + u.valToPos(starts[index], "x");
        const left = Math.max(4, Math.min(x + 10, window.innerWidth - tip.offsetWidth - 8));
        tip.style.left = `${left}px`;
        tip.style.top = `${Math.max(4, over.top - tip.offsetHeight - 6)}px`;
      }],
    },
  };
  const plot = new uPlot(options, [starts, one.counts, one.p95s, one.medians], box);
  plot.over.addEventListener("mouseleave", () => { tip.hidden = true; });
  return plot;
}

if (data && uPlot) {
  const charts = JSON.parse(data.textContent);
  const tip = element("div", "trend-tip");
  tip.id = "trend-tip";
  tip.setAttribute("role", "tooltip");
  tip.hidden = true;
  document.body.append(tip);
  const boxes = [...document.querySelectorAll(".trend-chart[data-chart]")];
  const plots = boxes.map((box) => {
    const one = charts.series[Number(box.dataset.chart)];
    return one ? draw(box, charts.starts, one, tip) : null;
  });
  window.addEventListener("resize", () => {
    plots.forEach((plot, index) => {
      if (plot) plot.setSize({ width: boxes[index].clientWidth || 200, height: HEIGHT });
    });
  });
}
