// "People now": the people each camera's tracker holds in its newest analysed frame (the
// frame's detections that carry a track id: the boxes the live view draws), summed over
// the cameras. Why this source:
// - track events (started minus ended) overcounted 2-3x: the tracker keeps a lost track
//   for re-matching and ends it later, and a page opened mid-stream never sees the ends
//   of tracks it never saw start;
// - zone occupancy counts only who stands in a drawn zone, and a camera without zones
//   would count no one;
// - the node's own count of open tracks includes the lost ones it still holds.
// The newest frame is the tracker's own state, counted the way the live view shows it.
//
// One GraphQL query asks every camera's newest frame at once (aliases, in chunks under
// the gateway's alias limit) every POLL_MS. A camera whose newest frame is older than
// FRESH_MS (stopped, or its node down) counts 0.

import { graphql } from "./api.js";

const POLL_MS = 2000;
const FRESH_MS = 10000;
const CLOCK_SKEW_MS = 60000; // a camera clock ahead of this browser still counts
const CAMERAS_PER_QUERY = 25; // the gateway allows 30 aliases a document

/** The query for `count` cameras' newest frames: one aliased `detections` field each. */
function newestFramesQuery(count) {
  const params = Array.from({ length: count }, (_, i) => `, $c${i}: String!`).join("");
  const fields = Array.from({ length: count }, (_, i) =>
    `c${i}: detections(cameraId: $c${i}, from: $from, to: $to, first: 1)` +
    " { nodes { frameSeq persons { trackId } } }").join("\n");
  return `query ($from: DateTime!, $to: DateTime!${params}) {\n${fields}\n}`;
}

export class LivePeople {
  /** `onChange(counts, frames)`: camera id -> people, and -> the frame seq counted (or null). */
  constructor(onChange, onError) {
    this.onChange = onChange;
    this.onError = onError;
    this.cameraIds = [];
    this.polling = false;
    setInterval(() => this.poll(), POLL_MS);
  }

  /** The cameras to count (the ids of the cameras shown); counted at once. */
  setCameras(cameraIds) {
    this.cameraIds = [...cameraIds];
    this.poll();
  }

  async poll() {
    if (this.polling || !this.cameraIds.length) return;
    this.polling = true;
    try {
      const now = Date.now();
      const range = {
        from: new Date(now - FRESH_MS).toISOString(),
        to: new Date(now + CLOCK_SKEW_MS).toISOString(),
      };
      const chunks = [];
      for (let i = 0; i < this.cameraIds.length; i += CAMERAS_PER_QUERY) {
        chunks.push(this.cameraIds.slice(i, i + CAMERAS_PER_QUERY));
      }
      const counts = new Map();
      const frames = new Map();
      await Promise.all(chunks.map(async (ids) => {
        const variables = { ...range };
        ids.forEach((id, i) => { variables[`c${i}`] = id; });
        const data = await graphql(newestFramesQuery(ids.length), variables);
        ids.forEach((id, i) => {
          const [frame] = data[`c${i}`].nodes;
          counts.set(id, frame ? frame.persons.filter((p) => p.trackId != null).length : 0);
          frames.set(id, frame ? frame.frameSeq : null);
        });
      }));
      this.onChange(counts, frames);
    } catch (error) {
      this.onError(`people now: ${error.message || error}`);
    } finally {
      this.polling = false;
    }
  }
}
