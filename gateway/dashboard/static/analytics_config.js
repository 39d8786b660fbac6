// The store's analytics configuration (zones, lines, funnels) as the page knows it: loaded
// once, replaced by what every config mutation returns, and announced to the panels and
// overlays that draw from it.

import { graphql } from "./api.js";

/** The fields of AnalyticsConfig the page reads (queries and mutations return it). */
export const CONFIG_FIELDS = `version updatedAt
  zones { id cameraId name kind polygon capacity dwellThresholdS waitThresholdS }
  lines { id cameraId name points inSide countsStoreEntry }
  funnels { id name }`;

const EMPTY = { version: 0, zones: [], lines: [], funnels: [] };
const listeners = [];
let current = EMPTY;

export function config() {
  return current;
}

export function onConfig(listener) {
  listeners.push(listener);
}

export function setConfig(next) {
  current = next || EMPTY;
  document.body.dataset.configVersion = String(current.version);
  for (const listener of listeners) listener(current);
}

/** Reads the configuration; announces it when it is a version the page has not shown
 * (another operator's edit, a change through the API), so a drawing in progress stays. */
export async function loadConfig() {
  const data = await graphql(`{ analyticsConfig { ${CONFIG_FIELDS} } }`);
  if (data.analyticsConfig.version !== current.version || current === EMPTY) setConfig(data.analyticsConfig);
}

export function zonesOf(cameraId) {
  return current.zones.filter((zone) => zone.cameraId === cameraId);
}

export function linesOf(cameraId) {
  return current.lines.filter((line) => line.cameraId === cameraId);
}

/** A zone's display name (zone ids in figures are resolved through the config). */
export function zoneName(zoneId) {
  const zone = current.zones.find((z) => z.id === zoneId);
  return zone ? zone.name : zoneId;
}

export function lineName(lineId) {
  const line = current.lines.find((l) => l.id === lineId);
  return line ? line.name : lineId;
}
