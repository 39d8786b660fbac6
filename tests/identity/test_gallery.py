"""The Qdrant gallery in local mode: slots, deterministic ids, erase, persistence, the
single-owner lock, auditing and encrypted backups. Real face embeddings."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from identity.audit import AuditContext, JsonlAuditLog, MemoryAuditLog
from identity.config import GalleryConfig
from identity.crypto import DecryptionError, EmbeddingCipher
from identity.gallery import (
    GALLERY_NAMESPACE,
    FaceGallery,
    GalleryLockedError,
    point_id,
)
from tests.identity.conftest import FaceSet
from tests.identity.helpers import CTX, OBAMA, OBAMA_OTHERS, T0
from trinetra.identity.errors import InvalidCustomerIdError

pytestmark = pytest.mark.timeout(60)


def local(path: Path, audit: MemoryAuditLog | JsonlAuditLog | None = None) -> FaceGallery:
    return FaceGallery(GalleryConfig(path=str(path)), audit_sink=audit or MemoryAuditLog())


def test_three_slots_newest_replaces_oldest(faces: FaceSet, tmp_path: Path) -> None:
    photos = ["obama.jpg", *OBAMA_OTHERS]
    with local(tmp_path / "g") as gallery:
        entries = [
            gallery.add(OBAMA, faces.one(p), ctx=CTX, camera_id=f"cam-{i}", at=T0)
            for i, p in enumerate(photos)
        ]
        assert [e.slot for e in entries] == [0, 1, 2, 0, 1]  # 4th and 5th rotate
        assert [e.sequence for e in entries] == [1, 2, 3, 4, 5]
        stored = gallery.lookup(OBAMA, ctx=CTX)
        assert [(e.slot, e.sequence, e.camera_id) for e in stored] == [
            (0, 4, "cam-3"),
            (1, 5, "cam-4"),
            (2, 3, "cam-2"),
        ]
        assert gallery.count() == 3
        assert stored[0].point_id == str(uuid.uuid5(GALLERY_NAMESPACE, f"{OBAMA}|0"))
        assert stored[0].point_id == point_id(OBAMA, 0)
        # The first photo was replaced: it is no longer stored verbatim.
        (best,) = gallery.search(faces.one("obama.jpg"), limit=1, ctx=CTX)
        assert best.customer_id == OBAMA and best.score < 0.99
        # One customer, one result, at their best slot.
        (hit,) = gallery.search(faces.one(OBAMA_OTHERS[3]), limit=5, ctx=CTX)
        assert hit.slot == 1 and hit.score == pytest.approx(1.0, abs=1e-4)
        with pytest.raises(InvalidCustomerIdError):
            gallery.add(" spaced ", faces.one("biden.jpg"), ctx=CTX, camera_id="x")


def test_vip_flag_applies_to_every_slot(faces: FaceSet, tmp_path: Path) -> None:
    with local(tmp_path / "g") as gallery:
        gallery.add("c1", faces.one("obama.jpg"), ctx=CTX, camera_id="e")
        gallery.add("c1", faces.one("obama2.jpg"), ctx=CTX, camera_id="e", vip=True)
        assert [e.vip for e in gallery.lookup("c1", ctx=CTX)] == [True, True]
        assert gallery.search(faces.one("obama.jpg"), limit=1, ctx=CTX)[0].vip


def test_erase_removes_only_that_customer(faces: FaceSet, tmp_path: Path) -> None:
    with local(tmp_path / "g") as gallery:
        for p in ("obama.jpg", "obama2.jpg", "obama3.jpg"):
            gallery.add(OBAMA, faces.one(p), ctx=CTX, camera_id="e")
        gallery.add("biden", faces.one("biden.jpg"), ctx=CTX, camera_id="e")
        assert gallery.erase(OBAMA, ctx=CTX) == 3
        assert gallery.lookup(OBAMA, ctx=CTX) == [] and gallery.count() == 1
        hits = gallery.search(faces.one("obama.jpg"), limit=5, ctx=CTX)
        assert [h.customer_id for h in hits] == ["biden"]
        assert gallery.erase(OBAMA, ctx=CTX) == 0  # idempotent


def test_a_local_gallery_past_its_size_warns_once_per_crossing(
    faces: FaceSet, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = GalleryConfig(path=str(tmp_path / "g"), local_mode_max_embeddings=3)
    warned = "local-mode gallery past its size"
    with FaceGallery(config, audit_sink=MemoryAuditLog()) as gallery:
        for p in ("obama.jpg", "obama2.jpg", "obama3.jpg"):
            gallery.add(OBAMA, faces.one(p), ctx=CTX, camera_id="e")
        assert warned not in caplog.text  # at the size: fine
        gallery.add("biden", faces.one("biden.jpg"), ctx=CTX, camera_id="e")
        gallery.add("biden", faces.one("biden.jpg"), ctx=CTX, camera_id="f")
        [record] = [r for r in caplog.records if warned in r.getMessage()]
        assert record.levelname == "WARNING" and record.__dict__["embeddings"] == 4
        gallery.erase(OBAMA, ctx=CTX)  # back under: the next crossing warns again
        for p in ("obama.jpg", "obama2.jpg"):
            gallery.add(OBAMA, faces.one(p), ctx=CTX, camera_id="e")
        assert sum(warned in r.getMessage() for r in caplog.records) == 2
    # A gallery opened past its size says so at once.
    caplog.clear()
    with FaceGallery(config, audit_sink=MemoryAuditLog()):
        assert warned in caplog.text


def test_a_persisted_gallery_keeps_identities_and_has_one_owner(
    faces: FaceSet, tmp_path: Path
) -> None:
    path = tmp_path / "gallery"
    first = local(path)
    first.add(OBAMA, faces.one("obama.jpg"), ctx=CTX, camera_id="enrollment", vip=True)
    with pytest.raises(GalleryLockedError, match="one client per folder"):
        local(path)
    first.close()

    with local(path) as reopened:  # a restart
        (entry,) = reopened.lookup(OBAMA, ctx=CTX)
        assert entry.vip and entry.camera_id == "enrollment"
        (hit,) = reopened.search(faces.one("obama_partial_face.jpg"), limit=3, ctx=CTX)
        assert hit.customer_id == OBAMA and hit.score > 0.85
        vector = reopened.read_vector(OBAMA, 0, ctx=CTX)
        assert vector is not None
        assert float(vector @ faces.one("obama.jpg")) == pytest.approx(1.0, abs=1e-5)


def test_every_gallery_access_is_audited(faces: FaceSet, tmp_path: Path) -> None:
    log = JsonlAuditLog(tmp_path / "audit.jsonl")
    cipher = EmbeddingCipher(EmbeddingCipher.generate_key())
    alice = AuditContext("gateway:alice", "customer signed up at the till")
    gate = AuditContext("identity-gate", "identity gating of a track observation")
    with local(tmp_path / "g", log) as gallery:
        gallery.add(OBAMA, faces.one("obama.jpg"), ctx=alice, camera_id="enrollment")
        gallery.search(faces.one("obama2.jpg"), limit=3, ctx=gate)
        gallery.lookup(OBAMA, ctx=alice)
        gallery.read_vector(OBAMA, 0, ctx=gate)
        gallery.export_encrypted(tmp_path / "backup.bin", cipher, ctx=alice)
        gallery.erase(OBAMA, ctx=AuditContext("gateway:bob", "customer asked to be forgotten"))
    records = log.records()
    assert [(r.actor, r.action, r.customer_id) for r in records] == [
        ("gateway:alice", "enroll", OBAMA),
        ("identity-gate", "search", None),
        ("gateway:alice", "lookup", OBAMA),
        ("identity-gate", "read_vector", OBAMA),
        ("gateway:alice", "export", None),
        ("gateway:bob", "erase", OBAMA),
    ]
    assert records[1].details["candidates"] == [OBAMA]
    assert records[-1].reason == "customer asked to be forgotten"
    assert records[-1].details["removed"] == 1
    text = (tmp_path / "audit.jsonl").read_text()
    assert len(text) < 3000  # metadata only: no vector was written to the audit log


def test_encrypted_backup_round_trips(faces: FaceSet, tmp_path: Path) -> None:
    cipher = EmbeddingCipher(EmbeddingCipher.generate_key())
    backup = tmp_path / "backup.bin"
    with local(tmp_path / "a") as gallery:
        gallery.add(OBAMA, faces.one("obama.jpg"), ctx=CTX, camera_id="e")
        gallery.add("biden", faces.one("biden.jpg"), ctx=CTX, camera_id="e")
        assert gallery.export_encrypted(backup, cipher, ctx=CTX) == 2
    raw = backup.read_bytes()
    assert OBAMA.encode() not in raw and b"customer_id" not in raw
    assert faces.one("obama.jpg").astype(np.float32).tobytes()[:32] not in raw
    with pytest.raises(DecryptionError):
        EmbeddingCipher(EmbeddingCipher.generate_key()).read_file(backup)
    with local(tmp_path / "b") as restored:
        assert restored.import_encrypted(backup, cipher, ctx=CTX) == 2
        (hit,) = restored.search(faces.one("obama_partial_face.jpg"), limit=1, ctx=CTX)
        assert hit.customer_id == OBAMA
        assert [e.slot for e in restored.lookup("biden", ctx=CTX)] == [0]
