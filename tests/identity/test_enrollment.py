"""Enrolment from photos through the real vision pipeline: one face or a clear refusal,
and nothing image-like ever stored."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from identity.audit import MemoryAuditLog
from identity.config import GalleryConfig
from identity.enrollment import Enroller
from identity.gallery import FaceGallery
from tests.identity.conftest import FaceSet
from tests.identity.helpers import CTX, OBAMA
from tests.support.media import media_bytes
from trinetra.identity.errors import InvalidPhotoError, MultipleFacesError, NoFaceError
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
