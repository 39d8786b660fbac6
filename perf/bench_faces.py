"""Face identity benchmark and calibration on a labelled photo set (../shared/faces).

    .venv/bin/python perf/bench_faces.py --faces ../shared/faces [--url HOST:PORT]
        [--target-far 1e-5] [--write-calibration model_repository/face_embedder/1/calibration.json]
        [--cache embeddings.npz]

The photos go through the real vision pipeline (without --url the CPU Triton server is
started here); in each photo the labelled person is the largest face. Every photo is also
seen in four variants (mirrored, darker, smaller, slightly rotated), which stand for the
frames of one track: a track is one sighting, so its faces come from one photo.

Printed:
- genuine (same person, different photos) and impostor score distributions;
- the calibration for the target false-accept rate (`identity.calibrate`), with what the
  number of impostor pairs can and cannot claim;
- enrolled people through the full gate (quality gate, 5-observation vote, consistency):
  each identity enrolled from up to 3 photos, every other photo a returning-visit track;
  recall at zero false merges, and leave-one-identity-out tracks that must never resolve;
- anonymous visit linking (nobody enrolled): each photo a track on its own camera, in
  turn; a pair of tracks of one person sharing a visit id is a true link, of two people a
  false one: precision and recall over track pairs.

The labelled set is for calibration and this benchmark only; the tests never read it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
import tomllib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from prometheus_client import CollectorRegistry

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devservices.paths import REPO_ROOT
from devservices.triton import LocalTriton
from identity.audit import AuditContext, MemoryAuditLog
from identity.calibrate import FarCalibration, calibrate_far, to_calibration
from identity.calibration import CalibrationData, EmbedderCalibration, write_calibration
from identity.config import GalleryConfig, IdentityConfig
from identity.gallery import FaceGallery
from identity.gate import IdentityGate, Observation
from identity.metrics import IdentityMetrics
from identity.quality import FaceMeasures
from trinetra.inference import TritonSettings, VisionClient

Vector = NDArray[np.float32]
VARIANTS = ("orig", "mirror", "dark", "small", "rotated")
MAX_SIDE = 1600  # larger photos are shrunk before the pipeline (faces stay > 100 px)
T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)
CTX = AuditContext("bench", "face benchmark")


@dataclass(frozen=True)
class Face:
    """The labelled person's face in one variant of one photo."""

    person: str
    photo: str
    variant: str
    embedding: Vector
    measures: FaceMeasures


def _variant(image: NDArray[np.uint8], name: str) -> NDArray[np.uint8]:
    if name == "mirror":
        return np.ascontiguousarray(cv2.flip(image, 1))
    if name == "dark":
        return (image * 0.55).astype(np.uint8)
    if name == "small":
        return np.asarray(cv2.resize(image, None, fx=0.6, fy=0.6), np.uint8)
    if name == "rotated":
        h, w = image.shape[:2]
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 8.0, 1.0)
        return np.asarray(cv2.warpAffine(image, matrix, (w, h)), np.uint8)
    return image


def _load(path: Path) -> NDArray[np.uint8]:
    # imread goes by content, so img47.jpg (a WebP) reads too.
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot read {path}")
    scale = MAX_SIDE / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(image, np.uint8)


async def collect(client: VisionClient, root: Path) -> list[Face]:
    identities = json.loads((root / "identities.json").read_text())["identities"]
    faces: list[Face] = []
    for identity in identities:
        for file in identity["files"]:
            image = _load(root / file)
            for name in VARIANTS:
                found = (await client.analyze(_variant(image, name))).faces
                if len(found) == 0:
                    continue
                area = (found.xyxy[:, 2] - found.xyxy[:, 0]) * (found.xyxy[:, 3] - found.xyxy[:, 1])
                i = int(np.argmax(area))
                measures = FaceMeasures.of(found.xyxy[i], found.confidence[i], found.landmarks[i])
                faces.append(Face(identity["id"], file, name, found.embeddings[i], measures))
    return faces


def save_cache(path: Path, faces: Sequence[Face]) -> None:
    np.savez(
        path,
        person=np.array([f.person for f in faces]),
        photo=np.array([f.photo for f in faces]),
        variant=np.array([f.variant for f in faces]),
        embedding=np.stack([f.embedding for f in faces]),
        box=np.array([f.measures.box for f in faces], np.float32),
        score=np.array([f.measures.score for f in faces], np.float32),
        landmarks=np.array([f.measures.landmarks for f in faces], np.float32),
    )


def load_cache(path: Path) -> list[Face]:
    data = np.load(path)
    out = []
    for i in range(len(data["person"])):
        measures = FaceMeasures.of(data["box"][i], data["score"][i], data["landmarks"][i])
        out.append(
            Face(
                str(data["person"][i]),
                str(data["photo"][i]),
                str(data["variant"][i]),
                data["embedding"][i].astype(np.float32),
                measures,
            )
        )
    return out


