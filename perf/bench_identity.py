"""Identity gating benchmark: decision latency against gallery size, and precision/recall
of the gate on labelled pairs and tracks built from the test media.

    .venv/bin/python perf/bench_identity.py [--sizes 1000 10000 100000] [--observations 200]
                                            [--url HOST:PORT] [--qdrant-url URL]

Real embeddings come from the real vision pipeline (without --url the CPU Triton server
is started here): the obama photos, biden, the six t1 faces and the ~24 players.jpg faces,
plus mirrored / darkened copies of the photos as extra samples of the same people.

Latency: one `IdentityGate.observe` per real probe with the detector's measurements
(quality gate, consistency, search, templates, gates, voting, visit linking, audit to a
JSON lines file), on a gallery filled with random unit vectors (synthetic customers,
inserted directly) plus the real enrolments, with the default embedder's calibrated
thresholds (as the identity service runs). Embedded Qdrant (local mode) is
brute force: every search compares the probe with every stored vector, so latency grows
linearly with the gallery; a Qdrant server (--qdrant-url) uses an HNSW index instead.

Quality:
- pairs: every pair of samples, same person or not, scored by cosine similarity; precision
  and recall at the calibrated threshold, the seeds' 0.72 and the F0.5-calibrated one;
- tracks: obama, biden and the six t1 people enrolled from one photo each; each probe
  track feeds other samples of one person through the full gate (5-observation vote), with
  the calibrated thresholds and, beside them, the seeds' 0.72/0.74. Positives must resolve
  to the right person; players.jpg faces (not enrolled) must not resolve at all.

No Qdrant server binary is available in the package registries this project may use, so
only local mode is measured here; --qdrant-url runs the same against a server.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from prometheus_client import CollectorRegistry

if __package__ in (None, ""):  # run as a script: make `orchestrator` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devservices.paths import REPO_ROOT
from devservices.triton import LocalTriton
from identity.audit import AuditContext, JsonlAuditLog
from identity.calibrate import calibrate
from identity.calibration import calibration_path, default_repository, load_calibration
from identity.config import GalleryConfig, IdentityConfig, QualityConfig
from identity.gallery import FaceGallery, point_id
from identity.gate import IdentityGate, Observation
from identity.metrics import IdentityMetrics
from identity.quality import FaceMeasures, QualityGate
from trinetra.inference import TritonSettings, VisionClient

Vector = NDArray[np.float32]
MEDIA = REPO_ROOT / ".cache" / "media"
T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)
CTX = AuditContext("bench", "identity benchmark")
OBAMA_PHOTOS = (
    "obama.jpg",
    "obama2.jpg",
    "obama3.jpg",
    "obama_partial_face.jpg",
    "obama_partial_face2.jpg",
)


@dataclass(frozen=True)
class Sample:
    person: str
    source: str  # photo and variant
    embedding: Vector
    measures: FaceMeasures


def calibrated(gallery: GalleryConfig) -> IdentityConfig:
    """The configuration the identity service runs: the default embedder's calibration."""
    path = calibration_path(default_repository(), "face_embedder", 1)
    return IdentityConfig(gallery=gallery).with_calibration(load_calibration(path))


def _variants(image: NDArray[np.uint8]) -> dict[str, NDArray[np.uint8]]:
    return {
        "orig": image,
        "mirror": np.ascontiguousarray(cv2.flip(image, 1)),
        "dark": (image * 0.4).astype(np.uint8),
    }


def _match_faces(boxes: NDArray[np.float32], reference: NDArray[np.float32]) -> list[int | None]:
    """For each reference box, the index of the box with the closest centre (or None)."""
    out: list[int | None] = []
    for ref in reference:
        if len(boxes) == 0:
            out.append(None)
            continue
        centre = (ref[:2] + ref[2:]) / 2
        d = np.linalg.norm((boxes[:, :2] + boxes[:, 2:]) / 2 - centre, axis=1)
        best = int(np.argmin(d))
        out.append(best if d[best] < 0.5 * float(ref[2] - ref[0]) else None)
    return out


