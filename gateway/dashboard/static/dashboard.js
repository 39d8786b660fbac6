// TRINETRA dashboard: GraphQL over HTTP for queries, graphql-transport-ws for live data,
// WebRTC for camera video. The bearer token comes in the URL fragment (#token=...).
"use strict";

const token = (() => {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) sessionStorage.setItem("trinetra-token", fromHash);
  return fromHash || sessionStorage.getItem("trinetra-token") || "";
})();
const auth = { Authorization: `Bearer ${token}` };
const state = { cameras: new Map(), active: new Map(), events: 0 };

function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = false;
}

async function graphql(query, variables = {}) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...auth },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(body.errors.map((e) => e.message).join("; "));
  return body.data;
}

// Minimal graphql-transport-ws client: one socket, many subscriptions, reconnects.
function subscribe(query, variables, onData) {
  let socket;
  const open = () => {
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
    socket = new WebSocket(url, "graphql-transport-ws");
    socket.onopen = () => socket.send(JSON.stringify({ type: "connection_init", payload: auth }));
    socket.onmessage = (message) => {
      const msg = JSON.parse(message.data);
      if (msg.type === "connection_ack") {
        socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query, variables } }));
      } else if (msg.type === "next" && msg.payload.data) {
        onData(msg.payload.data);
      } else if (msg.type === "ping") {
        socket.send(JSON.stringify({ type: "pong" }));
      } else if (msg.type === "error") {
        showError(`subscription error: ${JSON.stringify(msg.payload)}`);
      }
    };
    socket.onclose = (event) => {
      if (event.code === 4401 || event.code === 4403) {
        showError(`not authorized (${event.reason || event.code}): open the link with a valid #token=`);
        return;
      }
      setTimeout(open, 2000); // the gateway restarted or the network blinked
    };
  };
  open();
}

function cameraTile(camera) {
  const tile = document.createElement("div");
  tile.className = "tile";
  tile.dataset.camera = camera.id;
  tile.innerHTML = `<video autoplay muted playsinline></video>
    <div class="meta"><strong></strong><span class="badge status"></span>
    <span class="people">0 people</span></div>`;
  tile.querySelector("strong").textContent = camera.name || camera.id;
  setStatus(tile, camera.status ? camera.status.toLowerCase() : "unknown");
  document.getElementById("cameras").append(tile);
  startVideo(camera.id, tile.querySelector("video"));
  return tile;
}

function setStatus(tile, status) {
  const badge = tile.querySelector(".status");
  badge.dataset.state = status;
  badge.textContent = status;
}

async function startVideo(cameraId, video) {
  try {
    const peer = new RTCPeerConnection({ iceServers: [] });
    peer.addTransceiver("video", { direction: "recvonly" });
    peer.ontrack = (event) => { video.srcObject = event.streams[0] || new MediaStream([event.track]); };
    await peer.setLocalDescription(await peer.createOffer());
    await new Promise((resolve) => {
      if (peer.iceGatheringState === "complete") return resolve();
      peer.onicegatheringstatechange = () => peer.iceGatheringState === "complete" && resolve();
      setTimeout(resolve, 2000);
    });
    const response = await fetch(`/api/v1/live/${encodeURIComponent(cameraId)}/offer`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...auth },
      body: JSON.stringify({ sdp: peer.localDescription.sdp, type: peer.localDescription.type }),
    });
    if (!response.ok) throw new Error(`live view: HTTP ${response.status}`);
    await peer.setRemoteDescription(await response.json());
  } catch (error) {
    video.replaceWith(Object.assign(document.createElement("p"), { textContent: String(error) }));
  }
}

function renderPeople() {
  let total = 0;
  for (const [cameraId, tracks] of state.active) {
    total += tracks.size;
    const tile = state.cameras.get(cameraId);
    if (tile) tile.querySelector(".people").textContent = `${tracks.size} people`;
  }
  document.getElementById("people").textContent = `people now: ${total}`;
}

function onTrackEvent(event) {
  const tracks = state.active.get(event.cameraId) || new Set();
  if (event.kind === "ENDED") tracks.delete(event.trackId); else tracks.add(event.trackId);
  state.active.set(event.cameraId, tracks);
  renderPeople();
  state.events += 1;
  document.body.dataset.trackEvents = String(state.events);
  const list = document.getElementById("events");
  const item = document.createElement("li");
  const when = new Date(event.occurredAt).toLocaleTimeString();
  item.textContent = `${when} ${event.cameraId} #${event.trackId} ${event.kind.toLowerCase()}` +
    (event.durationS != null ? ` after ${event.durationS.toFixed(1)} s` : "");
  list.prepend(item);
  while (list.children.length > 50) list.lastChild.remove();
}

