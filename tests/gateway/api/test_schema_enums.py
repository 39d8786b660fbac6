"""The GraphQL schema's enums and pages: the enums are the trinetra vocabularies (not
copies), the event schema declares its fields with them, and the generic pages keep
their type names."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import get_args

import pytest
from graphql import GraphQLEnumType, GraphQLNonNull, GraphQLObjectType
from strawberry.types.enum import StrawberryEnumDefinition

from gateway.api.schema import GatewaySchema
from gateway.api.types import CameraStatusUpdate, TrackEvent
from gateway.config import LimitSettings
from gateway.metrics import GatewayMetrics
from trinetra.events.schema import (
    EVENT_TYPES,
    BoundingBox,
    CameraStatusEvent,
    TrackEndedEvent,
    TrackStartedEvent,
    TrackUpdatedEvent,
)
from trinetra.vocabulary import CameraState, EventKind, TrackEventKind

SCHEMA = GatewaySchema(GatewayMetrics(), LimitSettings())
T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def graphql_enums() -> dict[str, GraphQLEnumType]:
    return {
        name: kind
        for name, kind in SCHEMA._schema.type_map.items()
        if isinstance(kind, GraphQLEnumType) and not name.startswith("__")
    }


@pytest.mark.parametrize("vocabulary", [CameraState, TrackEventKind])
def test_the_graphql_enum_is_the_trinetra_vocabulary(vocabulary: type[StrEnum]) -> None:
    definition = SCHEMA.get_type_by_name(vocabulary.__name__)
    assert isinstance(definition, StrawberryEnumDefinition)
    assert definition.wrapped_cls is vocabulary
    # GraphQL values are the member names; the Python values are the wire values.
    enum = graphql_enums()[vocabulary.__name__]
    assert {name: value.value for name, value in enum.values.items()} == {
        member.name: member for member in vocabulary
    }
    for member in vocabulary:
        assert enum.serialize(vocabulary(member.value)) == member.name
        assert enum.parse_value(member.name) is member


def test_every_graphql_enum_comes_from_trinetra() -> None:
    """A hand-written enum in the gateway would be a second copy of some vocabulary."""
    origins = {}
    for name in graphql_enums():
        definition = SCHEMA.get_type_by_name(name)
        assert isinstance(definition, StrawberryEnumDefinition), name
        origins[name] = definition.wrapped_cls.__module__
    assert origins == {
        "CameraState": "trinetra.vocabulary",
        "TrackEventKind": "trinetra.vocabulary",
        # An argument of the API alone (a series' bucket width): nothing stores or sends it.
        "Bucket": "gateway.api.analytics_types",
        # The gateway's own judgement of a component (gateway/health_probes.py, its one
        # place): reported by /health and systemHealth, never stored or sent as an event.
        "HealthStatus": "gateway.health_probes",
    }


def test_the_event_schema_declares_its_fields_with_the_vocabularies() -> None:
    """Every event's `kind` is a member of EventKind, one event type per member, and a
    camera status's state is a CameraState: the schema spells no value again."""
    assert CameraStatusEvent.model_fields["state"].annotation is CameraState
    kinds = [t.model_fields["kind"].default for t in EVENT_TYPES]
    assert all(isinstance(kind, EventKind) for kind in kinds)
    assert sorted(kinds) == sorted(EventKind)
    for event_type in EVENT_TYPES:
        (literal,) = get_args(event_type.model_fields["kind"].annotation)
        assert literal is event_type.model_fields["kind"].default
    track_kinds = {
        t.model_fields["kind"].default
        for t in (TrackStartedEvent, TrackUpdatedEvent, TrackEndedEvent)
    }
    assert track_kinds == {member.value for member in TrackEventKind}


@pytest.mark.parametrize("state", [member.value for member in CameraState])
def test_every_camera_state_converts(state: str) -> None:
    event = CameraStatusEvent.model_validate(
        {"camera_id": "cam-1", "store_id": "s", "occurred_at": T0, "state": state}
    )
    assert CameraStatusUpdate.of(event).state is CameraState(state)


def test_every_track_event_kind_converts() -> None:
    uid = uuid.uuid4()
    box = BoundingBox(x1=0.1, y1=0.1, x2=0.2, y2=0.3)
    common = {"camera_id": "cam-1", "store_id": "s", "track_id": 1, "track_uid": uid}
    events: list[TrackStartedEvent | TrackUpdatedEvent | TrackEndedEvent] = [
        TrackStartedEvent(**common, occurred_at=T0, frame_seq=1, box=box, score=0.9),
        TrackUpdatedEvent(
            **common, occurred_at=T0, frame_seq=2, box=box, score=0.9, sample_every_frames=1
        ),
        TrackEndedEvent(
            **common,
            occurred_at=T0,
            first_seen_at=T0,
            last_seen_at=T0,
            duration_s=0.0,
            frames_seen=1,
        ),
    ]
    assert [TrackEvent.of(e).kind for e in events] == list(TrackEventKind)


@pytest.mark.parametrize(
    ("query", "page", "node"),
    [
        ("detections", "DetectionPage", "Detection"),
        ("tracks", "TrackPage", "Track"),
        ("alerts", "AlertPage", "Alert"),
        ("identities", "IdentityEventPage", "IdentityEvent"),
    ],
)
def test_generic_pages_keep_their_graphql_names(query: str, page: str, node: str) -> None:
    root = SCHEMA._schema.query_type
    assert root is not None
    returned = root.fields[query].type
    assert isinstance(returned, GraphQLNonNull) and isinstance(returned.of_type, GraphQLObjectType)
    assert returned.of_type.name == page
    assert list(returned.of_type.fields) == ["nodes", "pageInfo"]
    assert str(returned.of_type.fields["nodes"].type) == f"[{node}!]!"
    assert str(returned.of_type.fields["pageInfo"].type) == "PageInfo!"