async def collect_samples(client: VisionClient) -> list[Sample]:
    samples: list[Sample] = []
    singles = [(p, "obama") for p in OBAMA_PHOTOS] + [("biden.jpg", "biden")]
    for photo, person in singles:
        image: NDArray[np.uint8] = np.asarray(cv2.imread(str(MEDIA / photo)), np.uint8)
        for variant, pixels in _variants(image).items():
            faces = (await client.analyze(pixels)).faces
            if len(faces) == 1:
                measures = FaceMeasures.of(faces.xyxy[0], faces.confidence[0], faces.landmarks[0])
                samples.append(Sample(person, f"{photo}:{variant}", faces.embeddings[0], measures))
    for photo, prefix in (("t1.jpg", "t1"), ("players.jpg", "player")):
        image = np.asarray(cv2.imread(str(MEDIA / photo)), np.uint8)
        width = image.shape[1]
        reference = (await client.analyze(image)).faces
        for variant, pixels in _variants(image).items():
            faces = (await client.analyze(pixels)).faces
            boxes = faces.xyxy.copy()
            if variant == "mirror":  # map mirrored boxes back onto the original frame
                boxes[:, [0, 2]] = width - boxes[:, [2, 0]]
            for i, j in enumerate(_match_faces(boxes, reference.xyxy)):
                if j is not None:
                    measures = FaceMeasures.of(
                        faces.xyxy[j], faces.confidence[j], faces.landmarks[j]
                    )
                    samples.append(
                        Sample(f"{prefix}-{i}", f"{photo}:{variant}", faces.embeddings[j], measures)
                    )
    return samples


def pair_quality(samples: list[Sample], thresholds: dict[str, float]) -> None:
    scores: list[float] = []
    labels: list[bool] = []
    for a, b in itertools.combinations(samples, 2):
        if a.source.split(":")[0] == b.source.split(":")[0] and a.person == b.person:
            continue  # a photo against its own mirror/dark copy is too easy to count
        scores.append(float(a.embedding @ b.embedding))
        labels.append(a.person == b.person)
    positives = sum(labels)
    s = np.asarray(scores)
    y = np.asarray(labels)
    print(f"\npairs: {positives} same-person, {len(y) - positives} different-person")
    print(f"  same-person scores:      min {s[y].min():.3f}  median {np.median(s[y]):.3f}")
    print(
        f"  different-person scores: max {s[~y].max():.3f}  p99.9 {np.quantile(s[~y], 0.999):.3f}"
    )
    for name, threshold in thresholds.items():
        tp = int(np.sum((s >= threshold) & y))
        fp = int(np.sum((s >= threshold) & ~y))
        precision = tp / (tp + fp) if tp + fp else 1.0
        print(
            f"  {name} threshold {threshold:.4f}: precision {precision:.4f}  "
            f"recall {tp / positives:.4f}  (TP {tp}, FP {fp})"
        )
    best = calibrate(scores, labels, beta=0.5)
    print(
        f"  F0.5-calibrated threshold {best.threshold:.4f}: precision {best.precision:.4f}  "
        f"recall {best.recall:.4f}  F0.5 {best.f_beta:.4f}"
    )
    # The gate only ever compares faces that passed the quality gate.
    quality = QualityGate(QualityConfig().thresholds())
    usable = [quality.check(x.measures).ok for x in samples]
    both = np.asarray(
        [
            usable[i] and usable[j]
            for i, j in itertools.combinations(range(len(samples)), 2)
            if not (
                samples[i].source.split(":")[0] == samples[j].source.split(":")[0]
                and samples[i].person == samples[j].person
            )
        ]
    )
    print(
        f"  both faces through the quality gate: {int((both & y).sum())} same-person, "
        f"{int((both & ~y).sum())} different-person pairs, different-person max "
        f"{s[both & ~y].max():.3f}"
    )
    for name, threshold in thresholds.items():
        fp = int(np.sum((s >= threshold) & ~y & both))
        tp = int(np.sum((s >= threshold) & y & both))
        print(f"    {name} threshold {threshold:.4f}: TP {tp}, FP {fp}")


