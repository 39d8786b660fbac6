// TRINETRA dashboard: wires the panels to the gateway's public API. Queries load each
// panel and refresh it every 30 s; live feeds (track events, camera status, alerts,
// zone occupancy, queue state, footfall counters) update it in between.

import { LiveFeed, NO_TOKEN_MESSAGE, graphql, scopes, token } from "./api.js";
import { loadConfig } from "./analytics_config.js";
import { followAlerts, loadAlerts } from "./alerts.js";
import { CameraAdmin } from "./camera_admin.js";
import { refreshCameraOccupancy } from "./camera_occupancy.js";
import { CameraTile } from "./cameras.js";
import { refreshDwell } from "./dwell.js";
import { followFootfall, refreshFootfall } from "./footfall.js";
import { followFunnels, refreshFunnel } from "./funnel.js";
import { refreshHealth } from "./health.js";
import { refreshHeatmap, setHeatmapCameras } from "./heatmap.js";
import { refreshJourneys } from "./journeys.js";
import { LivePeople } from "./people.js";
import { followQueues, refreshQueues } from "./queues.js";
import { showTrackEvent } from "./track_events.js";
import { followZoneOccupancy, refreshZoneOccupancy, refreshZoneOccupancyHistory } from "./zone_occupancy.js";

const REFRESH_MS = 30000;
const CAMERAS_REFRESH_MS = 10000;
// A status event reaches this page over the live feed before ingest has stored it.
const STORED_AFTER_MS = 1000;
const tiles = new Map(); // camera id -> CameraTile

function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = false;
}

/** `frames`: the frame each camera's count comes from (camera id -> frame seq or null). */
function showPeople(counts, frames) {
  let total = 0;
  for (const [cameraId, count] of counts) {
    total += count;
    tiles.get(cameraId)?.setPeople(count);
  }
  const badge = document.getElementById("people");
  badge.dataset.count = String(total);
  badge.dataset.frames = JSON.stringify(Object.fromEntries(frames));
  badge.textContent = `people now: ${total}`;
}

const livePeople = new LivePeople(showPeople, showError);
const cameraAdmin = new CameraAdmin(() => reloadCameras());

const PANELS = [
  refreshFootfall, refreshZoneOccupancy, refreshZoneOccupancyHistory, refreshDwell, refreshQueues,
  refreshHeatmap, refreshFunnel, refreshJourneys, refreshCameraOccupancy,
];

async function refreshPanels() {
  await Promise.all(PANELS.map((refresh) => refresh()));
  document.body.dataset.panelsRefreshed = String(Number(document.body.dataset.panelsRefreshed || 0) + 1);
}

/** (Re)loads the cameras: a tile each, rebuilt when what it shows changed (a camera that
 * starts or stops running swaps its notice for the live view, or back). */
async function loadCameras() {
  const { cameras } = await graphql("{ cameras { id name status storeId registered config running } }");
  const grid = document.getElementById("cameras");
  const ids = new Set(cameras.map((c) => c.id));
  for (const [id, tile] of tiles) {
    if (!ids.has(id)) { tile.close(); tiles.delete(id); }
  }
  for (const camera of cameras) {
    const known = tiles.get(camera.id);
    const shown = (c) => JSON.stringify([c.name, c.registered, c.config, c.running, Boolean(c.status)]);
    if (known && shown(known.camera) === shown(camera)) continue;
    const tile = new CameraTile(camera);
    if (known) {
      known.element.replaceWith(tile.element);
      known.close();
    } else {
      grid.append(tile.element);
    }
    tiles.set(camera.id, tile);
    tile.start();
  }
  document.getElementById("store").textContent = cameras[0] ? `store ${cameras[0].storeId}` : "";
  document.body.dataset.cameras = String(cameras.length);
  setHeatmapCameras(cameras);
  livePeople.setCameras(cameras.map((c) => c.id));
  cameraAdmin.render(cameras);
}

let reloading = null; // the load in flight
let reloadAgain = false; // asked for during it: its answer may predate the change

/** loadCameras, one at a time (two at once would both add a new camera's tile), and
 * once more after it when asked for meanwhile (status events come in bursts). */
function reloadCameras() {
  if (reloading) {
    reloadAgain = true;
    return reloading;
  }
  reloading = loadCameras()
    .catch((error) => showError(`cameras: ${error.message || error}`))
    .finally(() => {
      reloading = null;
      if (reloadAgain) {
        reloadAgain = false;
        reloadCameras();
      }
    });
  return reloading;
}

async function main() {
  refreshHealth();
  setInterval(refreshHealth, 5000);
  if (!token) {
    showError(NO_TOKEN_MESSAGE);
    return;
  }
  // Offer what the token's role may do (the gateway refuses the rest anyway).
  document.getElementById("camera-admin").hidden = !scopes.has("operator");
  document.getElementById("identity-link").hidden = !scopes.has("privacy_officer");
  const feed = new LiveFeed(showError);
  try {
    await loadCameras();
  } catch (error) {
    showError(String(error.message || error));
  }
  // Followers first: they redraw on every configuration, the first one included.
  followFunnels();
  followFootfall(feed);
  followZoneOccupancy(feed);
  followQueues(feed);
  followAlerts(feed);
  try {
    await loadConfig();
  } catch (error) {
    showError(`analytics configuration: ${error.message || error}`);
  }
  loadAlerts().catch((error) => showError(`alerts: ${error.message || error}`));
  feed.subscribe("subscription { trackEvents { kind cameraId trackId occurredAt durationS } }", {}, (data) => {
    showTrackEvent(data.trackEvents);
  });
  feed.subscribe("subscription { cameraStatus { cameraId state } }", {}, (data) => {
    const { cameraId, state } = data.cameraStatus;
    const tile = tiles.get(cameraId);
    tile?.setStatus(state.toLowerCase());
    // A camera that starts or stops running (or one not shown yet) changes its tile.
    if (!tile || tile.camera.running !== (state !== "STOPPED")) setTimeout(reloadCameras, STORED_AFTER_MS);
  });
  // A node that goes away sends nothing: `running` turns false with its silence.
  setInterval(reloadCameras, CAMERAS_REFRESH_MS);
  await refreshPanels();
  document.body.dataset.ready = "1";
  setInterval(refreshPanels, REFRESH_MS);
  setInterval(() => loadConfig().catch((error) => showError(`analytics configuration: ${error.message || error}`)), REFRESH_MS);
}

main();
