"""Identity events in the one schema: round trips, deterministic ids, subjects, and the
IDENTITY / ALERTS streams (which must not capture the service's request subjects)."""

from __future__ import annotations

import json
import uuid

import nats
import nats.js.errors
import pytest

from identity.events import to_event
from identity.outcomes import (
    Drift,
    FalseMerge,
    Outcome,
    Resolved,
    TrackInfo,
    Unknown,
    Withdrawn,
)
from tests.identity.helpers import at
from trinetra.events.schema import (
    Event,
    alerts_subject,
    decode,
    encode,
    identity_subject,
    subject_for,
)
from trinetra.events.streams import (
    ALERTS_STREAM,
    ALL_STREAMS,
    ANALYTICS_STREAM,
    DEFAULT_STREAMS,
    IDENTITY_STREAM,
    IDENTITY_STREAMS,
    ensure_streams,
)
from trinetra.identity.protocol import OPERATIONS, service_subject

STORE = "blr-01"
VISIT = uuid.UUID("11111111-2222-4333-8444-555555555555")


def track(camera: str = "cam.entrance", track_id: int = 7) -> TrackInfo:
    return TrackInfo(camera, track_id, VISIT, None, at(0), at(2.5))


def outcomes() -> list[Outcome]:
    return [
        Resolved(track(), at(2.5), "cust-1", 0.91234, 4, 5, True),
        Unknown(track(track_id=8), at(3), "no_match", 5, -0.2),
        Withdrawn(track(), at(4), "cust-1", "false_merge"),
        Withdrawn(track(), at(4), None, "erased"),
        FalseMerge(at(4), "checkout", "cust-1", (track(), track("checkout", 3)), 30.0, -1.5),
        Drift(at(5), "cam.entrance", "drifting", 0.81, 0.7, 0.08, 1000),
    ]


@pytest.mark.parametrize("outcome", outcomes(), ids=lambda o: type(o).__name__)
def test_identity_events_round_trip_with_deterministic_ids(outcome: Outcome) -> None:
    event: Event = to_event(outcome, STORE)
    again = to_event(outcome, STORE)
    assert event.event_id == again.event_id  # a retried publish is deduplicated
    payload = encode(event)
    assert decode(payload) == event
    body = json.loads(payload)
    assert not {"embedding", "embeddings", "template", "image", "photo"} & set(body)
    assert len(payload) < 1000


def test_event_details() -> None:
    resolved, unknown, withdrawn, erased, merge, drift = (to_event(o, STORE) for o in outcomes())
    assert subject_for(resolved) == identity_subject(STORE, "cam.entrance")
    assert subject_for(resolved) == "trinetra.blr-01.cam=2Eentrance.identity"
    assert subject_for(merge) == alerts_subject(STORE, "checkout")
    assert subject_for(drift) == "trinetra.blr-01.cam=2Eentrance.alerts"
    body = json.loads(encode(unknown))
    assert body["best_score"] == 0.0 and body["visit_id"] == str(VISIT)
    assert json.loads(encode(resolved))["confidence"] == 0.9123
    assert json.loads(encode(erased))["customer_id"] is None  # erased ids are not repeated
    assert len({e.event_id for e in (resolved, unknown, withdrawn, erased, merge, drift)}) == 6


def test_stream_sets() -> None:
    assert [s.name for s in IDENTITY_STREAMS] == ["IDENTITY", "ALERTS"]
    assert (*DEFAULT_STREAMS, IDENTITY_STREAM, ALERTS_STREAM, ANALYTICS_STREAM) == ALL_STREAMS
    assert len({s.name for s in ALL_STREAMS}) == len(ALL_STREAMS)


async def test_streams_capture_events_but_never_service_requests(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, ALL_STREAMS)
        ack = await js.publish(identity_subject("s 1", "cam.1"), b"{}")
        assert ack.stream == "IDENTITY"
        ack = await js.publish(alerts_subject("s 1", "cam.1"), b"{}")
        assert ack.stream == "ALERTS"
        for operation in OPERATIONS:  # photos and embeddings must never be persisted
            with pytest.raises(nats.js.errors.NoStreamResponseError):
                await js.publish(service_subject("s 1", operation), b"{}", timeout=2)
        assert service_subject("s 1", "enroll") == "trinetra.s=201.identity.enroll"
    finally:
        await nc.close()
