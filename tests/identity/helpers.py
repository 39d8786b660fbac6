"""Shared helpers for the identity tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray
from prometheus_client import CollectorRegistry

from identity.audit import AuditContext, MemoryAuditLog
from identity.calibration import (
    EmbedderCalibration,
    calibration_path,
    default_repository,
    load_calibration,
)
from identity.config import (
    GalleryConfig,
    IdentityConfig,
    TopologyConfig,
    TransitConfig,
)
from identity.gallery import FaceGallery
from identity.gate import Decision, IdentityGate, Observation
from identity.metrics import IdentityMetrics
from identity.outcomes import Outcome
from identity.quality import FaceMeasures

Vector = NDArray[np.float32]

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
CTX = AuditContext("tests", "identity test suite")
OBAMA = "cust-obama"
OBAMA_OTHERS = ("obama_partial_face.jpg", "obama2.jpg", "obama_partial_face2.jpg", "obama3.jpg")

# Entrance and checkout are at least 30 s apart; aisle overlaps the entrance's view.
TOPOLOGY = TopologyConfig(
    transits=(
        TransitConfig(camera_a="entrance", camera_b="checkout", min_transit_s=30.0),
        TransitConfig(camera_a="entrance", camera_b="aisle", min_transit_s=0.0, overlapping=True),
    )
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def config(**changes: object) -> IdentityConfig:
    base = IdentityConfig(gallery=GalleryConfig(path=":memory:"), topology=TOPOLOGY)
    return base.model_copy(update=changes)


def default_calibration() -> EmbedderCalibration:
    """The committed calibration of the default embedder (face_embedder version 1)."""
    return load_calibration(calibration_path(default_repository(), "face_embedder", 1))


def calibrated(**changes: object) -> IdentityConfig:
    """The test configuration with the default embedder's thresholds, as the service
    runs it."""
    return config(**changes).with_calibration(default_calibration())


def metric(metrics: IdentityMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


@dataclass
class Rig:
    """A gallery in memory and an engine over it, with private metrics and audit."""

    gallery: FaceGallery
    gate: IdentityGate
    metrics: IdentityMetrics
    audit: MemoryAuditLog
    decisions: list[Decision] = field(default_factory=list)
    ended: list[Outcome] = field(default_factory=list)

    def feed(
        self,
        camera: str,
        track: int,
        embeddings: Sequence[Vector],
        *,
        start: float,
        step: float = 0.2,
        box: tuple[float, float, float, float] | None = None,
        measures: Sequence[FaceMeasures | None] | None = None,
    ) -> list[Decision]:
        out = []
        for i, embedding in enumerate(embeddings):
            face = measures[i] if measures is not None else None
            obs = Observation(camera, track, at(start + i * step), (embedding,), box, face=face)
            out.append(self.gate.observe(obs))
        self.decisions.extend(out)
        return out

    def end(self, camera: str, track: int, seconds: float) -> None:
        """The tracker ends a track (its outcomes are kept with the decisions')."""
        self.ended.extend(self.gate.end_track(camera, track, at(seconds)))

    def outcomes(self) -> list[Outcome]:
        return [o for d in self.decisions for o in d.outcomes] + self.ended


def rig(cfg: IdentityConfig | None = None) -> Rig:
    metrics = IdentityMetrics(CollectorRegistry())
    audit = MemoryAuditLog()
    cfg = cfg or config()
    gallery = FaceGallery(cfg.gallery, audit_sink=audit, metrics=metrics)
    return Rig(gallery, IdentityGate(cfg, gallery, metrics=metrics), metrics, audit)


T = TypeVar("T")


def cycle(items: Sequence[T], n: int) -> list[T]:
    return [items[i % len(items)] for i in range(n)]


def random_unit(rng: np.random.Generator, n: int, dim: int = 512) -> NDArray[np.float32]:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    out: NDArray[np.float32] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out
