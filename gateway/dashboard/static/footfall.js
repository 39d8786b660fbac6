// Footfall today: store entries and exits (the header's totals, over the store-entry
// lines), in and out per hour as bars, and each line's own counts. Refreshed when a live
// `footfallCounters` event says a line was crossed, so the page and the API never
// disagree about what was counted.

import { graphql } from "./api.js";
import { config, lineName } from "./analytics_config.js";
import { GRID, LEGEND, chartOn, draw, emptyGraphic, timeAxis, valueAxis } from "./charts.js";
import { Panel, debounce, fillTable } from "./panels.js";
import { asVariables, markRange, today } from "./time_ranges.js";

const HOUR = 3600 * 1000;
const panel = new Panel("footfall-panel");
const chart = chartOn(document.getElementById("footfall-chart"));

// Hour buckets follow the browser's time zone, so a +05:30 store's bars are its own hours.
const TIME_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;
const QUERY = `query ($from: DateTime!, $to: DateTime!, $zone: String) {
  footfall(from: $from, to: $to, bucket: HOUR, timeZone: $zone) { bucketStart lineId cameraId entries exits }
  footfallTotals(from: $from, to: $to) { entries exits } }`;

function showTotals(totals) {
  for (const [id, value] of [["footfall-in", totals.entries], ["footfall-out", totals.exits]]) {
    const element = document.getElementById(id);
    element.textContent = String(value);
    element.dataset.value = String(value);
  }
}

/** Per hour, summed over the lines that count store entry (all lines if none does). */
function hourly(rows) {
  const entryLines = new Set(config().lines.filter((l) => l.countsStoreEntry).map((l) => l.id));
  const counted = entryLines.size ? rows.filter((r) => entryLines.has(r.lineId)) : rows;
  const byHour = new Map();
  for (const row of counted) {
    const at = new Date(row.bucketStart).getTime();
    const sums = byHour.get(at) || { entries: 0, exits: 0 };
    sums.entries += row.entries;
    sums.exits += row.exits;
    byHour.set(at, sums);
  }
  return [...byHour.entries()].sort((a, b) => a[0] - b[0]);
}

function drawChart(rows, range) {
  const hours = hourly(rows);
  // Bars sit in the middle of their hour on a real time axis (a half-hour zone's hours
  // still line up, and a DST day has 23 or 25 of them).
  const series = (key) => hours.map(([at, sums]) => [at + HOUR / 2, sums[key]]);
  draw(chart, {
    grid: GRID,
    legend: LEGEND,
    tooltip: { trigger: "axis" },
    xAxis: timeAxis("time (local)", range.from.getTime(), range.to.getTime()),
    yAxis: valueAxis("people per hour"),
    series: [
      { name: "in", type: "bar", barMaxWidth: 12, data: series("entries") },
      { name: "out", type: "bar", barMaxWidth: 12, data: series("exits") },
    ],
    graphic: hours.length ? [] : [emptyGraphic("no line crossings today")],
  }, hours.map(([at, sums]) => ({ bucketStart: new Date(at).toISOString(), ...sums })));
}

function fillLines(rows) {
  const byLine = new Map();
  for (const row of rows) {
    const sums = byLine.get(row.lineId) || { entries: 0, exits: 0 };
    sums.entries += row.entries;
    sums.exits += row.exits;
    byLine.set(row.lineId, sums);
  }
  fillTable(
    document.getElementById("footfall-lines"),
    [...byLine.entries()].sort().map(([lineId, sums]) => ({
      cells: [lineName(lineId), String(sums.entries), String(sums.exits)],
      data: { lineId, entries: sums.entries, exits: sums.exits },
    })),
    "no line crossings today",
  );
}

export function refreshFootfall() {
  return panel.refresh(async () => {
    const range = today();
    const data = await graphql(QUERY, { ...asVariables(range), zone: TIME_ZONE });
    markRange(panel.element, range);
    panel.element.dataset.timeZone = TIME_ZONE;
    showTotals(data.footfallTotals);
    drawChart(data.footfall, range);
    fillLines(data.footfall);
  });
}

/** Live: every counted crossing refreshes the figures (bursts coalesce). */
export function followFootfall(feed) {
  const soon = debounce(refreshFootfall, 1000);
  feed.subscribe("subscription { footfallCounters { lineId } }", {}, soon, (m) => panel.fail(m));
}
