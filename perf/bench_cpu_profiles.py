"""The CPU profiles side by side in one run: `vision_pipeline` through Triton with the
onnxruntime profile (`cpu`), the OpenVINO profile (`openvino`, INT8 versions pinned where
the repository has them), and the in-process OpenVINO ceiling (the same three models and
the same pre/post-processing in this process, no Triton); then the detector input size.

    .venv/bin/python perf/bench_cpu_profiles.py [--frames 40] [--profiles cpu,openvino]

Printed, per path: frames/s and p50/p99 latency at concurrency 1, 4 and 8 (c frames in
flight: c client calls for Triton, c threads in process), the ratio to the ceiling at the
same concurrency (target: >= 30 frames/s through Triton), and the agreement with
onnxruntime FP32 in process (the reference): person boxes F1 at IoU 0.5 and the cosine of
the embeddings of matched faces. Then in-process OpenVINO at input sizes 640, 480 and 320:
frames/s, and person/face boxes against 640. The load average is printed at the start and
the end: on a shared machine the figures are a floor.

JPEG frames in: vtest.avi (768x576) every 10th frame from the 5th, plus the photos.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort
import openvino as ov  # type: ignore[import-untyped]  # no type information shipped
from numpy.typing import NDArray

if __package__ in (None, ""):  # run as a script: make `perf` and the packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devservices.paths import MEDIA_DIR, MODEL_REPOSITORY
from devservices.triton import LocalTriton
from ensembles.ops.image import Image, decode_image
from ensembles.ops.pipeline import FrameOutputs, PipelineSettings, decode, prepare
from ensembles.ops.scrfd import OUTPUT_NAMES
from trinetra.inference import TritonSettings, VisionClient

F32 = NDArray[np.float32]
MODELS = ("person_detector", "face_detector", "face_embedder")
PHOTOS = ("bus.jpg", "t1.jpg", "players.jpg", "obama.jpg", "biden.jpg")
CONCURRENCY = (1, 4, 8)
INPUT_SIZES = (640, 480, 320)
TARGET_FPS = 30.0
CEILING = "ceiling: openvino in-process"
IN_FLIGHT = 2  # infer requests per thread and model: one per stream on 2 cores
# Each model's INFERENCE_PRECISION in configs/openvino.pbtxt (absent: the CPU's default,
# bf16 where the CPU has it); the ceiling compiles them alike.
PROFILE_PRECISIONS: dict[str, str] = {"face_detector": "f32"}

# The accuracy gates (issue 13): a candidate agrees with FP32 when person boxes match at
# F1 >= 0.97 (IoU 0.5) and the embeddings of matched faces at cosine >= 0.99. Boxes are
# compared from score 0.25 (Ultralytics' default confidence): the pipeline keeps boxes
# from 0.1 for ByteTrack, and a score crossing 0.1 either way is no disagreement.
GATE_IOU = 0.5
GATE_MIN_SCORE = 0.25
GATE_PERSON_F1 = 0.97
GATE_EMBEDDING_COSINE = 0.99


# ---------------------------------------------------------------------------- frames


def video_frames(step: int, offset: int, limit: int) -> list[Image]:
    """Every `step`-th frame of vtest.avi from `offset`, at most `limit`."""
    capture = cv2.VideoCapture(str(MEDIA_DIR / "vtest.avi"))
    frames: list[Image] = []
    index = 0
    while len(frames) < limit:
        ok, frame = capture.read()
        if not ok:
            break
        if index >= offset and (index - offset) % step == 0:
            frames.append(np.asarray(frame, np.uint8))
        index += 1
    capture.release()
    return frames


def sample_jpegs(count: int) -> list[bytes]:
    """`count` JPEG frames: vtest.avi every 10th frame from the 5th, then the photos."""
    photos = [(MEDIA_DIR / name).read_bytes() for name in PHOTOS]
    video = video_frames(10, 5, max(0, count - len(photos)))
    encoded = [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes() for f in video]
    return [*encoded, *photos][:count]


# ----------------------------------------------------------------------- agreement


@dataclass(frozen=True)
class Found:
    """What agreement is measured on, from any runtime: one frame's boxes and faces."""

    person_boxes: F32
    person_scores: F32
    face_boxes: F32
    face_embeddings: F32

    @classmethod
    def of(cls, outputs: FrameOutputs) -> Found:
        return cls(
            outputs.person_boxes,
            outputs.person_scores,
            outputs.face_boxes,
            outputs.face_embeddings,
        )


