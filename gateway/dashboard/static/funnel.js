// The funnel today: visits reaching each stage of a configured funnel, the conversion
// from the previous stage and the median time it took.

import { graphql } from "./api.js";
import { config, onConfig } from "./analytics_config.js";
import { GRID, categoryAxis, chartOn, draw, emptyGraphic, formatSeconds, valueAxis } from "./charts.js";
import { Panel, fillTable } from "./panels.js";
import { asVariables, markRange, today } from "./time_ranges.js";

const panel = new Panel("funnel-panel");
const chart = chartOn(document.getElementById("funnel-chart"));
const select = document.getElementById("funnel-select");

const percent = (fraction) => (fraction == null ? "–" : `${(fraction * 100).toFixed(1)} %`);

function listFunnels() {
  const chosen = select.value;
  select.replaceChildren(...config().funnels.map((f) => new Option(f.name, f.id)));
  if (config().funnels.some((f) => f.id === chosen)) select.value = chosen;
}

export function followFunnels() {
  select.onchange = () => refreshFunnel();
  onConfig(() => {
    listFunnels();
    refreshFunnel();
  });
}

export function refreshFunnel() {
  return panel.refresh(async () => {
    const funnelId = select.value;
    panel.element.dataset.funnelId = funnelId;
    const range = today();
    const funnel = funnelId
      ? (await graphql(
        `query ($id: String!, $from: DateTime!, $to: DateTime!) {
           funnel(funnelId: $id, from: $from, to: $to) {
             funnelId name stages { name visits conversion medianSecondsFromPrevious } } }`,
        { id: funnelId, ...asVariables(range) })).funnel
      : null;
    markRange(panel.element, range);
    const stages = funnel ? funnel.stages : [];
    draw(chart, {
      grid: { ...GRID, left: 130, right: 90 }, // room for the labels right of the bars
      tooltip: { trigger: "axis" },
      xAxis: valueAxis("visits"),
      yAxis: categoryAxis("", stages.map((s) => s.name), { inverse: true }),
      series: [{
        type: "bar", barMaxWidth: 22, data: stages.map((s) => s.visits),
        label: {
          show: true, position: "right", color: "#c8d3de",
          formatter: (p) => `${p.value} (${percent(stages[p.dataIndex].conversion)})`,
        },
      }],
      graphic: stages.length ? [] : [emptyGraphic(funnelId ? "no visits today" : "no funnel configured")],
    }, stages);
    fillTable(document.getElementById("funnel"), stages.map((s, index) => ({
      cells: [s.name, String(s.visits), percent(s.conversion),
        index ? formatSeconds(s.medianSecondsFromPrevious) : "–"],
      data: {
        stage: s.name, visits: s.visits, conversion: s.conversion,
        medianSecondsFromPrevious: s.medianSecondsFromPrevious,
      },
    })), funnelId ? "no visits today" : "no funnel configured");
  });
}
