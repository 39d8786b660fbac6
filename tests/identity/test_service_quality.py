"""The identity service over a real nats-server with the real pipeline: calibrated
thresholds of the embedder version it runs, measured faces over the wire, contradicted
tracks and visit ids on JetStream, multi-photo enrolment and re-enrolment, erasing a
visit, and refusing another embedder version."""

from __future__ import annotations

from pathlib import Path

import cv2
import nats
import numpy as np
import pytest
from numpy.typing import NDArray

from identity.audit import MemoryAuditLog, read_audit_log
from identity.calibration import CalibrationError
from identity.config import EmbedderConfig, GalleryConfig
from identity.gallery import FaceGallery, GalleryVersionError
from identity.quality import FaceMeasures
from identity.service import IdentityService, pinned_triton
from tests.identity.conftest import FaceSet
from tests.identity.helpers import OBAMA, at, cycle, default_calibration
from tests.identity.test_service import STORE, running_service, service_config
from tests.support.media import media_bytes
from tests.trinetra.events.helpers import events_of, read_stream
from trinetra.events.schema import IdentityResolvedEvent, IdentityUnknownEvent
from trinetra.identity.client import IdentityServiceClient
from trinetra.identity.errors import BadRequestError, LowQualityFaceError
from trinetra.identity.protocol import FaceIn, ObservationIn
from trinetra.inference import VisionClient

pytestmark = pytest.mark.timeout(120)


def wire(
    camera: str,
    track: int,
    t: float,
    embedding: NDArray[np.float32],
    measures: FaceMeasures,
    version: str | None = None,
) -> ObservationIn:
    return ObservationIn(
        camera_id=camera,
        track_id=track,
        at=at(t),
        embeddings=[embedding.tolist()],
        face=FaceIn(box=measures.box, score=measures.score, landmarks=measures.landmarks),
        embedder_version=version,
    )


def tiny(photo: str, scale: float) -> bytes:
    image = cv2.imdecode(np.frombuffer(media_bytes(photo), np.uint8), cv2.IMREAD_COLOR)
    ok, jpeg = cv2.imencode(".jpg", cv2.resize(image, None, fx=scale, fy=scale))
    assert ok
    return jpeg.tobytes()


async def test_the_service_runs_its_embedders_calibration_and_reports_visits_and_contradictions(
    nats_url: str, vision_client: VisionClient, faces: FaceSet, tmp_path: Path
) -> None:
    config = service_config(tmp_path, nats_url)
    calibration = default_calibration()
    async with running_service(config, vision_client) as service:
        assert service.identity_config.match.threshold == calibration.match_threshold
        assert service.engine.embedder_version == "1"
        assert (
            FaceGallery(GalleryConfig(path=":memory:"), audit_sink=MemoryAuditLog()).embedder()
            is None
        )  # a fresh gallery records nothing until a service opens it
        assert service.gallery.embedder() == ("face_embedder", 1)
        await service.enroll(OBAMA, media_bytes("obama.jpg"), actor="t", reason="test")
        nc = await nats.connect(nats_url)
        try:
            client = IdentityServiceClient(nc, store_id=STORE)
            obama = [
                (faces.embeddings[n][0], faces.measures[n][0])
                for n in ("obama_partial_face.jpg", "obama_partial_face2.jpg")
            ]
            biden = (faces.one("biden.jpg"), faces.measures["biden.jpg"][0])
            # 1. Biden's track alternating with Obama's (enrolled) face: contradicted.
            alternating = [biden if i % 2 == 0 else obama[0] for i in range(10)]
            result = await client.observe(
                [wire("entrance", 1, 0.2 * i, e, m) for i, (e, m) in enumerate(alternating)]
            )
            assert [d.status for d in result.decisions][1:] == ["contradicted"] * 9
            # 2. Obama himself, version-pinned: resolved, with a linked visit.
            mine = await client.observe(
                [
                    wire("checkout", 2, 60 + 0.2 * i, e, m, "1")
                    for i, (e, m) in enumerate(cycle(obama, 6))
                ]
            )
            assert mine.decisions[-1].customer_id == OBAMA
            assert mine.decisions[-1].visit_scope == "linked"
            visit = mine.decisions[-1].visit_id
            assert service.engine.visit_templates(visit) == 2  # the visit's, the track's
            erased = await client.erase_visit(visit, actor="privacy:ann", reason="visitor asked")
            assert (erased.found, erased.templates_removed, erased.tracks) == (True, 2, 1)
            assert service.engine.visit_templates(visit) == 0
            # 3. Another embedder version: refused.
            other = await client.observe(
                [
                    wire("aisle", 3, 120 + 0.2 * i, e, m, "2")
                    for i, (e, m) in enumerate(cycle(obama, 6))
                ]
            )
            assert {d.vote_reason for d in other.decisions} == {"wrong_model"}
            # 4. A face too small to be evidence.
            small = faces.far_partial, faces.far_partial_measures
            tiny_face = await client.observe(
                [wire("aisle", 4, 130 + 0.2 * i, *small) for i in range(6)]
            )
            assert {d.vote_reason for d in tiny_face.decisions} == {"low_quality"}
        finally:
            await nc.close()
        assert await service.publisher.flush(timeout_s=10)

    identity = events_of(await read_stream(nats_url, "IDENTITY"))
    contradicted = [
        e for e in identity if isinstance(e, IdentityUnknownEvent) and e.reason == "contradicted"
    ]
    assert [(e.track_id, e.contradiction) for e in contradicted] == [(1, "face_changed")]
    assert not [e for e in identity if isinstance(e, IdentityResolvedEvent) and e.track_id == 1]
    (resolved,) = [e for e in identity if isinstance(e, IdentityResolvedEvent)]
    assert (resolved.visit_id, resolved.visit_scope) == (visit, "linked")
    records = read_audit_log(tmp_path / "audit.jsonl")
    (erasure,) = [r for r in records if r.action == "erase_visit"]
    assert erasure.customer_id is None and erasure.details["visit_id"] == str(visit)
    assert erasure.actor == "privacy:ann"