def new_gallery(config: GalleryConfig, audit: JsonlAuditLog) -> FaceGallery:
    gallery = FaceGallery(config, audit_sink=audit, metrics=IdentityMetrics(CollectorRegistry()))
    if gallery.mode == "server":
        gallery.client.delete_collection(config.collection)
        gallery = FaceGallery(
            config, audit_sink=audit, metrics=IdentityMetrics(CollectorRegistry())
        )
    return gallery


def fill_synthetic(gallery: FaceGallery, count: int, seed: int = 0) -> float:
    """Random unit vectors as `count` synthetic customers (direct upsert, not audited)."""
    from qdrant_client import models

    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    for start in range(0, count, 2000):
        n = min(2000, count - start)
        vectors = rng.standard_normal((n, 512)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        points = [
            models.PointStruct(
                id=point_id(f"synthetic-{start + i}", 0),
                vector=vectors[i].tolist(),
                payload={
                    "customer_id": f"synthetic-{start + i}",
                    "slot": 0,
                    "camera_id": "synthetic",
                    "enrolled_at": T0.isoformat(),
                    "sequence": 1,
                    "vip": False,
                },
            )
            for i in range(n)
        ]
        gallery.client.upsert(gallery.config.collection, points=points, wait=True)
    gallery.refresh()  # written past the FaceGallery: its local search mirror must know
    return time.perf_counter() - started


def enroll_references(gallery: FaceGallery, samples: list[Sample]) -> dict[str, str]:
    """One reference per enrolled person: obama.jpg, biden.jpg, t1.jpg originals."""
    refs = {}
    for s in samples:
        person_ok = s.person in ("obama", "biden") or s.person.startswith("t1-")
        if person_ok and s.source.endswith(":orig") and s.person not in refs:
            if s.person == "obama" and not s.source.startswith("obama.jpg"):
                continue
            gallery.add(s.person, s.embedding, ctx=CTX, camera_id="enrollment")
            refs[s.person] = s.source
    return refs


def latency(
    sizes: list[int],
    samples: list[Sample],
    n_obs: int,
    gallery_config: GalleryConfig,
    audit: JsonlAuditLog,
) -> None:
    mode = "server (HNSW)" if gallery_config.url else "local mode: brute force, exact"
    print(f"\ndecision latency, one IdentityGate.observe per real probe ({mode})")
    # Only faces that pass the quality gate: a refused face costs almost nothing, and
    # counting those would flatter the figure. Each track shows one person, as a camera's
    # track does, so every observation takes the full path (search, vote, visit).
    config = calibrated(gallery_config)
    quality = QualityGate(config.quality.thresholds())
    usable = [s for s in samples if quality.check(s.measures).ok]
    by_person: dict[str, list[Sample]] = {}
    for s in usable:
        by_person.setdefault(s.person, []).append(s)
    people = sorted(by_person)
    print(f"  {len(usable)} of {len(samples)} samples pass the quality gate")
    header = ("gallery", "fill s", "search p50", "decision p50", "p99", "obs")
    print("{:>9} {:>7} {:>11} {:>13} {:>9} {:>5}".format(*header))
    for size in sizes:
        gallery = new_gallery(gallery_config, audit)
        fill_s = fill_synthetic(gallery, size)
        enroll_references(gallery, samples)
        gate = IdentityGate(config, gallery)
        # Shorter runs for the big brute-force galleries keep the whole bench in minutes.
        n = n_obs if size <= 10_000 or gallery_config.url else max(50, n_obs // 2)
        timings: list[float] = []
        search: list[float] = []
        for i in range(n):
            track = i // 8  # 8 observations per track, as a camera would send them
            shown = by_person[people[track % len(people)]]
            sample = shown[i % len(shown)]
            at = T0 + timedelta(seconds=i * 0.2 + 40.0 * track)
            obs = Observation("cam", track, at, (sample.embedding,), face=sample.measures)
            started = time.perf_counter()
            decision = gate.observe(obs)
            timings.append(time.perf_counter() - started)
            assert decision.vote_reason not in ("low_quality", "contradicted"), decision
            if i % 10 == 0:
                started = time.perf_counter()
                gallery.search(sample.embedding, limit=5, ctx=CTX)
                search.append(time.perf_counter() - started)
        ms = np.asarray(timings) * 1000
        print(
            f"{size + 8:>9,} {fill_s:>7.1f} {statistics.median(search) * 1000:>9.2f}ms "
            f"{np.percentile(ms, 50):>11.2f}ms {np.percentile(ms, 99):>7.2f}ms {n:>5}"
        )
        gallery.close()


def track_quality(
    samples: list[Sample], config: IdentityConfig, audit: JsonlAuditLog, label: str
) -> None:
    gallery = new_gallery(config.gallery, audit)
    fill_synthetic(gallery, 1000, seed=1)
    refs = enroll_references(gallery, samples)
    gate = IdentityGate(config, gallery)
    by_person: dict[str, list[Sample]] = {}
    for s in samples:
        if refs.get(s.person) != s.source:  # never probe with the enrolled sample itself
            by_person.setdefault(s.person, []).append(s)
    right = missed = wrong = stranger_unknown = stranger_resolved = 0
    merges: list[str] = []
    t = 0.0
    for track, (person, probes) in enumerate(sorted(by_person.items())):
        decided = None
        for i in range(max(8, len(probes))):
            probe = probes[i % len(probes)]
            at = T0 + timedelta(seconds=t)
            obs = Observation("cam", track, at, (probe.embedding,), face=probe.measures)
            decided = gate.observe(obs).customer_id or decided
            t += 0.2
        t += 60.0  # the next person comes later
        if person in refs:
            right += decided == person
            missed += decided is None
        else:
            stranger_unknown += decided is None
            stranger_resolved += decided is not None
        if decided is not None and decided != person:
            wrong += person in refs
            merges.append(f"{person}->{decided}")
    false = wrong + stranger_resolved
    precision = right / (right + false) if right + false else 1.0
    recall = right / (right + missed + wrong) if right + missed + wrong else 0.0
    print(
        f"\ntracks through the gate, {label} (match {config.match.threshold:.4f}, vote mean "
        f"{config.match.accept_mean:.4f}; {len(refs)} people enrolled + 1,000 synthetic):"
    )
    print(f"  enrolled people: {right} resolved correctly, {missed} unknown, {wrong} wrong")
    print(f"  not enrolled:    {stranger_unknown} unknown, {stranger_resolved} resolved")
    print(f"  precision {precision:.4f}  recall {recall:.4f}  false merges {false} {merges}")
    gallery.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--observations", type=int, default=200, help="per gallery size")
    parser.add_argument("--url", help="an already running Triton (gRPC host:port)")
    parser.add_argument("--qdrant-url", help="a Qdrant server instead of local mode")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="Local mode is not recommended")
    started = time.perf_counter()

    server = None if args.url else LocalTriton()
    if server is not None:
        server.start()
    try:
        url = args.url or (server.grpc_url if server else "")
        async with VisionClient(TritonSettings(url=url, call_timeout_s=60)) as client:
            await client.wait_ready()
            samples = await collect_samples(client)
    finally:
        if server is not None:
            server.stop()
    people = {s.person for s in samples}
    print(f"{len(samples)} real face samples of {len(people)} people from {MEDIA}")

    collection = f"bench-{uuid.uuid4().hex[:8]}"
    gallery_config = (
        GalleryConfig(url=args.qdrant_url, collection=collection)
        if args.qdrant_url
        else GalleryConfig(path=":memory:", collection=collection)
    )
    if not args.qdrant_url:
        print("gallery: embedded Qdrant (local mode) in memory; local mode is brute force")
    with tempfile.TemporaryDirectory() as tmp:
        audit = JsonlAuditLog(Path(tmp) / "audit.jsonl")
        service = calibrated(gallery_config)
        seeds = IdentityConfig(gallery=gallery_config)
        pair_quality(
            samples, {"calibrated": service.match.threshold, "seeds'": seeds.match.threshold}
        )
        track_quality(samples, service, audit, "calibrated thresholds")
        track_quality(samples, seeds, audit, "the seeds' thresholds")
        latency(args.sizes, samples, args.observations, gallery_config, audit)
        audit.close()
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    asyncio.run(main())
