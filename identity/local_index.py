"""Exact search for the embedded (local-mode) gallery in one matrix product.

Qdrant's local mode is brute force too, but it re-normalizes every stored vector on every
query (about 10 ms per search at 10,000 vectors on the development machine, which alone
breaks the gate's 10 ms decision budget). Local mode allows one client per storage folder,
so the `FaceGallery` that owns the folder sees every write and can keep this mirror of
its (already unit-length) vectors: the same cosine scores, the same ranking, in ~1 ms. A
Qdrant server keeps its own HNSW index and is queried directly.

The mirror holds what local mode already holds in memory (vectors, customer id, slot,
VIP flag), follows every write of the gallery (`upsert`, `remove_customer`, `set_vip`; a
bulk import rebuilds it), and is never written anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qdrant_client import QdrantClient

from identity.vectors import Vector


@dataclass(frozen=True, slots=True)
class IndexedPoint:
    point_id: str
    customer_id: str
    slot: int
    vip: bool


@dataclass
class LocalIndex:
    points: list[IndexedPoint]
    matrix: NDArray[np.float32] = field(repr=False)

    @classmethod
    def build(cls, client: QdrantClient, collection: str, dim: int) -> LocalIndex:
        points: list[IndexedPoint] = []
        rows: list[NDArray[np.float32]] = []
        offset: Any = None
        while True:
            batch, offset = client.scroll(
                collection,
                limit=2048,
                offset=offset,
                with_payload=["customer_id", "slot", "vip"],
                with_vectors=True,
            )
            for point in batch:
                payload = point.payload or {}
                raw: Any = point.vector
                if isinstance(raw, dict):  # named vectors: one unnamed vector here
                    raw = next(iter(raw.values()))
                row = np.asarray(raw, np.float32).reshape(-1)
                norm = float(np.linalg.norm(row))
                if row.shape != (dim,) or norm == 0.0:
                    continue
                rows.append(row / np.float32(norm))
                points.append(
                    IndexedPoint(
                        str(point.id),
                        str(payload.get("customer_id", "")),
                        int(payload.get("slot", 0)),
                        bool(payload.get("vip", False)),
                    )
                )
            if offset is None:
                break
        matrix = np.stack(rows) if rows else np.zeros((0, dim), np.float32)
        return cls(points, matrix)

    def search(
        self, probe: Vector, limit: int, min_score: float | None = None
    ) -> list[tuple[IndexedPoint, float]]:
        """The `limit` best points, best first (ties by insertion order)."""
        if not self.points or limit <= 0:
            return []
        scores = self.matrix @ probe
        count = min(limit, len(scores))
        top = np.argpartition(-scores, count - 1)[:count]
        order = top[np.lexsort((top, -scores[top]))]
        out = []
        for i in order:
            score = float(scores[i])
            if min_score is not None and score < min_score:
                break
            out.append((self.points[int(i)], score))
        return out

    def upsert(self, point: IndexedPoint, vector: Vector) -> None:
        """Add a point, or replace the one with the same id (slot rotation)."""
        row = (vector / np.float32(np.linalg.norm(vector))).astype(np.float32)
        for i, existing in enumerate(self.points):
            if existing.point_id == point.point_id:
                self.points[i] = point
                self.matrix[i] = row
                return
        self.points.append(point)
        self.matrix = np.concatenate([self.matrix, row[None, :]])

    def remove_customer(self, customer_id: str) -> None:
        keep = [i for i, p in enumerate(self.points) if p.customer_id != customer_id]
        if len(keep) != len(self.points):
            self.points = [self.points[i] for i in keep]
            self.matrix = self.matrix[keep]

    def set_vip(self, customer_id: str, vip: bool) -> None:
        self.points = [
            IndexedPoint(p.point_id, p.customer_id, p.slot, vip)
            if p.customer_id == customer_id
            else p
            for p in self.points
        ]
