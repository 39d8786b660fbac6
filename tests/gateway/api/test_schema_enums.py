"""The GraphQL schema's enums and pages: the enums are the trinetra vocabularies (not
copies), agree with the event schema, and the generic pages keep their type names."""

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
    EventKind,
    TrackEndedEvent,
    TrackStartedEvent,
    TrackUpdatedEvent,
)
from trinetra.vocabulary import CameraState, TrackEventKind
from trinetra.vocabulary import EventKind as EventKindEnum

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
    }


def test_the_vocabularies_agree_with_the_event_schema() -> None:
    """Until the event schema declares its fields with these enums, its Literals must list
    the same values (an event the gateway cannot convert would fail a subscription)."""
    states = get_args(CameraStatusEvent.model_fields["state"].annotation)
    assert set(states) == {member.value for member in CameraState}
    track_kinds = {
        t.model_fields["kind"].default
        for t in (TrackStartedEvent, TrackUpdatedEvent, TrackEndedEvent)
    }
    assert track_kinds == {member.value for member in TrackEventKind}
    all_kinds = {t.model_fields["kind"].default for t in EVENT_TYPES}
    assert set(get_args(EventKind)) == all_kinds == {member.value for member in EventKindEnum}
    assert {member.value for member in TrackEventKind} <= all_kinds


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
