// linesman: the endpoints page's charts, one per endpoint, drawn with the vendored
// uPlot: its median and 95th-percentile duration (lines, ms) and its request
// count (bars, on their own scale) in the same time buckets for every endpoint.
const data = document.getElementById("endpoint-charts");
const uPlot = window.uPlot;

function draw(box, starts, one) {
  const bars = uPlot.paths.bars({ size: [0.8, 12] });
  const options = {
    width: box.clientWidth || 220,
    height: 44,
    legend: { show: false },
    cursor: { show: false },
    select: { show: false },
    padding: [4, 2, 0, 2],
    // Durations from zero, so a 1% wobble does not fill the chart.
    scales: {
      x: { time: true },
      y: { range: (u, min, max) => [0, (max || 1) * 1.1] },
      n: { range: (u, min, max) => [0, Math.max(1, max)] },
    },
    axes: [{ show: false }, { show: false }, { scale: "n", show: false }],
    series: [
      {},
      { label: "requests", scale: "n", paths: bars, fill: "#d9dee3", stroke: "#c3cad1", width: 0, points: { show: false } },
      { label: "95th percentile (ms)", stroke: "#e8590c", width: 1.5, spanGaps: true, points: { show: true, size: 4, fill: "#e8590c" } },
      { label: "median (ms)", stroke: "#1f6feb", width: 1.5, spanGaps: true, points: { show: true, size: 4, fill: "#1f6feb" } },
    ],
  };
  return new uPlot(options, [starts, one.counts, one.p95s, one.medians], box);
}

if (data && uPlot) {
  const charts = JSON.parse(data.textContent);
  const boxes = [...document.querySelectorAll(".trend-chart[data-chart]")];
  const plots = boxes.map((box) => {
    const one = charts.series[Number(box.dataset.chart)];
    return one ? draw(box, charts.starts, one) : null;
  });
  window.addEventListener("resize", () => {
    plots.forEach((plot, index) => {
      if (plot) plot.setSize({ width: boxes[index].clientWidth || 220, height: 44 });
    });
  });
}
