// "People now": the people each camera's tracker holds in view, from the live track
// events. A track counts while the tracker keeps reporting it: started, then updated
// every few frames while it is seen. It stops counting when it ends, or when its
// updates stop (the tracker lost it and keeps it only as a candidate for re-matching,
// which is why "started minus ended" overcounted 2-3x: lost tracks end seconds later,
// and a page opened mid-stream never sees the ends of tracks it never saw start).
//
// Ages are measured on this browser's clock at arrival, so a skewed camera clock cannot
// keep tracks alive or expire them early.

const MIN_STALE_MS = 3000;
const STALE_UPDATES = 3; // a track is lost after missing this many of its usual updates
const MAX_GAP_MS = 5000;

export class LiveTracks {
  constructor(onChange) {
    this.onChange = onChange;
    this.cameras = new Map(); // camera id -> Map(track id -> {seenAt, gap})
    setInterval(() => this.expire(), 500);
  }

  onTrackEvent(event) {
    const tracks = this.cameras.get(event.cameraId) || new Map();
    this.cameras.set(event.cameraId, tracks);
    if (event.kind === "ENDED") {
      tracks.delete(event.trackId);
    } else {
      const now = performance.now();
      const known = tracks.get(event.trackId);
      // The track's usual interval between reports, smoothed (the node thins frames
      // under load, so it is measured, not assumed), capped so a lost track still goes.
      const interval = known ? Math.min(now - known.seenAt, MAX_GAP_MS) : 0;
      const gap = known && known.gap ? 0.7 * known.gap + 0.3 * interval : interval;
      tracks.set(event.trackId, { seenAt: now, gap });
    }
    this.onChange(this.counts());
  }

  expire() {
    const now = performance.now();
    let changed = false;
    for (const tracks of this.cameras.values()) {
      for (const [trackId, track] of tracks) {
        if (now - track.seenAt > Math.max(MIN_STALE_MS, STALE_UPDATES * track.gap)) {
          tracks.delete(trackId);
          changed = true;
        }
      }
    }
    if (changed) this.onChange(this.counts());
  }

  /** Camera id -> people in view now. */
  counts() {
    return new Map([...this.cameras].map(([cameraId, tracks]) => [cameraId, tracks.size]));
  }
}