function addAlert(alert) {
  const list = document.getElementById("alerts");
  list.querySelector(".empty")?.remove();
  const item = document.createElement("li");
  item.className = "alert";
  item.textContent = `${new Date(alert.occurredAt).toLocaleString()} ${alert.severity} ` +
    `${alert.kind} on ${alert.cameraId}${alert.acknowledged ? " (acknowledged)" : ""}`;
  list.prepend(item);
}

function drawOccupancy(points) {
  const canvas = document.getElementById("occupancy");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const now = Date.now(), span = 60 * 60 * 1000;
  const max = Math.max(1, ...points.map((p) => p.avgPersons));
  const colors = ["#4fc3f7", "#81c784", "#ffb74d", "#e57373", "#ba68c8", "#fff176"];
  const byCamera = new Map();
  for (const p of points) (byCamera.get(p.cameraId) || byCamera.set(p.cameraId, []).get(p.cameraId)).push(p);
  [...byCamera.entries()].forEach(([cameraId, series], i) => {
    ctx.strokeStyle = colors[i % colors.length];
    ctx.beginPath();
    series.sort((a, b) => new Date(a.bucket) - new Date(b.bucket)).forEach((p, j) => {
      const x = ((new Date(p.bucket).getTime() - (now - span)) / span) * canvas.width;
      const y = canvas.height - (p.avgPersons / max) * (canvas.height - 20) - 10;
      j ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
    });
    ctx.stroke();
    ctx.fillStyle = ctx.strokeStyle;
    ctx.fillText(cameraId, 8, 14 + 14 * i);
  });
  document.body.dataset.occupancyPoints = String(points.length);
}

async function refreshOccupancy() {
  const to = new Date(), from = new Date(to.getTime() - 60 * 60 * 1000);
  const data = await graphql(
    `query ($from: DateTime!, $to: DateTime!) {
       occupancy(from: $from, to: $to) { cameraId bucket avgPersons maxPersons } }`,
    { from: from.toISOString(), to: to.toISOString() });
  drawOccupancy(data.occupancy);
}

async function refreshHealth() {
  const badge = document.getElementById("health");
  try {
    const response = await fetch("/ready");
    const body = await response.json();
    badge.dataset.state = response.ok ? "ok" : "down";
    badge.textContent = `health: ${Object.entries(body).map(([k, v]) => `${k} ${v ? "ok" : "down"}`).join(", ")}`;
  } catch (error) {
    badge.dataset.state = "down";
    badge.textContent = "health: gateway unreachable";
  }
}

async function main() {
  if (!token) showError("no token: open the dashboard link printed by `make demo` (it ends in #token=...)");
  refreshHealth();
  setInterval(refreshHealth, 5000);
  try {
    const { cameras } = await graphql("{ cameras { id name status storeId } }");
    for (const camera of cameras) state.cameras.set(camera.id, cameraTile(camera));
    document.getElementById("store").textContent = cameras[0] ? `store ${cameras[0].storeId}` : "";
    document.body.dataset.cameras = String(cameras.length);
    const to = new Date(), from = new Date(to.getTime() - 24 * 3600 * 1000);
    const { alerts } = await graphql(
      `query ($from: DateTime!, $to: DateTime!) {
         alerts(from: $from, to: $to, first: 20) { nodes { kind severity cameraId occurredAt acknowledged } } }`,
      { from: from.toISOString(), to: to.toISOString() });
    alerts.nodes.slice().reverse().forEach(addAlert);
    await refreshOccupancy();
    setInterval(refreshOccupancy, 30000);
  } catch (error) {
    showError(String(error));
  }
  subscribe("subscription { trackEvents { kind cameraId trackId occurredAt durationS } }", {},
    (data) => onTrackEvent(data.trackEvents));
  subscribe("subscription { cameraStatus { cameraId state } }", {}, (data) => {
    const tile = state.cameras.get(data.cameraStatus.cameraId);
    if (tile) setStatus(tile, data.cameraStatus.state.toLowerCase());
  });
  subscribe("subscription { alerts { kind severity cameraId occurredAt acknowledged } }", {},
    (data) => addAlert(data.alerts));
}

main();
