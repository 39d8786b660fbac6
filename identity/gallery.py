"""The face gallery: enrolled customers' embeddings in Qdrant.

Embedded local mode (`QdrantClient(path=...)` or `":memory:"`) by default, a Qdrant server
by URL in production; `GalleryConfig` alone chooses. Local mode is brute force (every
search compares against every vector) and allows one client per storage folder, so one
identity service process owns the gallery and others reach it over NATS (`service.py`).

Each customer has at most `max_embeddings_per_customer` points (slots). Point ids are
deterministic, `uuid5(GALLERY_NAMESPACE, "<customer>|<slot>")`, so a customer's points are
found by id (no payload scan) and re-enrolling is idempotent per slot; a full customer's
oldest slot is replaced by the newest embedding. The payload holds the customer id, slot,
source camera, enrolment time, a per-customer sequence number and the VIP flag - never an
image. Every read and write is audited (`audit.py`).

One gallery holds embeddings of one face_embedder version (scores of two embedders are not
comparable). The version is recorded in a one-point side collection, `<collection>_meta`
(`ensure_embedder`), so that it is not a payload field of every point and not counted as an
embedding; a service configured for another version is refused. Enrolment photos are never
kept, so a gallery cannot be re-embedded: a new version means enrolling customers again
into a new collection.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np
from qdrant_client import QdrantClient, models

from identity.audit import AuditAction, AuditContext, AuditSink, DetailValue, audit
from identity.config import GalleryConfig
from identity.crypto import EmbeddingCipher
from identity.local_index import IndexedPoint, LocalIndex
from identity.metrics import IdentityMetrics
from identity.vectors import Vector, unit_vector
from trinetra.events.schema import utc_now
from trinetra.identity.errors import check_customer_id

log = logging.getLogger(__name__)

# Fixed: changing it changes every point id of every existing gallery.
GALLERY_NAMESPACE: Final = uuid.UUID("0f6a3c52-41d7-4c8e-9b1a-7e2d5f8c9a03")
_EXPORT_VERSION: Final = 1
_MANIFEST_ID: Final = str(uuid.uuid5(GALLERY_NAMESPACE, "manifest|embedder"))


class GalleryError(RuntimeError):
    """The gallery cannot do what was asked."""


class GalleryLockedError(GalleryError):
    """Another process already holds the local-mode storage folder."""


class GalleryVersionError(GalleryError):
    """The gallery holds embeddings of another face_embedder version than configured."""


@dataclass(frozen=True, slots=True)
class GalleryMatch:
    """A customer's best-scoring embedding for one probe."""

    customer_id: str
    score: float
    slot: int
    point_id: str
    vip: bool


@dataclass(frozen=True, slots=True)
class EnrolledEmbedding:
    """Metadata of one stored embedding (the vector itself is never handed out here)."""

    customer_id: str
    slot: int
    point_id: str
    camera_id: str
    enrolled_at: datetime
    sequence: int
    vip: bool


class GallerySearch(Protocol):
    """What the gating engine needs from a gallery."""

    def search(self, embedding: Vector, *, limit: int, ctx: AuditContext) -> list[GalleryMatch]:
        """The best `limit` customers for `embedding`, best first."""
        ...

    def read_vector(self, customer_id: str, slot: int, *, ctx: AuditContext) -> Vector | None:
        """A stored embedding (for an adaptive template's starting point)."""
        ...


def point_id(customer_id: str, slot: int) -> str:
    return str(uuid.uuid5(GALLERY_NAMESPACE, f"{customer_id}|{slot}"))


def _customer_filter(customer_id: str) -> models.Filter:
    return models.Filter(
        must=[models.FieldCondition(key="customer_id", match=models.MatchValue(value=customer_id))]
    )


def open_client(config: GalleryConfig) -> QdrantClient:
    """The Qdrant client `config` describes (server by URL, else local folder/memory)."""
    if config.url is not None:
        api_key = os.environ.get(config.api_key_env) or None
        return QdrantClient(url=config.url, api_key=api_key, timeout=int(config.timeout_s))
    location = config.local_path
    if location == ":memory:":
        return QdrantClient(location=":memory:")
    Path(location).mkdir(parents=True, exist_ok=True)
    try:
        return QdrantClient(path=location)
    except RuntimeError as exc:
        if "already accessed" in str(exc):
            raise GalleryLockedError(
                f"gallery folder {location} is in use by another process: local mode allows "
                "one client per folder; reach the owning identity service over NATS instead"
            ) from exc
        raise