def originals(faces: Sequence[Face]) -> list[Face]:
    return [f for f in faces if f.variant == "orig"]


def pairs(faces: Sequence[Face]) -> tuple[list[float], list[bool]]:
    """Every pair of original photos: cosine score, same person or not."""
    scores: list[float] = []
    labels: list[bool] = []
    for a, b in itertools.combinations(originals(faces), 2):
        scores.append(float(a.embedding @ b.embedding))
        labels.append(a.person == b.person)
    return scores, labels


def _quantiles(values: NDArray[np.float64]) -> str:
    q = np.quantile(values, [0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0])
    names = ("min", "p1", "p5", "p25", "median", "p75", "p95", "p99", "max")
    return "  ".join(f"{n} {v:.3f}" for n, v in zip(names, q, strict=True))


def _histogram(genuine: NDArray[np.float64], impostor: NDArray[np.float64]) -> None:
    edges = np.arange(-0.3, 1.01, 0.1)
    g, _ = np.histogram(genuine, edges)
    i, _ = np.histogram(impostor, edges)
    print("  score bin      genuine  impostor")
    for lo, hi, ng, ni in zip(edges[:-1], edges[1:], g, i, strict=True):
        print(f"  [{lo:+.1f}, {hi:+.1f})  {ng:>7}  {ni:>8}")


def print_distributions(scores: list[float], labels: list[bool]) -> None:
    s = np.asarray(scores, np.float64)
    y = np.asarray(labels)
    print(f"\npairs of original photos: {int(y.sum())} genuine, {int((~y).sum())} impostor")
    print(f"  genuine:  {_quantiles(s[y])}")
    print(f"  impostor: {_quantiles(s[~y])}")
    print(f"  impostor mean {s[~y].mean():.3f}, sd {s[~y].std(ddof=1):.3f}")
    _histogram(s[y], s[~y])


def print_calibration(result: FarCalibration) -> None:
    far = result.far
    print(f"\ncalibration for a false-accept rate of {far.target_far:g} per comparison")
    print(
        f"  match threshold {result.match_threshold:.4f} ({far.basis}), vote mean "
        f"{result.accept_mean:.4f}, companion {result.companion_threshold:.4f}, "
        f"consistency {result.consistency_threshold:.4f}"
    )
    print(
        f"  false accepts {far.false_accepts} of {far.impostor_pairs} impostor pairs: "
        f"FAR <= {far.far_upper_bound:.2e} at {far.confidence:.0%} (Clopper-Pearson)"
    )
    if not far.target_supported:
        print(
            f"  the data cannot show FAR <= {far.target_far:g}: that needs "
            f"{far.impostor_pairs_needed:,} impostor pairs without a false accept; the "
            "threshold is the normal-tail extrapolation, the claim stays the bound above"
        )
    tail = result.tail
    print(
        f"  impostor tail fit (through its 95th and 99th percentiles): mean {tail.mean:.3f}, "
        f"sd {tail.sd:.3f}; highest impostor {tail.max:.3f}"
    )
    r = result.recall
    print(
        f"  single-comparison recall {r.recall:.3f} ({r.accepted}/{r.genuine_pairs}), "
        f"95% interval [{r.lower:.3f}, {r.upper:.3f}]"
    )


def _gate(config: IdentityConfig) -> tuple[IdentityGate, FaceGallery]:
    metrics = IdentityMetrics(CollectorRegistry())
    gallery = FaceGallery(config.gallery, audit_sink=MemoryAuditLog(), metrics=metrics)
    return IdentityGate(config, gallery, metrics=metrics), gallery


class Clock:
    """Observation times: tracks of one person far enough apart for every gate."""

    def __init__(self) -> None:
        self.t = 0.0

    def track(self, faces: Sequence[Face]) -> list[tuple[datetime, Face]]:
        out = [(T0 + timedelta(seconds=self.t + 0.2 * i), f) for i, f in enumerate(faces)]
        self.t += 120.0
        return out


def _observe(
    gate: IdentityGate, camera: str, track: int, timed: list[tuple[datetime, Face]]
) -> tuple[str | None, str]:
    """(customer the track was resolved to at any point, its visit id at the end)."""
    customer: str | None = None
    visit = ""
    for at, face in timed:
        decision = gate.observe(
            Observation(camera, track, at, (face.embedding,), face=face.measures)
        )
        customer = decision.customer_id or customer
        visit = str(decision.visit_id)
    return customer, visit