def iou_matrix(a: F32, b: F32) -> F32:
    """IoU of every box of `a` [N, 4] with every box of `b` [M, 4] (x1, y1, x2, y2)."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


def match_boxes(reference: F32, candidate: F32, iou: float) -> list[tuple[int, int]]:
    """One-to-one pairs (reference row, candidate row) at IoU >= `iou`, best IoU first."""
    if not len(reference) or not len(candidate):
        return []
    overlaps = iou_matrix(reference, candidate)
    pairs: list[tuple[int, int]] = []
    used_r: set[int] = set()
    used_c: set[int] = set()
    for flat in np.argsort(-overlaps, axis=None):
        r, c = divmod(int(flat), overlaps.shape[1])
        if overlaps[r, c] < iou:
            break
        if r not in used_r and c not in used_c:
            pairs.append((r, c))
            used_r.add(r)
            used_c.add(c)
    return pairs


@dataclass(frozen=True)
class BoxAgreement:
    matched: int
    reference: int
    candidate: int

    @property
    def f1(self) -> float:
        total = self.reference + self.candidate
        return 1.0 if total == 0 else 2 * self.matched / total


def box_agreement(
    reference: Sequence[F32], candidate: Sequence[F32], iou: float = GATE_IOU
) -> BoxAgreement:
    """F1 of the candidate's boxes against the reference's, frame by frame."""
    matched = sum(len(match_boxes(r, c, iou)) for r, c in zip(reference, candidate, strict=True))
    return BoxAgreement(matched, sum(len(r) for r in reference), sum(len(c) for c in candidate))


def confident_persons(found: Found, min_score: float = GATE_MIN_SCORE) -> F32:
    return found.person_boxes[found.person_scores >= min_score]


def person_agreement(reference: Sequence[Found], candidate: Sequence[Found]) -> BoxAgreement:
    return box_agreement(
        [confident_persons(f) for f in reference], [confident_persons(f) for f in candidate]
    )


def embedding_cosines(reference: Sequence[Found], candidate: Sequence[Found]) -> F32:
    """Cosine between the embeddings of the same face (matched by box) in both runs;
    embeddings are L2-normalized, so the cosine is their dot product."""
    cosines = [
        float(r.face_embeddings[i] @ c.face_embeddings[j])
        for r, c in zip(reference, candidate, strict=True)
        for i, j in match_boxes(r.face_boxes, c.face_boxes, GATE_IOU)
    ]
    return np.asarray(cosines, np.float32)


@dataclass(frozen=True)
class Accuracy:
    persons: BoxAgreement
    faces: BoxAgreement
    cosines: F32

    @property
    def passes(self) -> bool:
        return self.persons.f1 >= GATE_PERSON_F1 and self.min_cosine >= GATE_EMBEDDING_COSINE

    @property
    def min_cosine(self) -> float:
        return float(self.cosines.min()) if len(self.cosines) else 1.0

    def summary(self) -> str:
        return (
            f"persons F1 {self.persons.f1:.3f} ({self.persons.matched}/{self.persons.reference}),"
            f" faces F1 {self.faces.f1:.3f}, embeddings cosine min {self.min_cosine:.4f}"
            f" mean {float(self.cosines.mean()) if len(self.cosines) else 1.0:.4f}"
            f" ({len(self.cosines)} faces)"
        )


def accuracy(reference: Sequence[Found], candidate: Sequence[Found]) -> Accuracy:
    return Accuracy(
        person_agreement(reference, candidate),
        box_agreement([f.face_boxes for f in reference], [f.face_boxes for f in candidate]),
        embedding_cosines(reference, candidate),
    )


# ------------------------------------------------------------- in-process pipelines


class Runtime:
    """The three models in this process; subclasses run them with one runtime."""

    def person(self, batch: F32) -> F32:
        raise NotImplementedError

    def faces(self, batch: F32) -> dict[str, F32]:
        raise NotImplementedError

    def embed(self, crops: F32) -> F32:
        raise NotImplementedError

    def detect(self, person_input: F32, face_input: F32) -> tuple[F32, dict[str, F32]]:
        """Both detectors (vision_pipeline runs them concurrently; here, in turn)."""
        return self.person(person_input), self.faces(face_input)


def model_file(model: str, version: int) -> Path:
    """A version's weights: an OpenVINO IR (model.xml, what perf/quantize_int8.py
    writes) where there is one, else model.onnx."""
    folder = MODEL_REPOSITORY / model / str(version)
    return folder / "model.xml" if (folder / "model.xml").exists() else folder / "model.onnx"


class OnnxRuntime(Runtime):
    """onnxruntime FP32 on version 1: the reference every profile is compared with."""

    def __init__(self) -> None:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.sessions = {
            m: ort.InferenceSession(str(model_file(m, 1)), options, ["CPUExecutionProvider"])
            for m in MODELS
        }

    def person(self, batch: F32) -> F32:
        return np.asarray(self.sessions["person_detector"].run(None, {"images": batch})[0])

    def faces(self, batch: F32) -> dict[str, F32]:
        session = self.sessions["face_detector"]
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(None, {"input.1": batch}), strict=True))

    def embed(self, crops: F32) -> F32:
        return np.asarray(self.sessions["face_embedder"].run(None, {"input.1": crops})[0])


def compile_properties(precision: str | None) -> dict[str, str]:
    properties = {"PERFORMANCE_HINT": "THROUGHPUT"}
    if precision:
        properties["INFERENCE_PRECISION_HINT"] = precision
    return properties


class OpenVino(Runtime):
    """The models compiled by OpenVINO as the openvino_cpu backend compiles them (CPU,
    THROUGHPUT hint, one sample per infer request), both detectors at once as in
    vision_pipeline. Thread-safe: each thread has its own infer requests, so c threads
    keep c frames in flight across OpenVINO's streams."""

    def __init__(
        self,
        versions: dict[str, int] | None = None,
        precisions: dict[str, str] | None = None,
        files: dict[str, Path] | None = None,
        input_size: int = PipelineSettings().input_size,
    ) -> None:
        core = ov.Core()
        chosen = {m: model_file(m, (versions or {}).get(m, 1)) for m in MODELS}
        chosen.update(files or {})
        precisions = PROFILE_PRECISIONS if precisions is None else precisions
        # Static shapes of one sample, as the backend compiles them from the config dims.
        sides = {"person_detector": input_size, "face_detector": input_size, "face_embedder": 112}
        self.compiled = {}
        for model, path in chosen.items():
            graph = core.read_model(str(path))
            graph.reshape({graph.inputs[0].get_any_name(): [1, 3, sides[model], sides[model]]})
            properties = compile_properties(precisions.get(model))
            self.compiled[model] = core.compile_model(graph, "CPU", properties)
        self.local = threading.local()

    def _requests(self, model: str) -> list[Any]:
        pools: dict[str, list[Any]] = self.local.__dict__.setdefault("requests", {})
        if model not in pools:
            pools[model] = [self.compiled[model].create_infer_request() for _ in range(IN_FLIGHT)]
        return pools[model]

    def run(self, jobs: Sequence[tuple[str, F32, Sequence[str]]]) -> list[list[F32]]:
        """Each job (model, batch, output names) one sample per request, IN_FLIGHT requests
        per model at once, all jobs together: each job's named outputs."""
        results: list[list[list[F32]]] = [[[] for _ in batch] for _, batch, _ in jobs]
        pending: dict[int, tuple[Any, int, int, Sequence[str]]] = {}
        turns: dict[str, int] = {}

        def collect(request: Any, job: int, sample: int, outputs: Sequence[str]) -> None:
            request.wait()
            results[job][sample] = [np.array(request.get_tensor(n).data) for n in outputs]

        for job, (model, batch, outputs) in enumerate(jobs):
            pool = self._requests(model)
            for sample in range(len(batch)):
                turns[model] = turns.get(model, -1) + 1
                request = pool[turns[model] % len(pool)]
                if id(request) in pending:
                    collect(*pending.pop(id(request)))
                request.start_async({0: batch[sample : sample + 1]})
                pending[id(request)] = (request, job, sample, outputs)
        for entry in pending.values():
            collect(*entry)
        return [[np.concatenate(parts) for parts in zip(*job, strict=True)] for job in results]

    def person(self, batch: F32) -> F32:
        return self.run([("person_detector", batch, ["output0"])])[0][0]

    def faces(self, batch: F32) -> dict[str, F32]:
        (outputs,) = self.run([("face_detector", batch, OUTPUT_NAMES)])
        return dict(zip(OUTPUT_NAMES, outputs, strict=True))

    def embed(self, crops: F32) -> F32:
        return self.run([("face_embedder", crops, ["516"])])[0][0]

    def detect(self, person_input: F32, face_input: F32) -> tuple[F32, dict[str, F32]]:
        head, faces = self.run(
            [
                ("person_detector", person_input, ["output0"]),
                ("face_detector", face_input, OUTPUT_NAMES),
            ]
        )
        return head[0], dict(zip(OUTPUT_NAMES, faces, strict=True))


