"""One partition's analytics, bus format in and out, with no I/O: the deterministic core
of the analytics service (the service adds JetStream, KV and HTTP around it).

    processor = PartitionProcessor("blr-01", config, EngineSettings(), Partition(0, 2))
    events = processor.process(detections_event)   # -> ANALYTICS schema events
    state = processor.snapshot()                    # JSON-able; restore() takes it back

What it adds to the engine:
- Track uids. The engine knows cameras' tracker ids; the bus wants the global
  `track_uid` the detections carry, so the processor remembers it per live track and
  stamps it on every event about the track. A tracker id that comes back under another
  uid (the store node restarted and reused the id) is a new person: the old track is
  ended first, at that frame, so its stays do not absorb the newcomer.
- Ownership. Only the partition's own cameras are processed; a physical area whose
  zones are on cameras of several partitions is not reported here at all (each
  partition would see only part of it), and a warning says so once per configuration.
- Track ends come from the engine's own timeout (`EngineSettings.track_timeout_s` of
  frame time without a sighting; stays are closed at the last sighting, so dwell is
  exact and only the event is late). The TRACKS stream's `track.ended` would be sooner,
  but DETECTIONS and TRACKS are separate streams with no order between them: applying
  an end when it happens to arrive would make results depend on interleaving, and a
  replay could differ from the live run. Detections alone decide, so a replay of the
  same stream gives the same events.
"""

from __future__ import annotations

import logging
import uuid

from analytics.config import EngineSettings
from analytics.engine.engine import StoreAnalytics
from analytics.engine.events import AreaOccupancyChanged, EngineEvent, JsonValue
from analytics.partition import Partition
from analytics.wire import to_wire, tracked_frame, untracked_persons
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.events.schema import AnalyticsEvent, DetectionsEvent

__all__ = ["ENGINE_SECTIONS", "STATE_FORMAT", "PartitionProcessor", "engine_view"]

log = logging.getLogger(__name__)

STATE_FORMAT = 1

# The parts of a store's configuration the engine runs. The rest (alert rules, webhooks:
# analytics/alerts runs them) stays out of the engine and so out of its snapshots, which
# keeps webhook secrets out of ANALYTICS_STATE and a change to an alert rule from
# touching the figures.
ENGINE_SECTIONS = frozenset({"store_id", "version", "camera_ids", "zones", "lines", "funnels"})


def engine_view(config: StoreAnalyticsConfig) -> StoreAnalyticsConfig:
    """`config` with only the ENGINE_SECTIONS."""
    return StoreAnalyticsConfig.model_validate(config.model_dump(include=set(ENGINE_SECTIONS)))


