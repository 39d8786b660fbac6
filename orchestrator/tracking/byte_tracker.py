"""ByteTrack (Zhang et al., 2022): keep people tracked through low-confidence frames.

Detectors lose confidence exactly when people are partly hidden, so instead of dropping
low-score boxes ByteTrack uses them, but only to extend tracks that are already being
followed; new tracks still need a confident box. The association order, thresholds and
track lifecycle follow the original implementation; see `update` for the steps.

Where this differs from the original, on purpose:
- Public ids are handed out when a track is confirmed, not when it is born, so tracks that
  never get past their first frame leave no gaps in the id sequence. They come from a
  `TrackIds` source (`ids`): when it has none to give, a confirmed track is followed
  without a public id (not published) until one is available.
- Unconfirmed tracks are predicted along with the others (the original skips them; they
  have no velocity yet, so only their covariance differs slightly).
- Tracked/lost duplicates are resolved at IoU cost 0.05 by default, not 0.15 (see
  `TrackerConfig.duplicate_thresh`).
- IoU uses continuous coordinates (no +1 on widths as cython_bbox has), and the optimal
  assignment comes from scipy instead of lapjv (same matches, see `matching`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from orchestrator.tracking import kalman, state
from orchestrator.tracking.config import TrackerConfig
from orchestrator.tracking.ids import SequentialIds, TrackIds
from orchestrator.tracking.matching import iou_cost, iou_matrix, linear_assignment
from orchestrator.tracking.track_table import TrackTable
from trinetra.inference.detections import Detections, IntArray

Index = NDArray[np.intp]

_NO_INDEX: Index = np.zeros(0, dtype=np.intp)


@dataclass(frozen=True, eq=False)
class TrackUpdate:
    """What one frame did to the tracks, enough to publish started/updated/ended events.

    `detections` are the input rows matched to confirmed tracks, in input order, with
    `tracker_id` set; `detection_index[i]` is the input row of `detections[i]` (to join
    faces by their `person_index`). A track id appears in `started` on the frame it is
    given, normally the one that confirms the track (it is also in `detections` then), and
    in `ended` exactly once, when the tracker drops it; it is never reused.
    """

    detections: Detections
    detection_index: IntArray
    started: tuple[int, ...]
    ended: tuple[int, ...]


class ByteTracker:
    """Multi-person tracker for one camera stream. Not thread-safe: one stream, one caller."""

    def __init__(self, config: TrackerConfig | None = None, ids: TrackIds | None = None) -> None:
        """`ids`: where public ids come from; a counter from 1 by default."""
        self._config = config if config is not None else TrackerConfig()
        self._max_time_lost = self._config.max_time_lost
        self._frame_id = 0
        self._ids: TrackIds = ids if ids is not None else SequentialIds()
        self._tracks = TrackTable.empty()

    @property
    def config(self) -> TrackerConfig:
        return self._config

    @property
    def frame_id(self) -> int:
        """Frames processed so far."""
        return self._frame_id

    def update(self, detections: Detections) -> TrackUpdate:
        """Associate one frame's detections with the tracks, in ByteTrack's order:

        1. confident detections against every confirmed track, tracked or lost;
        2. low-score detections against the still tracked ones left over, whose
           unmatched tracks become lost;
        3. leftover confident detections against unconfirmed tracks (born last frame),
           which are dropped if unmatched again;
        4. leftover detections confident enough start tracks;
        5. lost tracks past the buffer end, and duplicate tracked/lost pairs are resolved.
        """
        cfg = self._config
        self._frame_id += 1
        frame = self._frame_id
        tracks = self._tracks
        conf = detections.confidence
        det_boxes = detections.xyxy.astype(np.float64)
        scores = conf.astype(np.float64) if cfg.fuse_score else None
        high = _rows(conf >= cfg.track_high_thresh)
        low = _rows((conf >= cfg.track_low_thresh) & (conf < cfg.track_high_thresh))

        n = len(tracks)
        det_of_track = np.full(n, -1, dtype=np.intp)
        keep = np.ones(n, dtype=np.bool_)
        high_left = high
        if n:
            was_lost = tracks.lost.copy()
            # The original freezes the height velocity of lost tracks before predicting.
            tracks.mean[was_lost, 7] = 0.0
            kalman.predict(tracks.mean, tracks.cov)
            boxes = tracks.boxes()
            pool = _rows(tracks.confirmed)
            unconfirmed = _rows(~tracks.confirmed)

            t1, d1, rest, high_left = _associate(
                pool, high, boxes, det_boxes, scores, cfg.match_thresh
            )
            det_of_track[t1] = d1
            still_tracked = rest[~tracks.lost[rest]]
            t2, d2, newly_lost, _ = _associate(
                still_tracked, low, boxes, det_boxes, None, cfg.second_match_thresh
            )
            det_of_track[t2] = d2
            t3, d3, unmatched_unconfirmed, high_left = _associate(
                unconfirmed, high_left, boxes, det_boxes, scores, cfg.unconfirmed_match_thresh
            )
            det_of_track[t3] = d3

            matched = _rows(det_of_track >= 0)
            if len(matched):
                measurements = kalman.xyxy_to_xyah(det_boxes[det_of_track[matched]])
                tracks.mean[matched], tracks.cov[matched] = kalman.update(
                    tracks.mean[matched], tracks.cov[matched], measurements
                )
                tracks.lost[matched] = False
                tracks.last_frame[matched] = frame
                tracks.confirmed[t3] = True
            tracks.lost[newly_lost] = True
            keep[unmatched_unconfirmed] = False
            # Only tracks lost before this frame expire now, as in the original.
            keep &= ~(was_lost & tracks.lost & (frame - tracks.last_frame > self._max_time_lost))

        born = high_left[conf[high_left] >= cfg.new_track_thresh]
        if not keep.all() or len(born):
            ended = tracks.track_id[~keep]
            tracks = tracks.select(keep)
            det_of_track = det_of_track[keep]
            new = TrackTable.born(kalman.xyxy_to_xyah(det_boxes[born]), frame, frame == 1)
            tracks = tracks.concat(new)
            det_of_track = np.concatenate([det_of_track, born])
        else:
            ended = tracks.track_id[:0]

        duplicates = _duplicates(tracks, cfg.duplicate_thresh)
        if len(duplicates):
            ended = np.concatenate([ended, tracks.track_id[duplicates]])
            keep = np.ones(len(tracks), dtype=np.bool_)
            keep[duplicates] = False
            tracks = tracks.select(keep)
            det_of_track = det_of_track[keep]

        # Only a track matched in this frame gets its id: its started event needs a box.
        fresh = _rows(tracks.confirmed & ~tracks.lost & (tracks.track_id == 0))
        started = np.asarray(self._ids.take(len(fresh)) if len(fresh) else (), dtype=np.int64)
        tracks.track_id[fresh[: len(started)]] = started
        self._tracks = tracks

        output, output_index = _output(detections, tracks, det_of_track)
        return TrackUpdate(
            detections=output,
            detection_index=output_index,
            started=tuple(started.tolist()),
            ended=tuple(int(i) for i in ended if i > 0),
        )

    def clear(self) -> None:
        """Forget every track but keep counting ids, as on a clean shutdown: the caller ends
        the tracks, and ids handed out later never repeat published ones."""
        self._tracks = TrackTable.empty()

    def state_dict(self) -> dict[str, Any]:
        """JSON-serializable checkpoint; `from_state` continues exactly from it."""
        return state.dump(self._frame_id, self._ids.next_id, self._tracks)

    @classmethod
    def from_state(
        cls,
        checkpoint: Mapping[str, Any],
        config: TrackerConfig | None = None,
        ids: TrackIds | None = None,
    ) -> ByteTracker:
        """Tracker resumed from `state_dict()` output; ValueError for a foreign or bad one.
        New ids come from `ids`, else count on from the checkpoint's `next_id`."""
        frame_id, next_id, tracks = state.load(checkpoint)
        tracker = cls(config, ids if ids is not None else SequentialIds(next_id))
        tracker._frame_id, tracker._tracks = frame_id, tracks
        return tracker


