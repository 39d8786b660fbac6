// Dwell per zone today: mean, median and 90th percentile of the stays' durations, in
// seconds, with the number of stays they are computed from.

import { graphql } from "./api.js";
import { zoneName } from "./analytics_config.js";
import {
  GRID, LEGEND, categoryAxis, chartOn, draw, emptyGraphic, formatSeconds, valueAxis,
} from "./charts.js";
import { Panel, fillTable } from "./panels.js";
import { asVariables, markRange, today } from "./time_ranges.js";

const panel = new Panel("dwell-panel");
const chart = chartOn(document.getElementById("dwell-chart"));

export function refreshDwell() {
  return panel.refresh(async () => {
    const range = today();
    const data = await graphql(
      `query ($from: DateTime!, $to: DateTime!) {
         dwell(from: $from, to: $to) { cameraId zoneId visits meanS p50S p90S } }`,
      asVariables(range));
    markRange(panel.element, range);
    const rows = [...data.dwell].sort((a, b) => zoneName(a.zoneId).localeCompare(zoneName(b.zoneId)));
    const names = rows.map((r) => zoneName(r.zoneId));
    draw(chart, {
      grid: GRID,
      legend: LEGEND,
      tooltip: { trigger: "axis", valueFormatter: (v) => formatSeconds(v) },
      xAxis: categoryAxis("zone", names),
      yAxis: valueAxis("dwell (s)", { minInterval: 0 }),
      series: [
        { name: "mean", type: "bar", barMaxWidth: 14, data: rows.map((r) => r.meanS) },
        { name: "p50", type: "bar", barMaxWidth: 14, data: rows.map((r) => r.p50S) },
        { name: "p90", type: "bar", barMaxWidth: 14, data: rows.map((r) => r.p90S) },
      ],
      graphic: rows.length ? [] : [emptyGraphic("no completed stays today")],
    }, rows);
    fillTable(document.getElementById("dwell"), rows.map((r) => ({
      cells: [zoneName(r.zoneId), String(r.visits), formatSeconds(r.meanS), formatSeconds(r.p50S),
        formatSeconds(r.p90S)],
      data: {
        zoneId: r.zoneId, cameraId: r.cameraId, visits: r.visits, meanS: r.meanS, p50S: r.p50S,
        p90S: r.p90S,
      },
    })), "no completed stays today");
  });
}
