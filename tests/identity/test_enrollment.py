"""Enrolment from photos through the real vision pipeline: one face or a clear refusal,
and nothing image-like ever stored; a photo as large as the gateway advertises enrols end
to end (through the IDENTITY_UPLOADS object store, issue 14), one larger gets a clean 413."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import cv2
import nats
import numpy as np
import pytest

from devservices.nats_cluster import LocalNatsCluster, LocalNatsLeaf
from identity.audit import MemoryAuditLog
from identity.config import GalleryConfig
from identity.enrollment import MAX_PHOTO_SIDE, Enroller, fit_photo
from identity.gallery import FaceGallery
from tests.gateway.helpers import STORE, RunningGateway, running_gateway, settings, token
from tests.identity.conftest import FaceSet
from tests.identity.helpers import CTX, OBAMA
from tests.support.media import media_bytes
from tests.support.polling import eventually
from trinetra.events.kv import IDENTITY_UPLOADS_BUCKET
from trinetra.identity.client import IdentityServiceClient
from trinetra.identity.errors import (
    IdentityServiceUnavailableError,
    InvalidPhotoError,
    MultipleFacesError,
    NoFaceError,
)
from trinetra.inference import VisionClient

pytestmark = pytest.mark.timeout(120)

# Long enough that random embedding bytes cannot contain them by chance.
IMAGE_MARKERS = (
    b"\xff\xd8\xff\xe0",  # JPEG start + JFIF segment
    b"\xff\xd8\xff\xe1",  # JPEG start + Exif segment
    b"\xff\xd8\xff\xdb",  # JPEG start + quantization table
    b"\x89PNG\r\n\x1a\n",
    b"JFIF\x00",
    b"Exif\x00\x00",
)


def looks_like_image(data: bytes) -> bool:
    return any(marker in data for marker in IMAGE_MARKERS)


def blank_photo() -> bytes:
    ok, jpeg = cv2.imencode(".jpg", np.full((480, 640, 3), 200, np.uint8))
    assert ok
    return jpeg.tobytes()


async def test_enroll_one_photo_then_refuse_bad_ones(
    vision_client: VisionClient, faces: FaceSet, tmp_path: Path
) -> None:
    with FaceGallery(
        GalleryConfig(path=str(tmp_path / "gallery")), audit_sink=MemoryAuditLog()
    ) as gallery:
        enroller = Enroller(vision_client, gallery)
        entry = await enroller.enroll(OBAMA, media_bytes("obama.jpg"), ctx=CTX, vip=True)
        assert (entry.customer_id, entry.slot, entry.vip) == (OBAMA, 0, True)
        (hit,) = gallery.search(faces.one("obama_partial_face2.jpg"), limit=1, ctx=CTX)
        assert hit.customer_id == OBAMA and hit.score > 0.85

        with pytest.raises(NoFaceError, match="no face"):
            await enroller.enroll("c-blank", blank_photo(), ctx=CTX)
        with pytest.raises(MultipleFacesError, match="6 faces") as many:
            await enroller.enroll("c-group", media_bytes("t1.jpg"), ctx=CTX)
        assert many.value.faces == 6
        with pytest.raises(InvalidPhotoError):
            await enroller.enroll("c-corrupt", b"\xff\xd8\xff this is not a jpeg", ctx=CTX)
        with pytest.raises(InvalidPhotoError, match="empty"):
            await enroller.enroll("c-empty", b"", ctx=CTX)
        # A crop of one person from the group photo is fine.
        crop = await enroller.enroll("c-t1-0", faces.t1_crops[0], ctx=CTX)
        assert crop.slot == 0
        assert gallery.count() == 2  # refused photos stored nothing


async def test_no_raw_face_image_is_ever_persisted(
    vision_client: VisionClient, faces: FaceSet, tmp_path: Path
) -> None:
    folder = tmp_path / "gallery"
    photos = {name: media_bytes(name) for name in ("obama.jpg", "biden.jpg")}
    with FaceGallery(GalleryConfig(path=str(folder)), audit_sink=MemoryAuditLog()) as gallery:
        enroller = Enroller(vision_client, gallery)
        for name, photo in photos.items():
            await enroller.enroll(name.removesuffix(".jpg"), photo, ctx=CTX)
        for i, crop in enumerate(faces.t1_crops):
            await enroller.enroll(f"t1-{i}", crop, ctx=CTX)
        points, _ = gallery.client.scroll(gallery.config.collection, limit=100, with_payload=True)
        assert len(points) == 8
        for point in points:
            payload = point.payload or {}
            assert set(payload) == {
                "customer_id",
                "slot",
                "camera_id",
                "enrolled_at",
                "sequence",
                "vip",
            }
            assert all(len(str(v)) < 64 for v in payload.values())

    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files, "local mode persisted nothing?"
    total = sum(p.stat().st_size for p in files)
    # 8 embeddings of 512 floats plus metadata; one of the photos alone is ~280-350 KB.
    assert total < 200_000
    sources = [*photos.values(), *faces.t1_crops]
    assert all(looks_like_image(source) for source in sources)  # the check can fire
    for path in files:
        data = path.read_bytes()
        assert not looks_like_image(data), f"{path} contains image data"
        for source in sources:
            # No run of the photos' bytes (past their headers) appears anywhere.
            for start in range(len(source) // 4, len(source) - 64, len(source) // 4):
                assert source[start : start + 64] not in data


ENROLL = """mutation($customer: String!, $photo: Upload!, $reason: String!) {
  enrollCustomer(customerId: $customer, photo: $photo, reason: $reason) {
    customerId slot embeddings
  }
}"""
# The multipart request around the photo (boundaries, operations, map) is well under this.
MULTIPART_ROOM = 2048


@functools.cache
def upscaled_photo() -> bytes:
    """obama.jpg upscaled to 6000 px wide (45 MP, beyond the pipeline's 8K frame limit)."""
    image = cv2.imdecode(np.frombuffer(media_bytes("obama.jpg"), np.uint8), cv2.IMREAD_COLOR)
    height = round(6000 * image.shape[0] / image.shape[1])
    big = cv2.resize(image, (6000, height), interpolation=cv2.INTER_LINEAR)
    ok, encoded = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return encoded.tobytes()


def huge_photo(size: int) -> bytes:
    """`upscaled_photo()` padded with JPEG comment segments to exactly `size` bytes:
    still a valid JPEG."""
    jpeg = upscaled_photo()
    missing = size - len(jpeg)
    assert missing >= 4, f"the upscaled photo alone is {len(jpeg)} bytes"
    segments = []
    while missing:
        body = min(65533, missing - 4)  # a segment is FF FE, a 2-byte length, the body
        if 0 < missing - 4 - body < 4:  # leave room for the next segment's header
            body -= 4
        segments.append(b"\xff\xfe" + (body + 2).to_bytes(2, "big") + b"p" * body)
        missing -= 4 + body
    photo = jpeg[:2] + b"".join(segments) + jpeg[2:]
    assert len(photo) == size
    return photo


async def enrol(gateway: RunningGateway, photo: bytes, customer: str) -> Any:
    operations = {
        "query": ENROLL,
        "variables": {"customer": customer, "photo": None, "reason": "signed up at the desk"},
    }
    return await gateway.http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.photo"]})},
        files={"0": ("face.jpg", photo, "image/jpeg")},
        headers={"Authorization": f"Bearer {token('privacy_officer', sub='dpo')}"},
    )