class PartitionProcessor:
    """The engine for one partition's cameras of one store (module docs)."""

    def __init__(
        self,
        store_id: str,
        config: StoreAnalyticsConfig,
        settings: EngineSettings | None = None,
        partition: Partition | None = None,
    ) -> None:
        if config.store_id != store_id:
            raise ValueError(f"configuration is for store {config.store_id}, not {store_id}")
        self.store_id = store_id
        self.partition = partition if partition is not None else Partition()
        self.settings = settings if settings is not None else EngineSettings()
        self._config = config
        self._engine = StoreAnalytics(engine_view(config), self.settings)
        self._uids: dict[str, dict[int, uuid.UUID]] = {}
        self._split_areas: frozenset[str] = frozenset()
        self.frames = 0
        self.untracked = 0
        self._index_config(config)

    @property
    def config(self) -> StoreAnalyticsConfig:
        """The whole configuration in force (the engine runs its ENGINE_SECTIONS)."""
        return self._config

    @property
    def dropped_frames(self) -> int:
        """Frames the engine refused because they were older than their camera's last."""
        return sum(self._engine.camera(c).dropped_frames for c in self._uids)

    def owns(self, camera_id: str) -> bool:
        return self.partition.owns(self.store_id, camera_id)

    # --- inputs -------------------------------------------------------------------

    def process(self, event: DetectionsEvent) -> list[AnalyticsEvent]:
        """The analytics events one detections event causes (none for another store's or
        another partition's camera)."""
        if event.store_id != self.store_id or not self.owns(event.camera_id):
            return []
        camera_id = event.camera_id
        at = event.occurred_at
        uids = self._uids.setdefault(camera_id, {})
        wire: list[AnalyticsEvent] = []
        for person in event.persons:
            track_id, uid = person.track_id, person.track_uid
            if track_id is None or uid is None:
                continue
            known = uids.get(track_id)
            if known is not None and known != uid:
                # Converted now, while the map still names the old track.
                wire += self._to_wire(self._engine.end_track(camera_id, track_id, at))
            uids[track_id] = uid
        self.frames += 1
        self.untracked += untracked_persons(event)
        wire += self._to_wire(self._engine.process(tracked_frame(event)))
        self._forget_ended(camera_id)
        return wire

    def apply_config(self, config: StoreAnalyticsConfig) -> list[AnalyticsEvent]:
        """Switch to a new configuration between two frames (the engine's live change:
        stays in removed zones close, and every event from now on carries its version)."""
        if config.store_id != self.store_id:
            raise ValueError(f"configuration is for store {config.store_id}, not {self.store_id}")
        events = self._engine.apply_config(engine_view(config))
        self._config = config
        self._index_config(config)
        return self._to_wire(events)

    def _index_config(self, config: StoreAnalyticsConfig) -> None:
        members: dict[str, set[str]] = {}
        for zone in config.zones:
            if zone.physical_area is not None:
                members.setdefault(zone.physical_area, set()).add(zone.camera_id)
        split = frozenset(
            area
            for area, cameras in members.items()
            if any(self.owns(c) for c in cameras) and not all(self.owns(c) for c in cameras)
        )
        if split:
            log.warning(
                "physical areas span analytics partitions: their store-level occupancy is "
                "not reported (run one partition, or keep an area's cameras together)",
                extra={"areas": sorted(split), "partition": str(self.partition)},
            )
        self._split_areas = split

    # --- outputs ------------------------------------------------------------------

    def _uid_of(self, camera_id: str, track_id: int) -> uuid.UUID | None:
        return self._uids.get(camera_id, {}).get(track_id)

    def _to_wire(self, events: list[EngineEvent]) -> list[AnalyticsEvent]:
        split = self._split_areas
        return [
            to_wire(e, self.store_id, self._uid_of)
            for e in events
            if not (split and isinstance(e, AreaOccupancyChanged) and e.area in split)
        ]

    def _forget_ended(self, camera_id: str) -> None:
        """Drop the uids of tracks the engine has ended (after their last events used them)."""
        uids = self._uids[camera_id]
        live = self._engine.camera(camera_id).track_ids
        if len(uids) != len(live):
            alive = set(live)
            for track_id in [t for t in uids if t not in alive]:
                del uids[track_id]

    # --- durable state ------------------------------------------------------------

    def snapshot(self) -> dict[str, JsonValue]:
        """Everything needed to continue exactly where this processor is (JSON-able)."""
        return {
            "format": STATE_FORMAT,
            "store_id": self.store_id,
            "partition": [self.partition.index, self.partition.count],
            "engine": self._engine.snapshot(),
            "track_uids": {
                camera: {str(track): str(uid) for track, uid in uids.items()}
                for camera, uids in self._uids.items()
            },
        }

    @staticmethod
    def saved_config(state: dict[str, JsonValue]) -> StoreAnalyticsConfig:
        """The configuration a snapshot was taken under (its ENGINE_SECTIONS)."""
        engine = state.get("engine")
        config = engine.get("config") if isinstance(engine, dict) else None
        if not isinstance(config, dict):
            raise ValueError("malformed analytics state: no configuration")
        return StoreAnalyticsConfig.model_validate(config)

    def restore(self, state: dict[str, JsonValue]) -> list[AnalyticsEvent]:
        """Continue from a snapshot. When this processor's configuration differs from the
        snapshot's (it changed while the service was down), it is applied as a live
        change right after, and the events that produces are returned."""
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"unsupported analytics state format {state.get('format')!r}")
        if state.get("store_id") != self.store_id:
            raise ValueError(f"state is for store {state.get('store_id')!r}, not {self.store_id}")
        if state.get("partition") != [self.partition.index, self.partition.count]:
            raise ValueError(
                f"state is for partition {state.get('partition')}, not {self.partition}"
            )
        engine, uids = state["engine"], state["track_uids"]
        if not isinstance(engine, dict) or not isinstance(uids, dict):
            raise ValueError("malformed analytics state")
        self._uids = {
            camera: {int(track): uuid.UUID(str(uid)) for track, uid in tracks.items()}
            for camera, tracks in uids.items()
            if isinstance(tracks, dict)
        }
        events = self._engine.restore(engine)  # ends under engine_view(self._config)
        self._index_config(self._config)
        return self._to_wire(events)