async def test_enrolment_takes_up_to_three_photos_refuses_bad_ones_and_re_enrols(
    nats_url: str, vision_client: VisionClient, tmp_path: Path
) -> None:
    config = service_config(tmp_path, nats_url)
    async with running_service(config, vision_client):
        nc = await nats.connect(nats_url)
        try:
            client = IdentityServiceClient(nc, store_id=STORE)
            actor, reason = "gateway:alice", "loyalty signup"
            small = tiny("obama_partial_face.jpg", 0.18)  # his face ~34 px
            first = await client.enroll(
                OBAMA,
                [media_bytes("obama.jpg"), small, media_bytes("obama2.jpg")],
                actor=actor,
                reason=reason,
            )
            assert (first.slots, first.embeddings, first.replaced) == ([0, 1], 2, 0)
            (refusal,) = first.refused
            assert (refusal.index, refusal.code) == (1, "low_quality_face")
            assert "smaller than the 40 px required" in refusal.message
            with pytest.raises(LowQualityFaceError):
                await client.enroll(
                    "c-small", small, actor=actor, reason=reason
                )  # nothing usable: refused
            with pytest.raises(BadRequestError, match="at most 3"):
                await client.enroll(
                    "c-many", [tiny("obama.jpg", 0.4)] * 4, actor=actor, reason=reason
                )
            again = await client.enroll(
                OBAMA, media_bytes("obama3.jpg"), replace=True, actor=actor, reason=reason
            )
            assert (again.replaced, again.embeddings, again.slots) == (2, 1, [0])
            found = await client.lookup(OBAMA, actor=actor, reason=reason)
            assert [e.slot for e in found.embeddings] == [0]
        finally:
            await nc.close()


async def test_another_embedder_version_is_refused_at_start(
    nats_url: str, vision_client: VisionClient, tmp_path: Path
) -> None:
    config = service_config(tmp_path, nats_url)
    with FaceGallery(config.identity.gallery, audit_sink=MemoryAuditLog()) as gallery:
        gallery.ensure_embedder("face_embedder", 2)  # a gallery enrolled with version 2
    with pytest.raises(GalleryVersionError, match="version 2"):
        IdentityService(config, analyzer=vision_client)
    # A version without a calibration file cannot start either.
    seven = config.identity.model_copy(update={"embedder": EmbedderConfig(version=7)})
    with pytest.raises(CalibrationError, match="no calibration"):
        IdentityService(config.model_copy(update={"identity": seven}), analyzer=vision_client)
    # The service pins its own pipeline calls to its version, and refuses a contradiction.
    assert pinned_triton(config).model_versions == {"face_embedder": 1}
    clash = config.model_copy(
        update={"triton": config.triton.model_copy(update={"model_versions": {"face_embedder": 2}})}
    )
    with pytest.raises(ValueError, match="pins face_embedder to 2"):
        pinned_triton(clash)