def by_photo(faces: Sequence[Face]) -> dict[tuple[str, str], list[Face]]:
    out: dict[tuple[str, str], list[Face]] = {}
    for f in faces:
        out.setdefault((f.person, f.photo), []).append(f)
    return out


def enrolled_recall(faces: Sequence[Face], config: IdentityConfig, enrol_photos: int) -> None:
    photos = by_photo(faces)
    people: dict[str, list[str]] = {}
    for person, photo in photos:
        people.setdefault(person, []).append(photo)
    gate, gallery = _gate(config)
    enrolled: dict[str, list[str]] = {}
    for person, files in people.items():
        take = files[: min(enrol_photos, len(files) - 1)]
        for photo in take:
            orig = next(f for f in photos[(person, photo)] if f.variant == "orig")
            gallery.add(person, orig.embedding, ctx=CTX, camera_id="enrollment")
        enrolled[person] = take
    clock = Clock()
    right = missed = wrong = 0
    wrong_names: list[str] = []
    track = 0
    for (person, photo), samples in sorted(photos.items()):
        if photo in enrolled[person]:
            continue
        track += 1
        customer, _ = _observe(gate, "cam", track, clock.track(samples))
        if customer == person:
            right += 1
        elif customer is None:
            missed += 1
        else:
            wrong += 1
            wrong_names.append(f"{person}->{customer}")
    gallery.close()
    total = right + missed + wrong
    print(
        f"  enrolled from up to {enrol_photos} photo(s): {right}/{total} returning tracks "
        f"resolved (recall {right / total:.3f}), {missed} unknown, {wrong} false merges "
        f"{wrong_names}"
    )


def strangers(faces: Sequence[Face], config: IdentityConfig) -> None:
    """Leave one identity out: its photos as tracks must never resolve to anyone."""
    photos = by_photo(faces)
    people = sorted({p for p, _ in photos})
    resolved = tracks = 0
    merges: list[str] = []
    for absent in people:
        gate, gallery = _gate(config)
        for (person, _photo), samples in photos.items():
            if person != absent:
                orig = next(f for f in samples if f.variant == "orig")
                gallery.add(person, orig.embedding, ctx=CTX, camera_id="enrollment")
        clock = Clock()
        for track, ((person, _photo), samples) in enumerate(sorted(photos.items())):
            if person != absent:
                continue
            tracks += 1
            customer, _ = _observe(gate, "cam", track, clock.track(samples))
            if customer is not None:
                resolved += 1
                merges.append(f"{absent}->{customer}")
        gallery.close()
    print(
        f"  not enrolled (leave one identity out, everyone else enrolled from all photos): "
        f"{tracks} tracks, {resolved} resolved {merges}"
    )


def visit_linking(faces: Sequence[Face], config: IdentityConfig) -> None:
    """Nobody enrolled; all 13 people in the store at once: their photos interleaved (one
    of each person's in turn), each photo a track on the next of 4 cameras, 20 s apart."""
    photos = by_photo(faces)
    per_person: dict[str, list[tuple[str, str]]] = {}
    for key in sorted(photos):
        per_person.setdefault(key[0], []).append(key)
    order = [
        key
        for round_ in itertools.zip_longest(*per_person.values())
        for key in round_
        if key is not None
    ]
    gate, gallery = _gate(config)
    visits: dict[tuple[str, str], str] = {}
    for track, key in enumerate(order):
        camera = f"cam-{track % 4}"
        start = T0 + timedelta(seconds=20.0 * track)
        timed = [(start + timedelta(seconds=0.2 * i), f) for i, f in enumerate(photos[key])]
        _, visit = _observe(gate, camera, track, timed)
        gate.end_track(camera, track)
        visits[key] = visit
    gallery.close()
    true_links = false_links = same_pairs = 0
    for (a, va), (b, vb) in itertools.combinations(visits.items(), 2):
        same = a[0] == b[0]
        same_pairs += same
        if va == vb:
            true_links += same
            false_links += not same
    linked = true_links + false_links
    precision = true_links / linked if linked else 1.0
    recall = true_links / same_pairs if same_pairs else 0.0
    print(
        f"\nanonymous visit linking ({len(visits)} tracks of {len({p for p, _ in visits})} "
        f"people, nobody enrolled): precision {precision:.3f} ({false_links} false links), "
        f"recall {recall:.3f} ({true_links}/{same_pairs} same-person track pairs linked), "
        f"{len(set(visits.values()))} visit ids"
    )


