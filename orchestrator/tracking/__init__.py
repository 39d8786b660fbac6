"""Multi-person tracking: turns per-frame detections into persistent track ids."""

from orchestrator.tracking.byte_tracker import ByteTracker, TrackUpdate
from orchestrator.tracking.config import TrackerConfig

__all__ = ["ByteTracker", "TrackUpdate", "TrackerConfig"]
