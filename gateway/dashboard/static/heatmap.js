// Heatmaps: where people stood today, as person-seconds per floor cell of a camera's
// grid (row-major, row 0 at the top of the image). The panel draws the grid with axes
// in fractions of the frame; a camera tile can lay the same grid over its live view.

import { graphql } from "./api.js";
import { chartOn, draw, emptyGraphic } from "./charts.js";
import { Panel } from "./panels.js";
import { asVariables, markRange, today } from "./time_ranges.js";

const panel = new Panel("heatmap-panel");
const chart = chartOn(document.getElementById("heatmap-chart"));
const select = document.getElementById("heatmap-camera");
const COLORS = ["#0d1b2a", "#1b4965", "#5fa8d3", "#f4d35e", "#ee964b", "#f95738"];

async function grid(cameraId, range) {
  const data = await graphql(
    `query ($camera: String!, $from: DateTime!, $to: DateTime!) {
       heatmap(cameraId: $camera, from: $from, to: $to) { cameraId cols rows personSeconds } }`,
    { camera: cameraId, ...asVariables(range) });
  return data.heatmap;
}

/** [column, row, person-seconds] per non-empty cell, and the largest value. */
function cells(heat) {
  const out = [];
  let max = 0;
  (heat ? heat.personSeconds : []).forEach((value, i) => {
    if (value > 0) out.push([i % heat.cols, Math.floor(i / heat.cols), value]);
    max = Math.max(max, value);
  });
  return { out, max };
}

const fraction = (cols) => (value) => (Number(value) / cols).toFixed(2);

export function setHeatmapCameras(cameras) {
  const chosen = select.value;
  select.replaceChildren(...cameras.map((c) => new Option(c.name || c.id, c.id)));
  if (chosen) select.value = chosen;
  select.onchange = () => refreshHeatmap();
}

export function refreshHeatmap() {
  return panel.refresh(async () => {
    const cameraId = select.value;
    if (!cameraId) return;
    const range = today();
    const heat = await grid(cameraId, range);
    markRange(panel.element, range);
    panel.element.dataset.cameraId = cameraId;
    const cols = heat ? heat.cols : 1, rows = heat ? heat.rows : 1;
    const { out, max } = cells(heat);
    draw(chart, {
      grid: { left: 50, right: 70, top: 16, bottom: 46 },
      tooltip: { formatter: (p) => `${p.value[2].toFixed(1)} person-seconds` },
      xAxis: {
        type: "category", name: "x (fraction of frame width)", nameLocation: "middle", nameGap: 28,
        data: [...Array(cols).keys()],
        axisLabel: { formatter: fraction(cols), interval: Math.ceil(cols / 8) - 1 },
      },
      yAxis: {
        type: "category", name: "y (fraction of height)", nameLocation: "middle", nameGap: 36,
        inverse: true, data: [...Array(rows).keys()],
        axisLabel: { formatter: fraction(rows), interval: Math.ceil(rows / 6) - 1 },
      },
      visualMap: {
        min: 0, max: max || 1, calculable: true, orient: "vertical", right: 0, top: "middle",
        text: ["person-s", ""], inRange: { color: COLORS }, textStyle: { color: "#c8d3de" },
      },
      series: [{ type: "heatmap", data: out }],
      graphic: out.length ? [] : [emptyGraphic("nobody seen on this camera today")],
    }, heat);
  });
}

/** The same grid laid over a camera's live view (no axes; see-through). */
export async function showHeatmapOn(layer, cameraId) {
  const overlayChart = layer.chart || (layer.chart = chartOn(layer));
  const heat = await grid(cameraId, today());
  const { out, max } = cells(heat);
  const cols = heat ? heat.cols : 1, rows = heat ? heat.rows : 1;
  draw(overlayChart, {
    grid: { left: 0, right: 0, top: 0, bottom: 0 },
    xAxis: { type: "category", data: [...Array(cols).keys()], show: false },
    yAxis: { type: "category", data: [...Array(rows).keys()], inverse: true, show: false },
    visualMap: { show: false, min: 0, max: max || 1, inRange: { color: COLORS, opacity: [0.15, 0.65] } },
    series: [{ type: "heatmap", data: out, itemStyle: { opacity: 0.6 } }],
  }, heat);
}