class InProcessPipeline:
    """vision_pipeline's steps in process, on a runtime: the same code as the Triton model."""

    def __init__(self, runtime: Runtime, settings: PipelineSettings | None = None) -> None:
        self.runtime = runtime
        self.settings = settings or PipelineSettings()

    def __call__(self, frame: Image | bytes) -> FrameOutputs:
        image = decode_image(frame) if isinstance(frame, bytes) else frame
        batch = prepare([image], self.settings)
        head, faces = self.runtime.detect(batch.person_input, batch.face_input)
        found = decode(batch, head, {n: faces[n] for n in OUTPUT_NAMES}, self.settings)
        embeddings = (
            self.runtime.embed(found.crops) if len(found.crops) else np.zeros((0, 512), np.float32)
        )
        return found.results(embeddings)[0]


# ----------------------------------------------------------------------- throughput


@dataclass(frozen=True)
class Throughput:
    name: str
    concurrency: int
    frames: int
    seconds: float
    latencies: tuple[float, ...]

    @property
    def fps(self) -> float:
        return self.frames / self.seconds

    def row(self, ceiling: float | None) -> str:
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        ratio = f"{self.fps / ceiling:6.2f}x" if ceiling else "      -"
        return (
            f"{self.name:<34} {self.concurrency:>3} {self.fps:8.2f} {p50:8.1f} {p99:8.1f} {ratio}"
        )


