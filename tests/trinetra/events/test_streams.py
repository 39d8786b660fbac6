"""Stream definitions are created with their limits, idempotently, and updated in place."""

from __future__ import annotations

import nats
import pytest
from nats.js.api import DiscardPolicy, StorageType

from trinetra.events.schema import detections_subject, status_subject, tracks_subject
from trinetra.events.streams import (
    DEFAULT_STREAMS,
    DETECTIONS_STREAM,
    HOUR,
    ensure_streams,
)

pytestmark = pytest.mark.timeout(60)


def test_every_stream_has_explicit_limits() -> None:
    assert [s.name for s in DEFAULT_STREAMS] == ["DETECTIONS", "TRACKS", "CAMERA_STATUS"]
    for spec in DEFAULT_STREAMS:
        config = spec.config()
        assert config.storage == StorageType.FILE
        assert config.discard == DiscardPolicy.OLD
        assert config.max_age and config.max_age > 0
        assert config.max_bytes and config.max_bytes > 0
        assert config.max_msg_size and config.max_msg_size > 0
        assert config.duplicate_window == 120


async def test_ensure_streams_creates_updates_and_is_idempotent(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        created = await ensure_streams(js)
        assert [i.config.name for i in created] == ["DETECTIONS", "TRACKS", "CAMERA_STATUS"]
        again = await ensure_streams(js)
        assert [i.created for i in again] == [i.created for i in created]

        info = await js.stream_info("CAMERA_STATUS")
        assert info.config.max_msgs_per_subject == 10_000
        assert info.config.allow_direct
        assert info.config.duplicate_window == 120

        # Every subject the schema produces lands in exactly its stream.
        for subject, stream in [
            (detections_subject("s 1", "cam.1"), "DETECTIONS"),
            (tracks_subject("s 1", "cam.1"), "TRACKS"),
            (status_subject("s 1", "cam.1"), "CAMERA_STATUS"),
        ]:
            ack = await js.publish(subject, b"{}")
            assert ack.stream == stream

        changed = DETECTIONS_STREAM.replace(max_age_s=2 * HOUR)
        (updated,) = await ensure_streams(js, [changed])
        assert updated.config.max_age == 2 * HOUR
        assert updated.state.messages == 1  # updated in place, data kept
    finally:
        await nc.close()
