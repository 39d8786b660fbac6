// Journeys today as a Sankey of zone-to-zone flows, from "entrance" to "exit".
//
// A Sankey must be acyclic, but people walk back (A -> B and B -> A). The diagram keeps
// the heaviest flows and leaves out each flow that would close a cycle; the table lists
// every flow, the left-out ones marked, so no figure is hidden.

import { graphql } from "./api.js";
import { zoneName } from "./analytics_config.js";
import { chartOn, draw, emptyGraphic } from "./charts.js";
import { Panel, fillTable } from "./panels.js";
import { asVariables, markRange, today } from "./time_ranges.js";

const panel = new Panel("journeys-panel");
const chart = chartOn(document.getElementById("journeys-chart"));

const label = (node) => (node === "entrance" || node === "exit" ? node : zoneName(node));

/** Splits flows into those drawn (acyclic, heaviest first) and those left out. */
export function acyclic(flows) {
  const next = new Map(); // node -> Set of nodes it flows to (drawn flows only)
  const reaches = (from, to) => {
    const seen = new Set(), stack = [from];
    while (stack.length) {
      const node = stack.pop();
      if (node === to) return true;
      if (seen.has(node)) continue;
      seen.add(node);
      for (const n of next.get(node) || []) stack.push(n);
    }
    return false;
  };
  const drawn = [], leftOut = [];
  for (const flow of [...flows].sort((a, b) => b.visits - a.visits)) {
    if (flow.source === flow.target || reaches(flow.target, flow.source)) {
      leftOut.push(flow);
      continue;
    }
    drawn.push(flow);
    (next.get(flow.source) || next.set(flow.source, new Set()).get(flow.source)).add(flow.target);
  }
  return { drawn, leftOut };
}

export function refreshJourneys() {
  return panel.refresh(async () => {
    const range = today();
    const data = await graphql(
      `query ($from: DateTime!, $to: DateTime!) {
         journeyFlows(from: $from, to: $to) { source target visits } }`,
      asVariables(range));
    markRange(panel.element, range);
    const { drawn, leftOut } = acyclic(data.journeyFlows);
    const nodes = [...new Set(drawn.flatMap((f) => [f.source, f.target]))];
    draw(chart, {
      tooltip: { trigger: "item" },
      series: [{
        type: "sankey",
        left: 10, right: 90, top: 10, bottom: 10,
        emphasis: { focus: "adjacency" },
        nodeAlign: "justify",
        data: nodes.map((name) => ({ name })),
        links: drawn.map((f) => ({ source: f.source, target: f.target, value: f.visits })),
        label: { color: "#e6e6e6", formatter: (p) => label(p.name) },
        lineStyle: { color: "gradient", curveness: 0.5, opacity: 0.45 },
      }],
      graphic: drawn.length ? [] : [emptyGraphic("no completed journeys today")],
    }, data.journeyFlows);
    const omitted = new Set(leftOut);
    fillTable(document.getElementById("journeys"), [...drawn, ...leftOut].map((f) => ({
      cells: [label(f.source), label(f.target), String(f.visits) + (omitted.has(f) ? " (back-flow, not drawn)" : "")],
      data: { source: f.source, target: f.target, visits: f.visits, drawn: !omitted.has(f) },
    })), "no completed journeys today");
  });
}