def in_process_throughput(
    name: str, pipeline: Callable[[bytes], object], jpegs: list[bytes], concurrency: int
) -> Throughput:
    """`concurrency` threads, each taking the next frame: decode, models, post-processing."""
    pipeline(jpegs[0])  # warm-up

    def timed(jpeg: bytes) -> float:
        start = time.perf_counter()
        pipeline(jpeg)
        return time.perf_counter() - start

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = tuple(pool.map(timed, jpegs))
    return Throughput(name, concurrency, len(jpegs), time.perf_counter() - start, latencies)


def found_of(analysis: Any) -> Found:
    return Found(
        analysis.persons.xyxy,
        analysis.persons.confidence,
        analysis.faces.xyxy,
        analysis.faces.embeddings,
    )


async def triton_run(
    url: str, name: str, jpegs: list[bytes], concurrency: int, versions: dict[str, int]
) -> tuple[Throughput, list[Found]]:
    """`concurrency` client calls in flight over the frames; each frame's outputs too."""
    settings = TritonSettings(url=url, call_timeout_s=120, model_versions=versions)
    async with VisionClient(settings) as client:
        await client.wait_ready()
        await asyncio.gather(*(client.analyze(jpegs[0]) for _ in range(concurrency)))
        results: list[Found | None] = [None] * len(jpegs)
        latencies: list[float] = []
        pending = list(enumerate(jpegs))

        async def worker() -> None:
            while pending:
                index, jpeg = pending.pop(0)
                start = time.perf_counter()
                results[index] = found_of(await client.analyze(jpeg))
                latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - start
    found = [r for r in results if r is not None]
    return Throughput(name, concurrency, len(jpegs), seconds, tuple(latencies)), found


def int8_versions() -> dict[str, int]:
    """The repository's INT8 versions (OpenVINO IR folders written by quantize_int8.py)."""
    versions = {}
    for model in MODELS:
        found = [
            int(d.name)
            for d in (MODEL_REPOSITORY / model).iterdir()
            if d.name.isdigit() and (d / "model.xml").exists()
        ]
        if found:
            versions[model] = max(found)
    return versions


