"""The tracker's checkpoint format: plain JSON types, versioned, validated on the way in.

A restarted process resumes from it (the checkpoint lives in a NATS KV bucket), so a
checkpoint written by another build must either load exactly or be refused loudly; a
half-understood state would hand out ids that collide with already published ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from orchestrator.tracking import kalman
from orchestrator.tracking.track_table import TrackTable

STATE_VERSION = 1

Vector4 = Annotated[list[float], Field(min_length=4, max_length=4)]
Vector8 = Annotated[list[float], Field(min_length=8, max_length=8)]


class TrackRecord(BaseModel):
    """One track; `track_id` is None while it awaits confirmation (or, confirmed, an id)."""

    model_config = ConfigDict(extra="forbid")

    track_id: int | None = Field(ge=1, description="Public id, None before it is given one.")
    confirmed: bool | None = Field(
        default=None,
        description="Matched on two consecutive frames. None (checkpoints written before "
        "ids could run out): confirmed exactly when it has a track_id.",
    )
    lost: bool = Field(description="Unmatched in the latest frame, kept for re-finding.")
    last_frame: int = Field(ge=0, description="Frame of the latest matched detection.")
    start_frame: int = Field(ge=0, description="Frame the track was born.")
    mean: Vector8 = Field(description="Kalman state (cx, cy, a, h and their velocities).")
    position_variance: Vector4 = Field(description="Variance of cx, cy, a, h.")
    position_velocity_covariance: Vector4 = Field(
        description="Covariance of each of cx, cy, a, h with its own velocity."
    )
    velocity_variance: Vector4 = Field(description="Variance of the four velocities.")

    @property
    def is_confirmed(self) -> bool:
        return self.track_id is not None if self.confirmed is None else self.confirmed

    @model_validator(mode="after")
    def _lost_only_if_confirmed(self) -> TrackRecord:
        if self.lost and not self.is_confirmed:
            raise ValueError("an unconfirmed track cannot be lost")
        if self.track_id is not None and not self.is_confirmed:
            raise ValueError("only a confirmed track has a public id")
        return self


class TrackerState(BaseModel):
    """Everything needed to continue a tracker exactly where it stopped."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(description="Format version, STATE_VERSION when written.")
    frame_id: int = Field(ge=0, description="Frames processed so far.")
    next_id: int = Field(ge=1, description="Id the next confirmed track receives.")
    tracks: list[TrackRecord] = Field(description="Tracked, lost and unconfirmed tracks.")

    @model_validator(mode="after")
    def _ids_consistent(self) -> TrackerState:
        ids = [t.track_id for t in self.tracks if t.track_id is not None]
        if len(set(ids)) != len(ids):
            raise ValueError("track ids must be unique")
        if ids and max(ids) >= self.next_id:
            raise ValueError("next_id must exceed every track id, or ids would be reused")
        for t in self.tracks:
            if not t.start_frame <= t.last_frame <= self.frame_id:
                raise ValueError("tracks need start_frame <= last_frame <= frame_id")
        return self


def dump(frame_id: int, next_id: int, tracks: TrackTable) -> dict[str, Any]:
    records = [
        {
            "track_id": int(tid) or None,
            # Written only where track_id does not already say it: a confirmed track
            # still waiting for an id.
            **({"confirmed": True} if confirmed and not tid else {}),
            "lost": lost,
            "last_frame": last,
            "start_frame": start,
            "mean": mean,
            "position_variance": cov[kalman.POS],
            "position_velocity_covariance": cov[kalman.CROSS],
            "velocity_variance": cov[kalman.VEL],
        }
        for tid, confirmed, lost, last, start, mean, cov in zip(
            tracks.track_id.tolist(),
            tracks.confirmed.tolist(),
            tracks.lost.tolist(),
            tracks.last_frame.tolist(),
            tracks.start_frame.tolist(),
            tracks.mean.tolist(),
            tracks.cov.tolist(),
            strict=True,
        )
    ]
    return {"version": STATE_VERSION, "frame_id": frame_id, "next_id": next_id, "tracks": records}


def load(state: Mapping[str, Any]) -> tuple[int, int, TrackTable]:
    """(frame_id, next_id, tracks) from `dump`'s output; ValueError if it is not one."""
    version = state.get("version") if isinstance(state, Mapping) else None
    if version != STATE_VERSION:
        raise ValueError(
            f"unsupported tracker state version {version!r}; this build reads version "
            f"{STATE_VERSION} only"
        )
    parsed = TrackerState.model_validate(state)
    records = parsed.tracks
    n = len(records)
    table = TrackTable(
        mean=np.array([r.mean for r in records], dtype=np.float64).reshape(n, 8),
        cov=np.array(
            [
                [r.position_variance, r.position_velocity_covariance, r.velocity_variance]
                for r in records
            ],
            dtype=np.float64,
        ).reshape(n, 3, 4),
        lost=np.array([r.lost for r in records], dtype=np.bool_),
        confirmed=np.array([r.is_confirmed for r in records], dtype=np.bool_),
        track_id=np.array([r.track_id or 0 for r in records], dtype=np.int64),
        last_frame=np.array([r.last_frame for r in records], dtype=np.int64),
        start_frame=np.array([r.start_frame for r in records], dtype=np.int64),
    )
    return parsed.frame_id, parsed.next_id, table
