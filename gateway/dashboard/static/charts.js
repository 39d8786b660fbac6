// Apache ECharts (served by the gateway from static/echarts.min.js, a global `echarts`)
// with the dashboard's look: every chart has named axes with units, and time axes in the
// browser's local time.
//
// Each chart's container also carries what it plots as JSON in `data-series`, so the
// browser tests can compare the drawn figures with the API's answers.

const charts = new Set();

window.addEventListener("resize", () => {
  for (const chart of charts) chart.resize();
});

export const PALETTE = ["#4fc3f7", "#81c784", "#ffb74d", "#e57373", "#ba68c8", "#fff176", "#4db6ac"];

/** An ECharts instance on `element`, resized with the window. */
export function chartOn(element) {
  const chart = echarts.init(element, "dark", { renderer: "canvas" });
  charts.add(chart);
  new ResizeObserver(() => chart.resize()).observe(element);
  return chart;
}

/** Draws `option` and records `series` (plain data) on the container for tests. */
export function draw(chart, option, series) {
  chart.setOption(
    { backgroundColor: "transparent", color: PALETTE, animation: false, ...option },
    { notMerge: true },
  );
  chart.getDom().dataset.series = JSON.stringify(series);
}

const AXIS_NAME = { nameLocation: "middle", nameTextStyle: { color: "#9fb3c8" } };

export function timeAxis(name, min, max) {
  return {
    type: "time", name, nameGap: 26, min, max, ...AXIS_NAME,
    // Clock time only (the panel's title says which day); labels that would collide are
    // dropped rather than drawn over each other.
    axisLabel: { formatter: "{HH}:{mm}", hideOverlap: true },
    splitNumber: 6,
  };
}

export function valueAxis(name, extra = {}) {
  return { type: "value", name, nameGap: 36, minInterval: 1, ...AXIS_NAME, ...extra };
}

export function categoryAxis(name, data, extra = {}) {
  return { type: "category", name, nameGap: 26, data, ...AXIS_NAME, ...extra };
}

export const GRID = { left: 56, right: 20, top: 34, bottom: 46 };

export const LEGEND = { top: 0, textStyle: { color: "#c8d3de" } };

/** A message in place of an empty chart, so "nothing yet" is not mistaken for a bug. */
export function emptyGraphic(text) {
  return {
    type: "text",
    left: "center",
    top: "middle",
    style: { text, fill: "#6f7d8c", font: "13px system-ui" },
  };
}

/** A line series over time: points are marked only while too few to draw a line. */
export function lineSeries(name, data, extra = {}) {
  return { name, type: "line", data, showSymbol: data.length <= 2, symbolSize: 6, ...extra };
}

/** Seconds as the panels show them: "42 s", "3.5 min". */
export function formatSeconds(seconds) {
  if (seconds == null) return "–";
  if (seconds < 90) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  return `${(seconds / 60).toFixed(1)} min`;
}