# --------------------------------------------------------------------------- report


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def header() -> str:
    return f"{'path':<34} {'c':>3} {'frames/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'/ceiling':>7}"


def input_size_rows(jpegs: list[bytes]) -> list[str]:
    """In-process OpenVINO at each input size: frames/s at concurrency 4, and persons and
    faces against 640 (recall is what a smaller input loses: small, far people and faces)."""
    frames = [decode_image(j) for j in jpegs]
    outputs: dict[int, list[Found]] = {}
    rows = []
    for size in INPUT_SIZES:
        settings = dataclasses.replace(PipelineSettings(), input_size=size)
        pipeline = InProcessPipeline(OpenVino(input_size=size), settings)
        speed = in_process_throughput(f"openvino in-process {size}", pipeline, jpegs, 4)
        outputs[size] = [Found.of(pipeline(f)) for f in frames]
        persons = person_agreement(outputs[INPUT_SIZES[0]], outputs[size])
        faces = box_agreement(
            [f.face_boxes for f in outputs[INPUT_SIZES[0]]], [f.face_boxes for f in outputs[size]]
        )
        values = (
            speed.fps,
            persons.f1,
            persons.matched / max(1, persons.reference),
            faces.f1,
            faces.matched / max(1, faces.reference),
        )
        rows.append(f"{size:>5} " + " ".join(f"{value:10.3f}" for value in values))
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--profiles", default="cpu,openvino", help="Triton profiles to run")
    args = parser.parse_args()
    jpegs = sample_jpegs(args.frames)
    print(f"start: {load()}", flush=True)

    reference = [Found.of(out) for out in map(InProcessPipeline(OnnxRuntime()), jpegs)]
    ceiling_pipeline = InProcessPipeline(OpenVino())
    ceiling = {c: in_process_throughput(CEILING, ceiling_pipeline, jpegs, c) for c in CONCURRENCY}
    accuracies = {CEILING: accuracy(reference, [Found.of(ceiling_pipeline(j)) for j in jpegs])}
    rows: list[Throughput] = []
    runs: list[tuple[str, dict[str, int]]] = [(p, {}) for p in args.profiles.split(",")]
    if int8_versions() and "openvino" in args.profiles.split(","):
        runs.append(("openvino", int8_versions()))
    for profile, versions in runs:
        name = f"triton {profile}" + (" int8 " + ",".join(versions) if versions else "")
        print(f"starting Triton, profile {profile}...", flush=True)
        with LocalTriton(profile=profile) as server:
            for c in CONCURRENCY:
                speed, found = await triton_run(server.grpc_url, name, jpegs, c, versions)
                rows.append(speed)
            accuracies[name] = accuracy(reference, found)
    sizes = input_size_rows(jpegs)
    print(f"end: {load()}\n")

    print(f"{len(jpegs)} JPEG frames (vtest.avi 768x576 + {', '.join(PHOTOS)})\n")
    print(header())
    for c in CONCURRENCY:
        print(ceiling[c].row(None))
    for row in rows:
        print(row.row(ceiling[row.concurrency].fps))
    best = max((r for r in rows), key=lambda r: r.fps, default=None)
    if best:
        verdict = "met" if best.fps >= TARGET_FPS else "NOT met"
        print(
            f"\ntarget: >= {TARGET_FPS:.0f} frames/s through Triton -> best {best.fps:.1f} "
            f"({best.name}, c={best.concurrency}): {verdict}"
        )
    print(
        "\nagreement with onnxruntime FP32 in process "
        f"(gates: persons F1 >= {GATE_PERSON_F1}, cosine >= {GATE_EMBEDDING_COSINE})"
    )
    for name, result in accuracies.items():
        print(f"  {name:<34} {result.summary()}  {'pass' if result.passes else 'FAIL'}")
    print("\ndetector input size (in-process OpenVINO, concurrency 4; boxes against 640)")
    columns = ("frames/s", "person F1", "recall", "face F1", "recall")
    print(f"{'size':>5} " + " ".join(f"{name:>10}" for name in columns))
    for line in sizes:
        print(line)


if __name__ == "__main__":
    asyncio.run(main())
