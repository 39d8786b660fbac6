// Occupancy per zone: live counts (`currentOccupancy` on load, then every live
// `zoneOccupancy` change) as bars against each zone's capacity, in a table and on the
// camera overlays; and the per-minute history of the last hour.

import { graphql } from "./api.js";
import { config, onConfig, zoneName } from "./analytics_config.js";
import {
  GRID, LEGEND, categoryAxis, chartOn, draw, emptyGraphic, lineSeries, timeAxis, valueAxis,
} from "./charts.js";
import { Panel, debounce, fillTable } from "./panels.js";
import { asVariables, lastMinutes, markRange } from "./time_ranges.js";

const live = new Panel("zone-occupancy-panel");
const history = new Panel("zone-occupancy-history-panel");
const liveChart = chartOn(document.getElementById("zone-occupancy-chart"));
const historyChart = chartOn(document.getElementById("zone-occupancy-history"));
const counts = new Map(); // "camera/zone" -> {cameraId, zoneId, count, capacity, at}
const listeners = [];

const key = (cameraId, zoneId) => `${cameraId}/${zoneId}`;

/** `listener(cameraId, zoneId, count)` on every change (the camera overlays' labels). */
export function onZoneCount(listener) {
  listeners.push(listener);
  for (const c of counts.values()) listener(c.cameraId, c.zoneId, c.count);
}

function update(entry) {
  counts.set(key(entry.cameraId, entry.zoneId), entry);
  for (const listener of listeners) listener(entry.cameraId, entry.zoneId, entry.count);
}

function render() {
  // Every configured zone has a row, with a count once one is known.
  const zones = config().zones.map((z) => ({ cameraId: z.cameraId, zoneId: z.id, capacity: z.capacity }));
  for (const c of counts.values()) {
    if (!zones.some((z) => z.cameraId === c.cameraId && z.zoneId === c.zoneId)) zones.push(c);
  }
  const rows = zones.map((z) => {
    const known = counts.get(key(z.cameraId, z.zoneId));
    const capacity = known && known.capacity != null ? known.capacity : z.capacity;
    return { ...z, count: known ? known.count : null, capacity };
  });
  fillTable(document.getElementById("zone-occupancy"), rows.map((r) => ({
    cells: [zoneName(r.zoneId), r.cameraId, r.count == null ? "–" : String(r.count),
      r.capacity == null ? "–" : String(r.capacity)],
    data: { zoneId: r.zoneId, cameraId: r.cameraId, count: r.count, capacity: r.capacity },
  })), "no zones configured");
  const names = rows.map((r) => zoneName(r.zoneId));
  draw(liveChart, {
    grid: { ...GRID, left: 110 },
    legend: LEGEND,
    tooltip: { trigger: "axis" },
    xAxis: valueAxis("people in the zone now"),
    yAxis: categoryAxis("", names, { inverse: true }),
    series: [
      { name: "people now", type: "bar", barMaxWidth: 16, data: rows.map((r) => r.count ?? 0) },
      {
        name: "capacity", type: "scatter", symbol: "rect", symbolSize: [3, 18],
        data: rows.map((r) => r.capacity ?? null),
      },
    ],
    graphic: rows.length ? [] : [emptyGraphic("no zones configured")],
  }, rows);
}

const renderSoon = debounce(render, 200);

export function refreshZoneOccupancy() {
  return live.refresh(async () => {
    const data = await graphql("{ currentOccupancy { cameraId zoneId count capacity at } }");
    for (const entry of data.currentOccupancy) update(entry);
    render();
  });
}

export function followZoneOccupancy(feed) {
  feed.subscribe("subscription { zoneOccupancy { cameraId zoneId count capacity at } }", {}, (data) => {
    update(data.zoneOccupancy);
    renderSoon();
  }, (message) => live.fail(message));
  onConfig(render);
}

export function refreshZoneOccupancyHistory() {
  return history.refresh(async () => {
    const range = lastMinutes(60);
    const data = await graphql(
      `query ($from: DateTime!, $to: DateTime!) {
         zoneOccupancy(from: $from, to: $to) { minute cameraId zoneId mean max } }`,
      asVariables(range));
    markRange(history.element, range);
    const byZone = new Map();
    for (const row of data.zoneOccupancy) {
      const points = byZone.get(row.zoneId) || byZone.set(row.zoneId, []).get(row.zoneId);
      points.push([new Date(row.minute).getTime(), row.mean]);
    }
    // Each minute's mean holds until the next minute starts.
    const series = [...byZone.entries()].map(([zoneId, points]) =>
      lineSeries(zoneName(zoneId), points.sort((a, b) => a[0] - b[0]), { step: "end" }));
    draw(historyChart, {
      grid: GRID,
      legend: LEGEND,
      tooltip: { trigger: "axis" },
      xAxis: timeAxis("time (local)", range.from.getTime(), range.to.getTime()),
      yAxis: valueAxis("mean people per minute", { minInterval: 0 }),
      series,
      graphic: series.length ? [] : [emptyGraphic("no zone occupancy in the last hour")],
    }, data.zoneOccupancy);
  });
}