def test_huge_photos_are_downscaled_for_the_models() -> None:
    photo = huge_photo(5_000_000)
    assert cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_COLOR).shape[1] == 6000
    fitted = fit_photo(photo)
    assert isinstance(fitted, bytes)
    image = cv2.imdecode(np.frombuffer(fitted, np.uint8), cv2.IMREAD_COLOR)
    assert max(image.shape[:2]) == MAX_PHOTO_SIDE
    small = media_bytes("obama.jpg")
    assert fit_photo(small) is small  # within the bound: untouched


async def test_a_photo_at_the_advertised_limit_enrols_end_to_end(
    database_url: str, nats_url: str, vision_client: VisionClient, tmp_path: Path
) -> None:
    # test_service imports this module (blank_photo): imported here, not at the top.
    from tests.identity.test_service import running_service, service_config

    gateway_settings = settings(database_url, nats_url)
    limit = gateway_settings.limits.max_upload_bytes
    photo = huge_photo(limit - MULTIPART_ROOM)
    # The service's own limit is the photo the gateway lets through, no more.
    config = service_config(tmp_path, nats_url).model_copy(
        update={"store_id": STORE, "max_photo_bytes": len(photo)}
    )
    async with (
        running_service(config, vision_client) as service,
        running_gateway(gateway_settings) as gateway,
    ):
        response = await enrol(gateway, photo, "cust-large")
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        assert body["data"]["enrollCustomer"] == {
            "customerId": "cust-large",
            "slot": 0,
            "embeddings": 1,
        }
        assert service.gallery.count() == 1

        # Over the service's limit (here lower than the gateway's): refused before the
        # service downloads it, with the same kind of error, and deleted all the same.
        refused = (await enrol(gateway, photo + b"x" * 1000, "cust-big")).json()
        assert refused["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
        assert refused["errors"][0]["message"] == (
            f"photo is {len(photo) + 1000} bytes, more than {len(photo)}"
        )

        # The photos went through the object store and are gone from it.
        nc = await nats.connect(nats_url)
        try:
            info = await nc.jetstream().stream_info(f"OBJ_{IDENTITY_UPLOADS_BUCKET.name}")
        finally:
            await nc.close()
        assert info.state.bytes < 2048  # only the deletion markers are left, no chunk

        # One byte over the advertised limit: refused before anything is sent on.
        over = await enrol(gateway, photo + b"x" * (MULTIPART_ROOM + 1), "cust-over")
        assert over.status_code == 413
        error = over.json()["error"]
        assert error["code"] == "PAYLOAD_TOO_LARGE"
        assert str(limit) in error["message"]
        assert not any(word in over.text.lower() for word in ("nats", "max_payload", "server"))
        assert service.gallery.count() == 1


async def test_a_large_photo_enrols_from_the_hub_through_a_stores_leaf(
    vision_client: VisionClient, tmp_path: Path
) -> None:
    """The scale-out topology: the gateway's client at the hub (JetStream domain "hub"),
    the identity service on the store's leaf node (its own domain). The upload is in the
    hub's bucket, and the request names that domain, so the service finds it there."""
    from tests.identity.test_service import running_service, service_config

    with (
        LocalNatsCluster(tmp_path / "hub") as hub,
        LocalNatsLeaf(tmp_path / "leaf", store_id=STORE, hub_urls=hub.leaf_urls) as leaf,
    ):
        await eventually(leaf.hub_connected, 20, message="leaf linked to the hub")
        config = service_config(tmp_path, leaf.local_url).model_copy(update={"store_id": STORE})
        async with running_service(config, vision_client) as service:
            nc = await nats.connect(servers=hub.urls)
            try:
                client = IdentityServiceClient(nc, store_id=STORE)

                async def reachable() -> bool:  # interest crosses the leaf link
                    try:
                        await client.lookup("nobody", actor="t", reason="probe")
                    except IdentityServiceUnavailableError:
                        return False
                    return True

                await eventually(reachable, 20, message="service reachable from the hub")
                photo = huge_photo(5 * 1024 * 1024)  # over one message (1 MiB)
                result = await client.enroll("cust-hub", photo, actor="t", reason="test")
                assert (result.customer_id, result.embeddings) == ("cust-hub", 1)
                info = await nc.jetstream().stream_info(f"OBJ_{IDENTITY_UPLOADS_BUCKET.name}")
                assert info.state.bytes < 1024  # read across the link, then deleted
            finally:
                await nc.close()
            assert service.gallery.count() == 1