def _rows(mask: NDArray[np.bool_]) -> Index:
    """Indices of True entries (np.flatnonzero without its ravel overhead; masks are 1-D)."""
    rows: Index = mask.nonzero()[0]
    return rows


def _associate(
    track_rows: Index,
    det_rows: Index,
    track_boxes: kalman.Array,
    det_boxes: kalman.Array,
    scores: kalman.Array | None,
    thresh: float,
) -> tuple[Index, Index, Index, Index]:
    """(matched tracks, their detections, unmatched tracks, unmatched detections)."""
    if len(track_rows) == 0 or len(det_rows) == 0:
        return _NO_INDEX, _NO_INDEX, track_rows, det_rows
    cost = iou_cost(
        track_boxes[track_rows],
        det_boxes[det_rows],
        None if scores is None else scores[det_rows],
    )
    rows, cols, free_rows, free_cols = linear_assignment(cost, thresh)
    return track_rows[rows], det_rows[cols], track_rows[free_rows], det_rows[free_cols]


def _duplicates(tracks: TrackTable, thresh: float) -> Index:
    """Rows to drop where a tracked and a lost track cover the same person.

    Of each such pair the track followed for fewer frames goes; on a tie the tracked one
    goes, as in the original.
    """
    tracked = _rows(~tracks.lost)
    lost = _rows(tracks.lost)
    if len(tracked) == 0 or len(lost) == 0:
        return _NO_INDEX
    boxes = tracks.boxes()
    overlap = 1.0 - iou_matrix(boxes[tracked], boxes[lost]) < thresh
    p, q = np.nonzero(overlap)
    if len(p) == 0:
        return _NO_INDEX
    age = tracks.last_frame - tracks.start_frame
    tracked_older = age[tracked[p]] > age[lost[q]]
    drop = np.concatenate([lost[q[tracked_older]], tracked[p[~tracked_older]]])
    rows: Index = np.unique(drop)
    return rows


def _output(
    detections: Detections, tracks: TrackTable, det_of_track: Index
) -> tuple[Detections, IntArray]:
    # Confirmed tracks still waiting for an id (track_id 0) are not reported.
    rows = _rows(tracks.confirmed & ~tracks.lost & (tracks.track_id > 0))
    index = det_of_track[rows]
    order = np.argsort(index)
    index = index[order].astype(np.int64)
    ids = tracks.track_id[rows][order]
    return Detections(detections.xyxy[index], detections.confidence[index], ids), index
