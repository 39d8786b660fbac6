"""Turns one camera's tracker updates into track events (started, sampled updated, ended)
and keeps what an ended event needs: first/last seen, frames seen, the path walked.

After a crash the journal is rebuilt from the last checkpoint (`load_state`) and the track
events published since (`replay`), so that `end_all` can end every track the dead run left
open (orchestrator/tracking/restart.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from orchestrator.tracking import TrackUpdate
from trinetra.events.schema import (
    BoundingBox,
    Event,
    PathPoint,
    TrackEndedEvent,
    TrackEvent,
    TrackStartedEvent,
    TrackUpdatedEvent,
    make_track_uid,
    path_length,
    summarize_path,
)

# Paths are downsampled in place past this many points, so a person standing in view for
# hours costs bounded memory; the ended event carries at most 64 points anyway.
_MAX_KEPT_POINTS = 512
JOURNAL_VERSION = 1

# Why a track ends early (the tracker's own "lost" aside).
EarlyEnd = Literal["camera_stopped", "shutdown", "node_restart"]


@dataclass
class _Track:
    uid: str
    first_seen: float  # epoch seconds
    last_seen: float
    frames_seen: int = 0
    path: list[tuple[float, float, float]] = field(default_factory=list)  # t, x, y

    def walk(self, at: float, box: BoundingBox) -> None:
        """Add the feet point (bottom centre) of `box`, seen at `at`, to the path."""
        self.path.append((at - self.first_seen, (box.x1 + box.x2) / 2, box.y2))
        if len(self.path) > _MAX_KEPT_POINTS:
            self.path = self.path[::2]


@dataclass(frozen=True)
class FrameContext:
    camera_id: str
    store_id: str
    frame_seq: int
    timestamp: float  # effective timestamp, epoch seconds
    width: int
    height: int


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class TrackJournal:
    def __init__(self, update_every_frames: int = 5) -> None:
        if update_every_frames < 1:
            raise ValueError("update_every_frames must be >= 1")
        self.update_every_frames = update_every_frames
        self._tracks: dict[int, _Track] = {}

    @property
    def active(self) -> int:
        return len(self._tracks)

    def uids(self) -> dict[int, str]:
        """Track id -> track uid of the open tracks."""
        return {track_id: track.uid for track_id, track in self._tracks.items()}

    def record(self, update: TrackUpdate, frame: FrameContext) -> list[Event]:
        events: list[Event] = []
        detections = update.detections
        ids = [] if detections.tracker_id is None else detections.tracker_id.tolist()
        started = set(update.started)
        for row, track_id in enumerate(ids):
            xyxy = detections.xyxy[row].tolist()
            box = BoundingBox.from_pixels(xyxy, frame.width, frame.height)
            score = min(max(float(detections.confidence[row]), 0.0), 1.0)
            track = self._tracks.get(track_id)
            if track is None:
                first = _utc(frame.timestamp)
                uid = make_track_uid(frame.store_id, frame.camera_id, track_id, first)
                track = self._tracks[track_id] = _Track(str(uid), frame.timestamp, frame.timestamp)
            track.last_seen = frame.timestamp
            track.frames_seen += 1
            track.walk(frame.timestamp, box)
            common = {
                "camera_id": frame.camera_id,
                "store_id": frame.store_id,
                "occurred_at": _utc(frame.timestamp),
                "track_id": track_id,
                "track_uid": track.uid,
                "frame_seq": frame.frame_seq,
                "box": box,
                "score": score,
            }
            if track_id in started:
                events.append(TrackStartedEvent(**common))
            elif track.frames_seen % self.update_every_frames == 0:
                events.append(
                    TrackUpdatedEvent(**common, sample_every_frames=self.update_every_frames)
                )
        for track_id in update.ended:
            ended = self.end(track_id, frame, "lost")
            if ended is not None:
                events.append(ended)
        return events

    def end(
        self,
        track_id: int,
        frame: FrameContext,
        reason: Literal["lost"] | EarlyEnd,
    ) -> TrackEndedEvent | None:
        """End a track at `frame`, the frame at which the tracker gave it up."""
        return self._end(track_id, frame.camera_id, frame.store_id, reason, frame.timestamp)

    def _end(
        self,
        track_id: int,
        camera_id: str,
        store_id: str,
        reason: Literal["lost"] | EarlyEnd,
        given_up_at: float | None,
    ) -> TrackEndedEvent | None:
        track = self._tracks.pop(track_id, None)
        if track is None or track.frames_seen == 0:
            return None
        points = [PathPoint(t=max(t, 0.0), x=x, y=y) for t, x, y in track.path]
        summary = summarize_path(points)
        return TrackEndedEvent(
            camera_id=camera_id,
            store_id=store_id,
            # The schema's "when the tracker gave it up", never before the last sighting.
            occurred_at=_utc(max(track.last_seen, given_up_at or track.last_seen)),
            track_id=track_id,
            track_uid=track.uid,
            first_seen_at=_utc(track.first_seen),
            last_seen_at=_utc(track.last_seen),
            duration_s=track.last_seen - track.first_seen,
            frames_seen=track.frames_seen,
            path=summary,
            path_length=path_length(points),
            end_reason=reason,
        )

    def end_all(self, frame: FrameContext, reason: EarlyEnd) -> list[TrackEndedEvent]:
        """End every open track at `frame` (the camera's last analysed frame)."""
        return [
            e
            for tid in list(self._tracks)
            if (e := self._end(tid, frame.camera_id, frame.store_id, reason, frame.timestamp))
            is not None
        ]

    def end_all_on(self, camera_id: str, store_id: str, reason: EarlyEnd) -> list[TrackEndedEvent]:
        """End every open track of `camera_id` with no frame (after a crash there is none):
        stamped at their last sighting, so a restart that runs twice publishes the same
        events again (the same event ids, deduplicated by the bus)."""
        return [
            e
            for tid in list(self._tracks)
            if (e := self._end(tid, camera_id, store_id, reason, None)) is not None
        ]

    def replay(self, events: Iterable[TrackEvent]) -> None:
        """Bring the journal up to date with track events this camera published after its
        state was saved, in publication order: a started track is opened, an update moves
        it on, an ended one is forgotten. Events the saved state already covers are
        skipped, so a replay may begin before the save.

        An update of a track the journal does not know (started before the events replayed
        and after the save, or a save that never came) opens it from that update: ending it
        with an approximate start beats leaving it open for good.
        """
        for event in events:
            at = event.occurred_at.timestamp()
            track = self._tracks.get(event.track_id)
            if track is not None and track.uid != str(event.track_uid):
                track = None  # an id from before ids were reserved: the newer track wins
            if isinstance(event, TrackEndedEvent):
                if track is not None:
                    del self._tracks[event.track_id]
                continue
            if track is None:
                track = self._tracks[event.track_id] = _Track(str(event.track_uid), at, at)
            elif at <= track.last_seen:
                continue  # already in the saved state
            track.last_seen = at
            if isinstance(event, TrackUpdatedEvent):
                # Updates are published when frames_seen reaches a multiple of the
                # sampling interval, so this is exact whenever no update went missing.
                every = event.sample_every_frames
                track.frames_seen = (track.frames_seen // every + 1) * every
            else:
                track.frames_seen = max(track.frames_seen, 1)
            track.walk(at, event.box)

    def state_dict(self) -> dict[str, Any]:
        return {
            "version": JOURNAL_VERSION,
            "tracks": {str(tid): asdict(track) for tid, track in self._tracks.items()},
        }

    def load_state(self, state: dict[str, Any]) -> None:
        if state.get("version") != JOURNAL_VERSION:
            raise ValueError(f"unsupported track journal version {state.get('version')!r}")
        self._tracks = {
            int(tid): _Track(
                uid=t["uid"],
                first_seen=float(t["first_seen"]),
                last_seen=float(t["last_seen"]),
                frames_seen=int(t["frames_seen"]),
                path=[(float(a), float(b), float(c)) for a, b, c in t["path"]],
            )
            for tid, t in state["tracks"].items()
        }
