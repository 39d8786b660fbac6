// Queues: each queue zone's live length and estimated wait (live `queueState`), and the
// last hour per minute: mean length (people, left axis) and mean estimated wait
// (seconds, right axis).

import { graphql } from "./api.js";
import { config, onConfig, zoneName } from "./analytics_config.js";
import {
  GRID, LEGEND, chartOn, draw, emptyGraphic, formatSeconds, lineSeries, timeAxis, valueAxis,
} from "./charts.js";
import { Panel } from "./panels.js";
import { asVariables, lastMinutes, markRange } from "./time_ranges.js";

const panel = new Panel("queue-panel");
const chart = chartOn(document.getElementById("queue-chart"));
const latest = new Map(); // zone id -> the last live snapshot

const QUEUE_FIELDS = "cameraId zoneId length estimatedWaitS abandoned at";

function card(zoneId) {
  const cards = document.getElementById("queues");
  let element = cards.querySelector(`[data-zone-id="${CSS.escape(zoneId)}"]`);
  if (!element) {
    cards.querySelector(".empty")?.remove();
    element = document.createElement("div");
    element.className = "card";
    element.dataset.zoneId = zoneId;
    element.innerHTML = `<div class="name"></div>
      <div><b class="length">–</b> waiting · wait <b class="wait">–</b></div>
      <div class="small"><span class="abandoned">–</span> abandoned · <span class="at"></span></div>`;
    cards.append(element);
  }
  element.querySelector(".name").textContent = zoneName(zoneId);
  return element;
}

function showSnapshot(snapshot) {
  latest.set(snapshot.zoneId, snapshot);
  const element = card(snapshot.zoneId);
  element.dataset.length = String(snapshot.length);
  element.dataset.estimatedWaitS = snapshot.estimatedWaitS == null ? "" : String(snapshot.estimatedWaitS);
  element.dataset.abandoned = String(snapshot.abandoned);
  element.querySelector(".length").textContent = String(snapshot.length);
  element.querySelector(".wait").textContent = formatSeconds(snapshot.estimatedWaitS);
  element.querySelector(".abandoned").textContent = String(snapshot.abandoned);
  element.querySelector(".at").textContent = `at ${new Date(snapshot.at).toLocaleTimeString()}`;
}

/** Until a live snapshot arrives, a card shows its zone's latest stored minute. */
function showMinute(row) {
  if (latest.has(row.zoneId)) return;
  const element = card(row.zoneId);
  element.querySelector(".length").textContent = row.meanLength == null ? "–" : row.meanLength.toFixed(1);
  element.querySelector(".wait").textContent = formatSeconds(row.meanWaitS);
  element.querySelector(".abandoned").textContent = String(row.abandoned);
  element.querySelector(".at").textContent = `mean of the minute at ${new Date(row.minute).toLocaleTimeString()}`;
}

function showQueueZones() {
  for (const zone of config().zones.filter((z) => z.kind === "queue")) card(zone.id);
}

export function followQueues(feed) {
  feed.subscribe(`subscription { queueState { ${QUEUE_FIELDS} } }`, {}, (data) => showSnapshot(data.queueState),
    (message) => panel.fail(message));
  onConfig(showQueueZones);
}

export function refreshQueues() {
  return panel.refresh(async () => {
    const range = lastMinutes(60);
    const data = await graphql(
      `query ($from: DateTime!, $to: DateTime!) {
         queues(from: $from, to: $to) { minute cameraId zoneId meanLength maxLength meanWaitS abandoned } }`,
      asVariables(range));
    markRange(panel.element, range);
    showQueueZones();
    const byZone = new Map();
    for (const row of data.queues) {
      const rows = byZone.get(row.zoneId) || byZone.set(row.zoneId, []).get(row.zoneId);
      rows.push(row);
    }
    const series = [];
    for (const [zoneId, rows] of byZone) {
      rows.sort((a, b) => new Date(a.minute) - new Date(b.minute));
      showMinute(rows[rows.length - 1]);
      const at = (r) => new Date(r.minute).getTime();
      series.push(
        lineSeries(`${zoneName(zoneId)} length`, rows.map((r) => [at(r), r.meanLength])),
        lineSeries(`${zoneName(zoneId)} wait`, rows.map((r) => [at(r), r.meanWaitS]), {
          yAxisIndex: 1, lineStyle: { type: "dashed" },
        }),
      );
    }
    draw(chart, {
      grid: { ...GRID, right: 56 },
      legend: LEGEND,
      tooltip: { trigger: "axis" },
      xAxis: timeAxis("time (local)", range.from.getTime(), range.to.getTime()),
      yAxis: [valueAxis("people (mean)", { minInterval: 0 }), valueAxis("wait (s)", { minInterval: 0, splitLine: { show: false } })],
      series,
      graphic: series.length ? [] : [emptyGraphic("no queue figures in the last hour")],
    }, data.queues);
  });
}
