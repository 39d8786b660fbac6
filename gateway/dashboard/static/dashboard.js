// TRINETRA dashboard: wires the panels to the gateway's public API. Queries load each
// panel and refresh it every 30 s; live feeds (track events, camera status, alerts,
// zone occupancy, queue state, footfall counters) update it in between.

import { LiveFeed, NO_TOKEN_MESSAGE, graphql, token } from "./api.js";
import { loadConfig } from "./analytics_config.js";
import { followAlerts, loadAlerts } from "./alerts.js";
import { refreshCameraOccupancy } from "./camera_occupancy.js";
import { CameraTile } from "./cameras.js";
import { refreshDwell } from "./dwell.js";
import { followFootfall, refreshFootfall } from "./footfall.js";
import { followFunnels, refreshFunnel } from "./funnel.js";
import { refreshHealth } from "./health.js";
import { refreshHeatmap, setHeatmapCameras } from "./heatmap.js";
import { refreshJourneys } from "./journeys.js";
import { LiveTracks } from "./people.js";
import { followQueues, refreshQueues } from "./queues.js";
import { showTrackEvent } from "./track_events.js";
import { followZoneOccupancy, refreshZoneOccupancy, refreshZoneOccupancyHistory } from "./zone_occupancy.js";

const REFRESH_MS = 30000;
const tiles = new Map(); // camera id -> CameraTile

function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = false;
}

function showPeople(counts) {
  let total = 0;
  for (const [cameraId, count] of counts) {
    total += count;
    tiles.get(cameraId)?.setPeople(count);
  }
  const badge = document.getElementById("people");
  badge.dataset.count = String(total);
  badge.textContent = `people now: ${total}`;
}

const PANELS = [
  refreshFootfall, refreshZoneOccupancy, refreshZoneOccupancyHistory, refreshDwell, refreshQueues,
  refreshHeatmap, refreshFunnel, refreshJourneys, refreshCameraOccupancy,
];

async function refreshPanels() {
  await Promise.all(PANELS.map((refresh) => refresh()));
  document.body.dataset.panelsRefreshed = String(Number(document.body.dataset.panelsRefreshed || 0) + 1);
}

async function loadCameras() {
  const { cameras } = await graphql("{ cameras { id name status storeId } }");
  for (const camera of cameras) {
    const tile = new CameraTile(camera);
    tiles.set(camera.id, tile);
    document.getElementById("cameras").append(tile.element);
    tile.start();
  }
  document.getElementById("store").textContent = cameras[0] ? `store ${cameras[0].storeId}` : "";
  document.body.dataset.cameras = String(cameras.length);
  setHeatmapCameras(cameras);
}

async function main() {
  refreshHealth();
  setInterval(refreshHealth, 5000);
  if (!token) {
    showError(NO_TOKEN_MESSAGE);
    return;
  }
  const feed = new LiveFeed(showError);
  const liveTracks = new LiveTracks(showPeople);
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
    liveTracks.onTrackEvent(data.trackEvents);
    showTrackEvent(data.trackEvents);
  });
  feed.subscribe("subscription { cameraStatus { cameraId state } }", {}, (data) => {
    tiles.get(data.cameraStatus.cameraId)?.setStatus(data.cameraStatus.state.toLowerCase());
  });
  await refreshPanels();
  document.body.dataset.ready = "1";
  setInterval(refreshPanels, REFRESH_MS);
  setInterval(() => loadConfig().catch((error) => showError(`analytics configuration: ${error.message || error}`)), REFRESH_MS);
}

main();
