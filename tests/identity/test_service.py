"""The identity service over a real nats-server: request/reply from a separate client,
events into JetStream, the encrypted registry snapshot and restarts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import nats
import numpy as np
import pytest
from numpy.typing import NDArray

from identity.audit import read_audit_log
from identity.config import (
    AuditConfig,
    GalleryConfig,
    IdentityConfig,
    RegistryConfig,
    ServiceConfig,
)
from identity.crypto import (
    EMBEDDING_KEY_ENV,
    DecryptionError,
    EmbeddingCipher,
    MissingEmbeddingKeyError,
)
from identity.gate import Observation
from identity.service import IdentityService
from tests.identity.conftest import FaceSet
from tests.identity.helpers import OBAMA, OBAMA_OTHERS, TOPOLOGY, at, cycle
from tests.identity.test_enrollment import blank_photo
from tests.support.media import media_bytes
from tests.trinetra.events.helpers import events_of, read_stream
from trinetra.events.connection import NatsConnection
from trinetra.events.publisher import EventPublisher
from trinetra.events.schema import (
    FalseMergeAlertEvent,
    IdentityResolvedEvent,
    IdentityUnknownEvent,
    IdentityWithdrawnEvent,
)
from trinetra.events.streams import IDENTITY_STREAMS
from trinetra.identity.client import IdentityServiceClient, IdentityServiceError
from trinetra.identity.errors import InvalidCustomerIdError, MultipleFacesError, NoFaceError
from trinetra.identity.protocol import ObservationIn, TrackEndIn, service_subject
from trinetra.inference import VisionClient
from trinetra.vocabulary import EventKind

pytestmark = pytest.mark.timeout(120)

STORE = "blr-01"


def service_config(tmp_path: Path, nats_url: str, *, snapshot: bool = False) -> ServiceConfig:
    identity = IdentityConfig(
        gallery=GalleryConfig(path=str(tmp_path / "gallery")),
        topology=TOPOLOGY,
        audit=AuditConfig(path=tmp_path / "audit.jsonl"),
        registry=RegistryConfig(snapshot_path=tmp_path / "registry.bin" if snapshot else None),
    )
    return ServiceConfig(store_id=STORE, nats_servers=(nats_url,), identity=identity)


@asynccontextmanager
async def running_service(
    config: ServiceConfig, vision: VisionClient, environ: Mapping[str, str] | None = None
) -> AsyncIterator[IdentityService]:
    connection = NatsConnection(config.nats_servers[0], reconnect_time_wait_s=0.05)
    publisher = EventPublisher(
        connection, streams=IDENTITY_STREAMS, ack_timeout_s=1.0, retry_backoff_s=(0.02, 0.2)
    )
    service = IdentityService(
        config, analyzer=vision, connection=connection, publisher=publisher, environ=environ
    )
    try:
        await service.start()
        assert await service.wait_ready(10)
        yield service
    finally:
        await service.close()
        await publisher.close(timeout_s=2.0)
        await connection.close()


def wire(camera: str, track: int, t: float, embedding: NDArray[np.float32]) -> ObservationIn:
    return ObservationIn(
        camera_id=camera, track_id=track, at=at(t), embeddings=[embedding.tolist()]
    )


def observations(
    camera: str, track: int, embeddings: Sequence[NDArray[np.float32]], start: float
) -> list[Observation]:
    return [Observation(camera, track, at(start + 0.2 * i), (e,)) for i, e in enumerate(embeddings)]


async def test_enroll_lookup_observe_erase_from_a_separate_client(
    nats_url: str, vision_client: VisionClient, faces: FaceSet, tmp_path: Path
) -> None:
    config = service_config(tmp_path, nats_url)
    async with running_service(config, vision_client):
        nc = await nats.connect(nats_url)
        try:
            client = IdentityServiceClient(nc, store_id=STORE)
            kw = {"actor": "gateway:alice", "reason": "loyalty signup"}
            enrolled = await client.enroll(
                OBAMA, media_bytes("obama.jpg"), vip=True, actor=kw["actor"], reason=kw["reason"]
            )
            assert (enrolled.customer_id, enrolled.slot, enrolled.embeddings) == (OBAMA, 0, 1)
            found = await client.lookup(OBAMA, **kw)
            assert found.enrolled and [e.slot for e in found.embeddings] == [0]
            assert found.embeddings[0].vip and not found.active

            # Refusals are typed errors, and the service keeps serving.
            with pytest.raises(NoFaceError):
                await client.enroll("c-blank", blank_photo(), actor="a", reason="r")
            with pytest.raises(MultipleFacesError, match="6 faces"):
                await client.enroll("c-group", media_bytes("t1.jpg"), actor="a", reason="r")
            with pytest.raises(InvalidCustomerIdError):
                await client.lookup("bad\nid", **kw)
            raw = await nc.request(service_subject(STORE, "lookup"), b"{not json", timeout=10)
            assert json.loads(raw.data) == {
                "ok": False,
                "error": {
                    "code": "bad_request",
                    "message": json.loads(raw.data)["error"]["message"],
                },
            }
            raw = await nc.request(
                service_subject(STORE, "erase"), b'{"customer_id": "x"}', timeout=10
            )
            assert json.loads(raw.data)["error"]["code"] == "bad_request"  # actor/reason required

            embeddings = cycle([faces.one(n) for n in OBAMA_OTHERS], 6)
            result = await client.observe(
                [wire("entrance", 1, i * 0.2, e) for i, e in enumerate(embeddings)]
            )
            assert [d.status for d in result.decisions][3:5] == ["pending", "resolved"]
            assert result.decisions[-1].customer_id == OBAMA
            assert (await client.lookup(OBAMA, **kw)).active

            erased = await client.erase(
                OBAMA, actor="gateway:bob", reason="customer asked to be forgotten"
            )
            assert (erased.embeddings_removed, erased.was_active, erased.tracks_withdrawn) == (
                1,
                True,
                1,
            )
            gone = await client.lookup(OBAMA, **kw)
            assert not gone.enrolled and not gone.active and gone.embeddings == []
            again = await client.observe(
                [wire("checkout", 4, 60 + i * 0.2, e) for i, e in enumerate(embeddings)],
                ended=[TrackEndIn(camera_id="entrance", track_id=1)],
            )
            assert all(d.customer_id is None for d in again.decisions)
            assert again.decisions[-1].status == "unknown"
        finally:
            await nc.close()

    audit = read_audit_log(tmp_path / "audit.jsonl")
    by_action = {(r.action, r.actor) for r in audit}
    assert {("enroll", "gateway:alice"), ("lookup", "gateway:alice")} <= by_action
    assert ("erase", "gateway:bob") in by_action
    assert ("search", "identity-service") in by_action
    erase = next(r for r in audit if r.action == "erase")
    assert erase.customer_id == OBAMA and erase.reason == "customer asked to be forgotten"


async def test_client_reports_a_missing_service(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        client = IdentityServiceClient(nc, store_id="nowhere", timeout_s=2)
        with pytest.raises(IdentityServiceError, match="no identity service"):
            await client.lookup("c1", actor="a", reason="b")
    finally:
        await nc.close()


async def test_gate_and_false_merge_events_reach_jetstream(
    nats_url: str, vision_client: VisionClient, faces: FaceSet, tmp_path: Path
) -> None:
    config = service_config(tmp_path, nats_url)
    async with running_service(config, vision_client) as service:
        await service.enroll(OBAMA, media_bytes("obama.jpg"), actor="t", reason="test")
        partials = [faces.one("obama_partial_face.jpg"), faces.one("obama_partial_face2.jpg")]
        # Planted false merge: the same face at the entrance and the checkout at once.
        for i, embedding in enumerate(cycle(partials, 8)):
            await service.observe(
                [
                    Observation("entrance", 1, at(i * 0.2), (embedding,)),
                    Observation("checkout", 2, at(i * 0.2 + 0.05), (embedding,)),
                ]
            )
        # Planted impossible transition: resolved at the entrance, at the checkout 5 s later.
        await service.observe(observations("entrance", 3, cycle(partials, 5), start=100.0))
        gated = await service.observe(observations("checkout", 4, cycle(partials, 5), start=105.0))
        assert all(d.vote_reason == "gate_rejected" for d in gated)
        assert service.metrics.registry.get_sample_value(
            "trinetra_spatiotemporal_gate_rejections_total", {"reason": "impossible_transition"}
        ) == pytest.approx(1 + 5)  # the checkout track's 5th observation above, then 5
        assert await service.publisher.flush(timeout_s=10)

    alerts = events_of(await read_stream(nats_url, "ALERTS"))
    (merge,) = alerts
    assert isinstance(merge, FalseMergeAlertEvent)
    assert merge.customer_id == OBAMA and merge.store_id == STORE
    assert {(t.camera_id, t.track_id) for t in merge.tracks} == {("entrance", 1), ("checkout", 2)}

    messages = await read_stream(nats_url, "IDENTITY")
    identity = events_of(messages)
    summary = [
        (
            e.kind,
            e.camera_id,
            e.track_id,
            e.customer_id if not isinstance(e, IdentityUnknownEvent) else None,
        )
        for e in identity
        if isinstance(e, IdentityResolvedEvent | IdentityUnknownEvent | IdentityWithdrawnEvent)
    ]
    assert len(summary) == len(identity)
    assert ("identity.resolved", "entrance", 1, OBAMA) in summary
    assert ("identity.withdrawn", "entrance", 1, OBAMA) in summary
    assert ("identity.resolved", "entrance", 3, OBAMA) in summary
    assert not any(s[0] is EventKind.IDENTITY_RESOLVED and s[2] in (2, 4) for s in summary)
    unknown = [e for e in identity if isinstance(e, IdentityUnknownEvent)]
    # The merged tracks end as unknown visitors (forgotten after 30 s unseen), and the
    # gated one is unknown as soon as its window fills.
    assert [(e.camera_id, e.track_id, e.reason) for e in unknown] == [
        ("entrance", 1, "no_match"),
        ("checkout", 2, "no_match"),
        ("checkout", 4, "no_match"),
    ]
    withdrawn = next(e for e in identity if isinstance(e, IdentityWithdrawnEvent))
    assert withdrawn.reason == "false_merge"
    resolved = next(e for e in identity if isinstance(e, IdentityResolvedEvent))
    assert resolved.visit_id == withdrawn.visit_id  # one visit, one pseudonymous id
    assert {m.subject for m in messages} == {
        "trinetra.blr-01.entrance.identity",
        "trinetra.blr-01.checkout.identity",
    }
    for message in messages:  # no embedding (or anything like one) on the bus
        assert len(message.data) < 1500
        assert "embedding" not in json.loads(message.data)


async def test_snapshot_is_encrypted_needs_the_key_and_survives_restart(
    nats_url: str, vision_client: VisionClient, faces: FaceSet, tmp_path: Path
) -> None:
    config = service_config(tmp_path, nats_url, snapshot=True)
    with pytest.raises(MissingEmbeddingKeyError, match=EMBEDDING_KEY_ENV):
        IdentityService(config, analyzer=vision_client, environ={})
    assert not (tmp_path / "gallery").exists()  # refused before opening anything

    key = EmbeddingCipher.generate_key()
    environ = {EMBEDDING_KEY_ENV: key}
    embeddings = cycle([faces.one(n) for n in OBAMA_OTHERS], 6)
    async with running_service(config, vision_client, environ) as service:
        await service.enroll(OBAMA, media_bytes("obama.jpg"), actor="t", reason="test")
        await service.enroll("biden", media_bytes("biden.jpg"), actor="t", reason="test")
        decisions = await service.observe(observations("entrance", 1, embeddings, start=0.0))
        assert decisions[-1].customer_id == OBAMA
        assert service.engine.registry.get(OBAMA) is not None

    snapshot = tmp_path / "registry.bin"
    data = snapshot.read_bytes()
    assert OBAMA.encode() not in data and b"template" not in data
    state = EmbeddingCipher(key).read_file(snapshot)
    assert [i["customer_id"] for i in state["identities"]] == [OBAMA]
    assert state["identities"][0]["template"] is not None  # an embedding: hence encrypted

    async with running_service(config, vision_client, environ) as restarted:
        # Same gallery folder, same key: enrolments and the active registry are back.
        found = await restarted.lookup(OBAMA, actor="t", reason="test")
        assert found.enrolled and found.active
        # The gate still knows he was at the entrance: the checkout 5 s later is refused.
        gated = await restarted.observe(observations("checkout", 2, embeddings[:2], start=1.5))
        assert gated[0].vote_reason == "gate_rejected"
        await restarted.erase(OBAMA, actor="t", reason="forget me")
        state = EmbeddingCipher(key).read_file(snapshot)
        assert [i["customer_id"] for i in state["identities"]] == []  # rewritten at once
        assert (await restarted.lookup("biden", actor="t", reason="test")).enrolled

    with pytest.raises(DecryptionError, match="cannot be decrypted"):
        IdentityService(
            config,
            analyzer=vision_client,
            environ={EMBEDDING_KEY_ENV: EmbeddingCipher.generate_key()},
        )
