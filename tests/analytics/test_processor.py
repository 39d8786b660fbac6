"""The analytics service's deterministic core (analytics.processor): recorded detections
in, ANALYTICS events out, with track uids, partitions and exact snapshot/restore."""

from __future__ import annotations

import json

import pytest

from analytics.partition import Partition, partition_of
from analytics.processor import PartitionProcessor
from analytics.settings import ServiceEngineSettings
from tests.analytics.scenarios import (
    STORE,
    camera_frames,
    facts,
    store_config,
    store_frames,
    zone_def,
)
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.events.schema import (
    AnalyticsEvent,
    AreaOccupancyEvent,
    DetectedPerson,
    DetectionsEvent,
    LineCrossedEvent,
    VisitEndedEvent,
    ZoneEnteredEvent,
    ZoneExitedEvent,
    make_track_uid,
)

CAMERAS = ["entrance", "aisle", "till", "back"]


def run(
    frames: list[DetectionsEvent],
    config: StoreAnalyticsConfig,
    partition: Partition | None = None,
) -> list[AnalyticsEvent]:
    processor = PartitionProcessor(STORE, config, ServiceEngineSettings(), partition)
    return [event for frame in frames for event in processor.process(frame)]


def test_stays_and_crossings_carry_dwell_direction_and_track_uid() -> None:
    frames = camera_frames("cam-a")
    events = run(frames, store_config(["cam-a"]))
    uids = {p.track_id: p.track_uid for f in frames for p in f.persons}
    exits = {e.track_id: e for e in events if isinstance(e, ZoneExitedEvent)}
    assert set(exits) == {1, 2}
    # A stays from ~3.3 s to ~11 s of the cycle; B walks through in ~2 s.
    assert exits[1].dwell_s == pytest.approx(7.7, abs=0.3)
    assert exits[2].dwell_s == pytest.approx(2.0, abs=0.3)
    assert {e.reason for e in exits.values()} == {"exited"}
    entered = [e for e in events if isinstance(e, ZoneEnteredEvent)]
    assert sorted(e.track_id for e in entered) == [1, 2]
    crossings = [(e.track_id, e.direction) for e in events if isinstance(e, LineCrossedEvent)]
    assert crossings == [(1, "in"), (2, "out"), (1, "out")]
    for event in events:
        if isinstance(event, ZoneEnteredEvent | ZoneExitedEvent | LineCrossedEvent):
            assert event.track_uid == uids[event.track_id]
            assert event.config_version == 1
    visits = [e for e in events if isinstance(e, VisitEndedEvent)]
    assert sorted(v.track_uids[0] for v in visits) == sorted(u for u in uids.values() if u)
    assert all(v.path == ("shelf-cam-a",) and v.end_reason == "track_ended" for v in visits)


def test_the_same_stream_gives_the_same_events() -> None:
    frames = store_frames(CAMERAS[:2], cycles=2)
    first = facts(run(frames, store_config(CAMERAS[:2])))
    assert first == facts(run(frames, store_config(CAMERAS[:2])))
    assert len({event_id for event_id, _ in first}) == len(first)


@pytest.mark.parametrize("cut", [1, 137, 455, 1001, 1599])
def test_restore_mid_stream_continues_exactly(cut: int) -> None:
    cameras = CAMERAS[:2]
    frames = store_frames(cameras, cycles=2)
    expected = facts(run(frames, store_config(cameras)))
    config = store_config(cameras)
    before = PartitionProcessor(STORE, config, ServiceEngineSettings())
    out = [e for f in frames[:cut] for e in before.process(f)]
    after = PartitionProcessor(STORE, config, ServiceEngineSettings())
    assert after.restore(before.snapshot()) == []
    out += [e for f in frames[cut:] for e in after.process(f)]
    assert facts(out) == expected


def test_partitions_split_the_cameras_and_together_equal_one() -> None:
    owners = {c: partition_of(STORE, c, 2) for c in CAMERAS}
    assert set(owners.values()) == {0, 1}, "the test's cameras must cover both partitions"
    frames = store_frames(CAMERAS)
    config = store_config(CAMERAS)
    single = facts(run(frames, config))
    halves = [run(frames, config, Partition(i, 2)) for i in range(2)]
    for index, events in enumerate(halves):
        assert {e.camera_id for e in events} == {c for c, p in owners.items() if p == index}
    union = facts(halves[0]) + facts(halves[1])
    assert sorted(union, key=str) == sorted(single, key=str)


