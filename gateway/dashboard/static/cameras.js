// A camera tile: the live WebRTC view with its zones and lines drawn over it, the
// camera's status and people in view, its zone editor and an optional heatmap layer.
//
// The view keeps the video's own aspect ratio (set once its size is known) and the
// overlay covers it exactly, so normalized coordinates land on the right pixels.
//
// A camera with nothing to show says why instead of showing a black view: registered but
// run by no store node, stopped, or reporting status without being registered.

import { authorizedFetch } from "./api.js";
import { linesOf, onConfig, zonesOf } from "./analytics_config.js";
import { showHeatmapOn } from "./heatmap.js";
import { CameraOverlay } from "./overlay.js";
import { ZoneEditor } from "./zone_editor.js";
import { onZoneCount } from "./zone_occupancy.js";

export class CameraTile {
  constructor(camera) {
    this.camera = camera;
    const tile = document.createElement("div");
    this.element = tile;
    tile.className = "tile";
    tile.dataset.camera = camera.id;
    tile.innerHTML = `
      <div class="view">
        <video autoplay muted playsinline></video>
        <p class="notice" hidden></p>
        <div class="heat-layer" hidden></div>
        <svg class="overlay" xmlns="http://www.w3.org/2000/svg"></svg>
        <p class="video-error" hidden></p>
      </div>
      <div class="meta"><strong></strong><span class="badge status"></span>
        <span class="people" data-count="0">0 people</span>
        <span class="tools">
          <button type="button" data-action="heatmap" aria-pressed="false">Heatmap</button>
          <button type="button" data-action="zones">Edit zones</button>
        </span></div>
      <div class="editor" hidden></div>`;
    tile.querySelector("strong").textContent = camera.name || camera.id;
    this.setStatus(camera.status ? camera.status.toLowerCase() : "unknown");
    this.overlay = new CameraOverlay(tile.querySelector("svg.overlay"));
    this.editor = new ZoneEditor(tile, camera.id, this.overlay);
    tile.querySelector("[data-action=zones]").onclick = () =>
      (tile.classList.contains("editing") ? this.editor.closeEditor() : this.editor.open());
    tile.querySelector("[data-action=heatmap]").onclick = (event) => this.toggleHeatmap(event.target);
    this.closed = false;
    this.peer = null;
    onConfig(() => {
      if (this.closed) return;
      this.overlay.show({ zones: zonesOf(camera.id), lines: linesOf(camera.id) });
      this.editor.refresh();
    });
    onZoneCount((cameraId, zoneId, count) => {
      if (cameraId === camera.id && !this.closed) this.overlay.setCount(zoneId, count);
    });
  }

  start() {
    this.overlay.show({ zones: zonesOf(this.camera.id), lines: linesOf(this.camera.id) });
    const why = idleReason(this.camera);
    if (why) this.showNotice(why);
    else this.startVideo(this.element.querySelector("video"));
  }

  /** Ends the live view (a node serves few viewers a camera) and detaches the tile. */
  close() {
    this.closed = true;
    this.peer?.close();
    this.element.remove();
  }

  /** Replaces the view's picture with a sentence saying why there is none. */
  showNotice(text) {
    const notice = this.element.querySelector(".notice");
    notice.textContent = text;
    notice.hidden = false;
    this.element.dataset.notice = text;
  }

  setStatus(status) {
    const badge = this.element.querySelector(".status");
    badge.dataset.state = status;
    badge.textContent = status;
  }

  setPeople(count) {
    const people = this.element.querySelector(".people");
    people.dataset.count = String(count);
    people.textContent = `${count} ${count === 1 ? "person" : "people"}`;
  }

  async toggleHeatmap(button) {
    const layer = this.element.querySelector(".heat-layer");
    const on = layer.hidden;
    layer.hidden = !on;
    button.setAttribute("aria-pressed", String(on));
    if (on) {
      try {
        await showHeatmapOn(layer, this.camera.id);
      } catch (error) {
        this.showVideoError(`heatmap: ${error.message}`);
      }
    }
  }

  showVideoError(text) {
    const caption = this.element.querySelector(".video-error");
    caption.textContent = text;
    caption.hidden = false;
  }

  async startVideo(video) {
    video.addEventListener("loadedmetadata", () => {
      // The overlay's coordinates are fractions of the picture: match its shape exactly.
      this.element.querySelector(".view").style.aspectRatio = `${video.videoWidth} / ${video.videoHeight}`;
    });
    try {
      const peer = new RTCPeerConnection({ iceServers: [] });
      this.peer = peer;
      peer.addTransceiver("video", { direction: "recvonly" });
      peer.ontrack = (event) => { video.srcObject = event.streams[0] || new MediaStream([event.track]); };
      await peer.setLocalDescription(await peer.createOffer());
      await new Promise((resolve) => {
        if (peer.iceGatheringState === "complete") return resolve();
        peer.onicegatheringstatechange = () => peer.iceGatheringState === "complete" && resolve();
        setTimeout(resolve, 2000);
      });
      const response = await authorizedFetch(`/api/v1/live/${encodeURIComponent(this.camera.id)}/offer`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sdp: peer.localDescription.sdp, type: peer.localDescription.type }),
      });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        const detail = typeof body.detail === "string" ? body.detail
          : body.error && body.error.message ? body.error.message : `HTTP ${response.status}`;
        if (response.status === 404) return this.showNotice(`not running on any node (${detail})`);
        throw new Error(`live view unavailable: ${detail}`);
      }
      await peer.setRemoteDescription(await response.json());
    } catch (error) {
      // The zones stay drawn and editable over the empty view.
      this.showVideoError(String(error.message || error));
    }
  }
}

/** Why a camera has no picture to show, or null when it should have one. */
export function idleReason(camera) {
  if (!camera.registered) {
    return "reports status but is not registered: register it under Camera management " +
      "to configure and analyse it";
  }
  if (camera.config && camera.config.enabled === false) return "analysis stopped: start it under Camera management";
  // `running`: a store node reported the camera lately (the gateway's Camera.running).
  if (!camera.running) return "not running on any node";
  return null;
}