class FaceGallery:
    """Audited access to the Qdrant face collection. Thread-safe (one lock)."""

    def __init__(
        self,
        config: GalleryConfig,
        *,
        audit_sink: AuditSink,
        metrics: IdentityMetrics | None = None,
        client: QdrantClient | None = None,
    ) -> None:
        self.config = config
        self._audit = audit_sink
        self.metrics = metrics if metrics is not None else IdentityMetrics()
        self._client = client if client is not None else open_client(config)
        self._lock = threading.RLock()
        self._closed = False
        self._index: LocalIndex | None = None  # local mode's search mirror (local_index)
        self._warned_size = False
        self._ensure_collection()
        self.refresh()

    @property
    def mode(self) -> str:
        """'server', 'memory' or 'local' (a folder)."""
        if self.config.url is not None:
            return "server"
        return "memory" if self.config.local_path == ":memory:" else "local"

    @property
    def client(self) -> QdrantClient:
        return self._client

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._client.close()

    def __enter__(self) -> FaceGallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writes -----------------------------------------------------------------------

    def add(
        self,
        customer_id: str,
        embedding: Vector,
        *,
        ctx: AuditContext,
        camera_id: str,
        vip: bool = False,
        at: datetime | None = None,
    ) -> EnrolledEmbedding:
        """Store one embedding for `customer_id` in a free slot, or in place of the oldest
        when all slots are taken. `vip` applies to the customer (all their points)."""
        check_customer_id(customer_id)
        vector = unit_vector(embedding, self.config.vector_size)
        when = (at or utc_now()).astimezone(UTC)
        with self._lock, self._timed("add"):
            existing = self._slots(customer_id)
            used = {e.slot for e in existing}
            free = [s for s in range(self.config.max_embeddings_per_customer) if s not in used]
            replaced: EnrolledEmbedding | None = None
            if free:
                slot = free[0]
            else:
                replaced = min(existing, key=lambda e: e.sequence)
                slot = replaced.slot
            sequence = max((e.sequence for e in existing), default=0) + 1
            entry = EnrolledEmbedding(
                customer_id=customer_id,
                slot=slot,
                point_id=point_id(customer_id, slot),
                camera_id=camera_id,
                enrolled_at=when,
                sequence=sequence,
                vip=vip,
            )
            self._client.upsert(
                self.config.collection,
                points=[
                    models.PointStruct(
                        id=entry.point_id, vector=vector.tolist(), payload=_payload(entry)
                    )
                ],
                wait=True,
            )
            stale_vip = [e.point_id for e in existing if e.vip != vip and e.slot != slot]
            if stale_vip:
                self._client.set_payload(
                    self.config.collection,
                    payload={"vip": vip},
                    points=models.PointIdsList(points=list(stale_vip)),
                    wait=True,
                )
            if self._index is not None:
                self._index.upsert(IndexedPoint(entry.point_id, customer_id, slot, vip), vector)
                self._index.set_vip(customer_id, vip)
                self._check_local_size()
        self._record(
            ctx,
            "enroll",
            customer_id,
            slot=slot,
            camera_id=camera_id,
            replaced_slot=replaced is not None,
            vip=vip,
        )
        return entry

    def erase(self, customer_id: str, *, ctx: AuditContext) -> int:
        """Delete every embedding of `customer_id` (by payload, so points outside the
        current slot range go too); returns how many there were."""
        check_customer_id(customer_id)
        with self._lock, self._timed("erase"):
            if self._index is not None:
                self._index.remove_customer(customer_id)
                self._check_local_size()
            selector = _customer_filter(customer_id)
            before = self._client.count(self.config.collection, count_filter=selector).count
            self._client.delete(
                self.config.collection,
                points_selector=models.FilterSelector(filter=selector),
                wait=True,
            )
            left = self._client.count(self.config.collection, count_filter=selector).count
        if left:
            raise GalleryError(f"erase of {customer_id!r} left {left} embeddings")
        self._record(ctx, "erase", customer_id, removed=before)
        return before

    # --- reads ------------------------------------------------------------------------

    def search(
        self,
        embedding: Vector,
        *,
        limit: int,
        ctx: AuditContext,
        min_score: float | None = None,
    ) -> list[GalleryMatch]:
        """Best `limit` customers (each at their best slot) for a probe, best first."""
        vector = unit_vector(embedding, self.config.vector_size)
        per_customer = self.config.max_embeddings_per_customer
        with self._lock, self._timed("search"):
            if self.mode == "server":
                response = self._client.query_points(
                    self.config.collection,
                    query=vector.tolist(),
                    limit=limit * per_customer,
                    score_threshold=min_score,
                    with_payload=["customer_id", "slot", "vip"],
                )
                hits = [
                    (
                        IndexedPoint(
                            str(point.id),
                            str((point.payload or {}).get("customer_id", "")),
                            int((point.payload or {}).get("slot", 0)),
                            bool((point.payload or {}).get("vip", False)),
                        ),
                        float(point.score),
                    )
                    for point in response.points
                ]
            else:
                hits = self._local_index().search(vector, limit * per_customer, min_score)
        best: dict[str, GalleryMatch] = {}
        for point, score in hits:
            customer = point.customer_id
            if not customer or customer in best:
                continue  # results are sorted: the first hit of a customer is its best
            best[customer] = GalleryMatch(
                customer_id=customer,
                score=score,
                slot=point.slot,
                point_id=point.point_id,
                vip=point.vip,
            )
        matches = list(best.values())[:limit]
        self._record(ctx, "search", None, candidates=[m.customer_id for m in matches])
        return matches

    def lookup(self, customer_id: str, *, ctx: AuditContext) -> list[EnrolledEmbedding]:
        """The customer's stored embeddings' metadata, by slot; empty if not enrolled."""
        check_customer_id(customer_id)
        with self._lock, self._timed("lookup"):
            found = self._slots(customer_id)
        self._record(ctx, "lookup", customer_id, embeddings=len(found))
        return found

    def read_vector(self, customer_id: str, slot: int, *, ctx: AuditContext) -> Vector | None:
        with self._lock, self._timed("read_vector"):
            points = self._client.retrieve(
                self.config.collection, ids=[point_id(customer_id, slot)], with_vectors=True
            )
        self._record(ctx, "read_vector", customer_id, slot=slot, found=bool(points))
        if not points or points[0].vector is None:
            return None
        return unit_vector(_plain_vector(points[0].vector), self.config.vector_size)

    def refresh(self) -> None:
        """Rebuild the local-mode search mirror from the collection: after writes made
        through `client` directly, bypassing this object (benchmarks)."""
        with self._lock:
            self._index = None
            if self.mode != "server":
                self._local_index()

    def _local_index(self) -> LocalIndex:
        if self._index is None:
            self._index = LocalIndex.build(
                self._client, self.config.collection, self.config.vector_size
            )
            self._check_local_size()
        return self._index

    def _check_local_size(self) -> None:
        """Warn, once per crossing, when a local-mode gallery outgrows local mode."""
        size = 0 if self._index is None else len(self._index.points)
        limit = self.config.local_mode_max_embeddings
        too_large = size > limit
        if too_large and not self._warned_size:
            log.warning(
                "local-mode gallery past its size: searches are exact and grow with it; "
                "use the Qdrant server (gallery.url) for a gallery this large",
                extra={"embeddings": size, "local_mode_max_embeddings": limit},
            )
        self._warned_size = too_large

    def count(self) -> int:
        """Embeddings stored (all customers)."""
        with self._lock:
            return self._client.count(self.config.collection, exact=True).count

    # --- the embedder version ---------------------------------------------------------

    @property
    def _manifest(self) -> str:
        return f"{self.config.collection}_meta"

    def embedder(self) -> tuple[str, int] | None:
        """(model, version) recorded for this gallery, None when none is."""
        with self._lock:
            if not self._client.collection_exists(self._manifest):
                return None
            points = self._client.retrieve(self._manifest, ids=[_MANIFEST_ID], with_payload=True)
        if not points:
            return None
        payload = points[0].payload or {}
        return str(payload.get("model", "")), int(payload.get("version", 0))

    def ensure_embedder(self, model: str, version: int) -> None:
        """Record that this gallery holds `model` version `version`, or raise
        `GalleryVersionError` if it holds another one (module docs). A gallery from before
        versions were recorded is taken to hold the configured version (it is logged)."""
        recorded = self.embedder()
        if recorded == (model, version):
            return
        if recorded is not None:
            raise GalleryVersionError(
                f"gallery {self.config.collection!r} holds {recorded[0]} version "
                f"{recorded[1]} embeddings, but {model} version {version} is configured: "
                "scores of two versions are not comparable and enrolment photos are never "
                f"kept, so pin {recorded[0]} to version {recorded[1]} "
                "(identity.embedder.version), or enrol customers again into a new collection"
            )
        with self._lock:
            stored = self._client.count(self.config.collection, exact=True).count
            if not self._client.collection_exists(self._manifest):
                self._client.create_collection(
                    self._manifest,
                    vectors_config=models.VectorParams(size=1, distance=models.Distance.DOT),
                )
            self._client.upsert(
                self._manifest,
                points=[
                    models.PointStruct(
                        id=_MANIFEST_ID,
                        vector=[1.0],
                        payload={"model": model, "version": version},
                    )
                ],
                wait=True,
            )
        if stored:
            log.warning(
                "gallery predates embedder version records: assumed the configured version",
                extra={"collection": self.config.collection, "model": model, "version": version},
            )

    # --- backup -----------------------------------------------------------------------

    def export_encrypted(self, path: Path, cipher: EmbeddingCipher, *, ctx: AuditContext) -> int:
        """Write every point (vector + payload) to `path`, encrypted; returns the count."""
        points: list[dict[str, Any]] = []
        with self._lock, self._timed("export"):
            offset: Any = None
            while True:
                batch, offset = self._client.scroll(
                    self.config.collection,
                    limit=1024,
                    offset=offset,
                    with_payload=True,
                    with_vectors=True,
                )
                for point in batch:
                    raw = np.asarray(_plain_vector(point.vector), np.float32)
                    points.append(
                        {
                            "id": str(point.id),
                            "vector": base64.b64encode(raw.tobytes()).decode(),
                            "payload": point.payload or {},
                        }
                    )
                if offset is None:
                    break
        body = {"v": _EXPORT_VERSION, "collection": self.config.collection, "points": points}
        cipher.write_file(path, body)
        self._record(ctx, "export", None, points=len(points), path=str(path))
        return len(points)

    def import_encrypted(self, path: Path, cipher: EmbeddingCipher, *, ctx: AuditContext) -> int:
        """Upsert every point of an `export_encrypted` file; returns the count."""
        body = cipher.read_file(path)
        if not isinstance(body, dict) or body.get("v") != _EXPORT_VERSION:
            raise GalleryError(f"{path} is not a gallery export of version {_EXPORT_VERSION}")
        structs = [
            models.PointStruct(
                id=str(p["id"]),
                vector=np.frombuffer(base64.b64decode(p["vector"]), np.float32).tolist(),
                payload=dict(p["payload"]),
            )
            for p in body["points"]
        ]
        with self._lock, self._timed("import"):
            self._index = None  # rebuilt from the collection at the next search
            for start in range(0, len(structs), 1024):
                self._client.upsert(
                    self.config.collection, points=structs[start : start + 1024], wait=True
                )
        self._record(ctx, "import", None, points=len(structs), path=str(path))
        return len(structs)

    # --- internals --------------------------------------------------------------------

    def _ensure_collection(self) -> None:
        name = self.config.collection
        if self._client.collection_exists(name):
            info = self._client.get_collection(name)
            params = info.config.params.vectors
            size = params.size if isinstance(params, models.VectorParams) else None
            if size != self.config.vector_size:
                raise GalleryError(
                    f"collection {name} has vectors of size {size}, expected "
                    f"{self.config.vector_size}"
                )
            return
        self._client.create_collection(
            name,
            vectors_config=models.VectorParams(
                size=self.config.vector_size, distance=models.Distance.COSINE
            ),
        )
        if self.mode == "server":
            # Erase and lookup filter by customer; local mode scans and has no indexes.
            self._client.create_payload_index(
                name, "customer_id", field_schema=models.PayloadSchemaType.KEYWORD, wait=True
            )

    def _slots(self, customer_id: str) -> list[EnrolledEmbedding]:
        ids = [point_id(customer_id, s) for s in range(self.config.max_embeddings_per_customer)]
        points = self._client.retrieve(self.config.collection, ids=ids, with_payload=True)
        entries = [_entry(str(p.id), p.payload or {}) for p in points]
        return sorted((e for e in entries if e.customer_id == customer_id), key=lambda e: e.slot)

    def _record(
        self,
        ctx: AuditContext,
        action: AuditAction,
        customer_id: str | None,
        **details: DetailValue,
    ) -> None:
        self.metrics.gallery_ops.labels(action).inc()
        audit(self._audit, ctx, action, customer_id, details)

    @contextmanager
    def _timed(self, operation: str) -> Iterator[None]:
        if self._closed:
            raise GalleryError("gallery is closed")
        start = time.perf_counter()
        try:
            yield
        finally:
            self.metrics.gallery_latency.labels(operation).observe(time.perf_counter() - start)


def _payload(entry: EnrolledEmbedding) -> dict[str, Any]:
    return {
        "customer_id": entry.customer_id,
        "slot": entry.slot,
        "camera_id": entry.camera_id,
        "enrolled_at": entry.enrolled_at.isoformat(),
        "sequence": entry.sequence,
        "vip": entry.vip,
    }


def _entry(pid: str, payload: dict[str, Any]) -> EnrolledEmbedding:
    return EnrolledEmbedding(
        customer_id=str(payload.get("customer_id", "")),
        slot=int(payload.get("slot", 0)),
        point_id=pid,
        camera_id=str(payload.get("camera_id", "")),
        enrolled_at=datetime.fromisoformat(str(payload.get("enrolled_at"))),
        sequence=int(payload.get("sequence", 0)),
        vip=bool(payload.get("vip", False)),
    )


def _plain_vector(vector: Any) -> list[float]:
    if isinstance(vector, dict):  # named vectors: the collection has one unnamed vector
        vector = next(iter(vector.values()))
    if not isinstance(vector, list):
        raise GalleryError("unexpected vector format from Qdrant")
    return [float(v) for v in vector]