def test_a_reused_track_id_under_a_new_uid_is_a_new_person() -> None:
    # Person A's frames, but halfway through their stay the node restarted and handed
    # the same tracker id to someone else.
    frames = camera_frames("cam-a")
    restart = frames[80].occurred_at
    other = make_track_uid(STORE, "cam-a", 1, restart)
    changed = [
        f.model_copy(
            update={
                "persons": tuple(
                    p.model_copy(update={"track_uid": other})
                    if p.track_id == 1 and f.occurred_at >= restart
                    else p
                    for p in f.persons
                )
            }
        )
        for f in frames
    ]
    events = run(changed, store_config(["cam-a"]))
    exits = [e for e in events if isinstance(e, ZoneExitedEvent) and e.track_id == 1]
    assert [e.track_uid for e in exits] != [exits[0].track_uid] * len(exits)
    assert exits[0].reason == "track_ended"
    assert exits[0].exited_at < restart
    assert exits[-1].track_uid == other


def _area_config(cameras: list[str]) -> StoreAnalyticsConfig:
    zones = [
        zone_def(f"shelf-{c}", c, ((0.6, 0.3), (0.9, 0.3), (0.9, 0.7), (0.6, 0.7))) for c in cameras
    ]
    for zone in zones:
        zone["physical_area"] = "front"
    return StoreAnalyticsConfig.model_validate({"store_id": STORE, "version": 1, "zones": zones})


def test_an_area_split_across_partitions_is_not_reported() -> None:
    pair = ["entrance", "aisle"]  # partitions 0 and 1 of 2
    assert {partition_of(STORE, c, 2) for c in pair} == {0, 1}
    frames = store_frames(pair)
    config = _area_config(pair)
    whole = [e for e in run(frames, config) if isinstance(e, AreaOccupancyEvent)]
    assert whole and {e.camera_id for e in whole} == {"_store"}
    for index in range(2):
        split = run(frames, config, Partition(index, 2))
        assert not [e for e in split if isinstance(e, AreaOccupancyEvent)]
        assert [e for e in split if isinstance(e, ZoneEnteredEvent)]


def test_other_stores_and_untracked_persons_are_ignored() -> None:
    frames = camera_frames("cam-a")
    processor = PartitionProcessor(STORE, store_config(["cam-a"]), ServiceEngineSettings())
    foreign = frames[30].model_copy(update={"store_id": "elsewhere"})
    assert processor.process(foreign) == []
    untracked = frames[30].model_copy(
        update={"persons": (DetectedPerson(box=frames[30].persons[0].box, score=0.9),)}
    )
    processor.process(untracked)
    assert processor.untracked == 1
    assert processor.frames == 1


def test_restore_refuses_another_partitions_state() -> None:
    config = store_config(["cam-a"])
    state = PartitionProcessor(STORE, config, partition=Partition(0, 2)).snapshot()
    with pytest.raises(ValueError, match="partition"):
        PartitionProcessor(STORE, config, partition=Partition(1, 2)).restore(state)
    with pytest.raises(ValueError, match="store"):
        PartitionProcessor("other", config)


def test_a_live_change_carries_its_version() -> None:
    frames = camera_frames("cam-a")
    processor = PartitionProcessor(STORE, store_config(["cam-a"]), ServiceEngineSettings())
    for frame in frames[:60]:  # A is inside the shelf zone by now
        processor.process(frame)
    changed = processor.apply_config(store_config(["cam-a"], version=2, spare_zone=True))
    assert all(e.config_version == 2 for e in changed)
    later = [e for f in frames[60:] for e in processor.process(f)]
    assert later and {e.config_version for e in later} == {2}
    # A's stay began under version 1 and ends under 2 (B had left before the change).
    assert [(e.track_id, e.config_version) for e in later if isinstance(e, ZoneExitedEvent)] == [
        (1, 2)
    ]


def _with_webhook(config: StoreAnalyticsConfig, version: int = 1) -> StoreAnalyticsConfig:
    webhook = {"id": "ops", "url": "https://hooks.example.com/alerts", "secret": "s" * 40}
    return StoreAnalyticsConfig.model_validate(
        config.model_dump(mode="json") | {"version": version, "webhooks": [webhook]}
    )


def test_alert_sections_stay_out_of_the_engine_and_its_snapshots() -> None:
    config = _with_webhook(store_config(["cam-a"]))
    frames = camera_frames("cam-a")
    before = PartitionProcessor(STORE, config, ServiceEngineSettings())
    out = [e for f in frames[:100] for e in before.process(f)]
    state = before.snapshot()
    assert "s" * 40 not in json.dumps(state)
    assert before.config == config  # the whole configuration is still what is in force
    after = PartitionProcessor(STORE, config, ServiceEngineSettings())
    assert after.restore(state) == []
    out += [e for f in frames[100:] for e in after.process(f)]
    assert facts(out) == facts(run(frames, store_config(["cam-a"])))