def held_out(faces: Sequence[Face], target_far: float) -> None:
    """Calibrate on half of the identities, measure on the other half (and back): the
    figures above are in-sample, these are not."""
    people = sorted({f.person for f in faces})
    folds = (set(people[0::2]), set(people[1::2]))
    print("\nheld out: calibrated on half of the identities, measured on the other half")
    for train, test in (folds, folds[::-1]):
        scores, labels = pairs([f for f in faces if f.person in train])
        result = calibrate_far(scores, labels, target_far=target_far)
        calibration = to_calibration(
            result,
            version=1,
            data=CalibrationData(name="fold"),
            produced_by="perf/bench_faces.py held-out fold",
        )
        config = IdentityConfig(gallery=GalleryConfig(path=":memory:")).with_calibration(
            calibration
        )
        subset = [f for f in faces if f.person in test]
        print(
            f" calibrated on {len(train)} identities (threshold "
            f"{calibration.match_threshold:.4f}), measured on the other {len(test)}:"
        )
        enrolled_recall(subset, config, enrol_photos=1)
        strangers(subset, config)


def quality_summary(faces: Sequence[Face], config: IdentityConfig) -> None:
    from identity.quality import QualityGate

    gate = QualityGate(config.quality.thresholds())
    reasons: dict[str, int] = {}
    for f in faces:
        verdict = gate.check(f.measures)
        reasons[verdict.reason] = reasons.get(verdict.reason, 0) + 1
    print(f"\nquality gate on {len(faces)} faces (photos x variants): {reasons}")


def _weights_sha256(version: int) -> str | None:
    """The pinned sha256 of the default embedder weights, if `version` is theirs."""
    weights = tomllib.loads((REPO_ROOT / "model_repository" / "weights.toml").read_text())
    entry = weights.get("face_embedder", {})
    return str(entry["sha256"]) if entry.get("version") == version else None


async def embed(args: argparse.Namespace) -> list[Face]:
    if args.cache and args.cache.exists():
        return load_cache(args.cache)
    server = None if args.url else LocalTriton()
    if server is not None:
        server.start()
    try:
        url = args.url or (server.grpc_url if server else "")
        async with VisionClient(TritonSettings(url=url, call_timeout_s=120)) as client:
            await client.wait_ready()
            faces = await collect(client, args.faces)
    finally:
        if server is not None:
            server.stop()
    if args.cache:
        save_cache(args.cache, faces)
    return faces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=Path, required=True, help="the labelled set's folder")
    parser.add_argument("--url", help="an already running Triton (gRPC host:port)")
    parser.add_argument("--target-far", type=float, default=1e-5)
    parser.add_argument("--version", type=int, default=1, help="face_embedder version")
    parser.add_argument("--write-calibration", type=Path, help="write the calibration here")
    parser.add_argument("--cache", type=Path, help="reuse/keep the embeddings (npz)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="Local mode is not recommended")
    started = time.perf_counter()
    faces = asyncio.run(embed(args))
    print(
        f"{len(faces)} faces ({len(originals(faces))} photos x up to {len(VARIANTS)} "
        f"variants) of {len({f.person for f in faces})} people from {args.faces}"
    )
    scores, labels = pairs(faces)
    print_distributions(scores, labels)
    result = calibrate_far(scores, labels, target_far=args.target_far)
    print_calibration(result)
    calibration: EmbedderCalibration = to_calibration(
        result,
        version=args.version,
        data=CalibrationData(
            name="shared/faces set A",
            description="13 identities, 61 press and portrait photos from serengil/deepface "
            "(commit 243209f, tests/unit/dataset), grouped by the repository's labelled "
            "'Yes' pairs; embedded by vision_pipeline (CPU profile: SCRFD-500M, 5-point "
            "alignment, this embedder), photos shrunk to 1600 px at most; the labelled "
            "person is the largest face; one pair per two original photos",
            identities=len({f.person for f in faces}),
            photos=len(originals(faces)),
        ),
        produced_by=f"perf/bench_faces.py --faces ../shared/faces --target-far {args.target_far:g}",
        weights_sha256=_weights_sha256(args.version),
    )
    if args.write_calibration:
        write_calibration(calibration, args.write_calibration)
        print(f"  written to {args.write_calibration}")
    config = IdentityConfig(gallery=GalleryConfig(path=":memory:")).with_calibration(calibration)
    quality_summary(faces, config)
    print("\nenrolled people through the gate (5-observation vote, calibrated thresholds)")
    enrolled_recall(faces, config, enrol_photos=3)
    enrolled_recall(faces, config, enrol_photos=1)
    strangers(faces, config)
    seeds = IdentityConfig(gallery=GalleryConfig(path=":memory:"))
    print(
        f"\nthe same with the seeds' thresholds ({seeds.match.threshold}, vote mean "
        f"{seeds.match.accept_mean}), for comparison"
    )
    enrolled_recall(faces, seeds, enrol_photos=3)
    enrolled_recall(faces, seeds, enrol_photos=1)
    strangers(faces, seeds)
    held_out(faces, args.target_far)
    visit_linking(faces, config)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
