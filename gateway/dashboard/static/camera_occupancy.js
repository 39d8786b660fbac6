// People per frame per camera over the last hour (the `occupancy` query: mean persons
// detected per analysed frame, per minute).

import { graphql } from "./api.js";
import { GRID, LEGEND, chartOn, draw, emptyGraphic, lineSeries, timeAxis, valueAxis } from "./charts.js";
import { Panel } from "./panels.js";
import { asVariables, lastMinutes, markRange } from "./time_ranges.js";

const panel = new Panel("camera-occupancy-panel");
const chart = chartOn(document.getElementById("occupancy"));

export function refreshCameraOccupancy() {
  return panel.refresh(async () => {
    const range = lastMinutes(60);
    const data = await graphql(
      `query ($from: DateTime!, $to: DateTime!) {
         occupancy(from: $from, to: $to) { cameraId bucket avgPersons maxPersons } }`,
      asVariables(range));
    markRange(panel.element, range);
    const byCamera = new Map();
    for (const p of data.occupancy) {
      const points = byCamera.get(p.cameraId) || byCamera.set(p.cameraId, []).get(p.cameraId);
      points.push([new Date(p.bucket).getTime(), p.avgPersons]);
    }
    const series = [...byCamera.entries()].map(([cameraId, points]) =>
      lineSeries(cameraId, points.sort((a, b) => a[0] - b[0])));
    draw(chart, {
      grid: GRID,
      legend: LEGEND,
      tooltip: { trigger: "axis" },
      xAxis: timeAxis("time (local)", range.from.getTime(), range.to.getTime()),
      yAxis: valueAxis("mean people per frame", { minInterval: 0 }),
      series,
      graphic: series.length ? [] : [emptyGraphic("no frames analysed in the last hour")],
    }, data.occupancy);
    document.body.dataset.occupancyPoints = String(data.occupancy.length);
  });
}
