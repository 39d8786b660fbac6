"""INT8 versions of the three CPU models by NNCF post-training quantization: the ML
team's recipe, measured against OpenVINO FP32 at batch sizes 1, 4 and 8 in the same run,
with the accuracy gates. A version is kept only where it gains.

    # once: NNCF is the ML team's tool, not part of `make setup`
    .venv/bin/uv pip install --python .venv/bin/python nncf==3.4.0
    .venv/bin/python perf/quantize_int8.py [--model person_detector ...] [--write]

Calibration data (the project's sample media, .cache/media): vtest.avi every 10th frame
from frame 0, bus.jpg and players.jpg for the detectors (their letterboxed 640 inputs);
for the embedder, the aligned crops of every face FP32 finds in the photos and those
frames. Evaluation: the frames held out (every 10th from the 5th) and the photos of
perf/bench_cpu_profiles.py, through the whole in-process pipeline with only the
quantized model swapped in, against the same pipeline in FP32 as the openvino profile
compiles it (configs/openvino.pbtxt precisions).

Gates (perf/bench_cpu_profiles.py): person boxes F1 >= 0.97 at IoU 0.5; embeddings of
matched faces cosine >= 0.99; for the face detector also face boxes F1 >= 0.97. Speed:
samples/s with a static batch of 1, 4 and 8, THROUGHPUT hint, an infer queue of
OpenVINO's optimal size. Kept: the gates pass and INT8's best samples/s beats FP32's
best by KEEP_GAIN.

--write stores each kept model as the next version, `model_repository/<model>/<N>/`
model.xml + model.bin (OpenVINO IR: NNCF's ONNX path does not import with onnx 1.22),
served by the `openvino` profile only; like all weights it is never committed. None is
kept today (model_repository/README.md has the figures): on the 2-core development CPU
(AVX-512 BF16) OpenVINO already runs the FP32 weights in bf16, and every INT8 model
failed a gate; only the face detector was ever faster.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov  # type: ignore[import-untyped]  # no type information shipped

if __package__ in (None, ""):  # run as a script: make `perf` and the packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devservices.paths import MEDIA_DIR, MODEL_REPOSITORY
from ensembles.ops.image import Image, decode_image
from ensembles.ops.pipeline import PipelineSettings, decode, prepare
from perf.bench_cpu_profiles import (
    F32,
    GATE_PERSON_F1,
    MODELS,
    PHOTOS,
    PROFILE_PRECISIONS,
    Accuracy,
    Found,
    InProcessPipeline,
    OpenVino,
    accuracy,
    compile_properties,
    model_file,
    video_frames,
)

BATCH_SIZES = (1, 4, 8)
KEEP_GAIN = 1.10  # INT8 must be at least 10% faster to be worth a version
CALIBRATION_PHOTOS = ("bus.jpg", "players.jpg")
# Layers left in floating point, where 8 bits cost the most accuracy: YOLO's detection
# head after its last convolutions (box decoding: coordinates up to 640 in the same
# tensor as 0-1 scores), and SCRFD's nine output convolutions (scores, box distances,
# landmarks at strides 8/16/32), whose outputs are decoded directly.
FLOAT_LAYERS: dict[str, dict[str, list[str]]] = {
    "person_detector": {
        "patterns": [f".*/model.23/.*/{op}.*" for op in ("Add", "Sub", "Mul", "Div")]
        + [".*/model.23/dfl.*"],
        "types": ["Sigmoid"],
    },
    "face_detector": {
        "names": [f"Conv_{n}/WithoutBiases" for n in (118, 119, 120, 145, 146, 147, 172, 173, 174)]
    },
}


@dataclass(frozen=True)
class Media:
    calibration: list[Image]
    evaluation: list[Image]


def sample_media() -> Media:
    photos = [decode_image((MEDIA_DIR / name).read_bytes()) for name in PHOTOS]
    return Media(
        calibration=[
            *video_frames(10, 0, 80),
            *(decode_image((MEDIA_DIR / n).read_bytes()) for n in CALIBRATION_PHOTOS),
        ],
        evaluation=[*video_frames(10, 5, 40), *photos],
    )


def calibration_inputs(model: str, frames: list[Image]) -> list[F32]:
    """One input array [1, ...] per calibration sample, as vision_pipeline feeds the model."""
    settings = PipelineSettings()
    prepared = [prepare([frame], settings) for frame in frames]
    if model == "person_detector":
        return [batch.person_input for batch in prepared]
    if model == "face_detector":
        return [batch.face_input for batch in prepared]
    # The embedder sees aligned face crops: those FP32 finds in these frames.
    fp32 = OpenVino()
    crops: list[F32] = []
    for batch in prepared:
        faces = fp32.faces(batch.face_input)
        found = decode(batch, fp32.person(batch.person_input), faces, settings)
        crops.extend(crop[None] for crop in found.crops)
    return crops


def quantize(model: str, samples: list[F32]) -> Any:
    """The INT8 OpenVINO model: NNCF post-training quantization, calibrated on `samples`."""
    try:
        import nncf  # the ML team's tool, not installed by setup: see the docstring
    except ImportError:
        raise SystemExit(
            "nncf is not installed: .venv/bin/uv pip install --python .venv/bin/python nncf==3.4.0"
        ) from None
    graph = ov.Core().read_model(str(model_file(model, 1)))
    # MIXED: symmetric weights, asymmetric activations (detector inputs are not centred).
    return nncf.quantize(
        graph,
        nncf.Dataset(samples),
        preset=nncf.QuantizationPreset.MIXED,
        subset_size=len(samples),
        ignored_scope=nncf.IgnoredScope(**FLOAT_LAYERS.get(model, {}), validate=False),
    )


def samples_per_second(graph: Any, sample: F32, batch: int, precision: str | None) -> float:
    """Throughput with a static batch: an infer queue of OpenVINO's optimal size, kept full."""
    core = ov.Core()
    shaped = graph.clone()
    shaped.reshape({shaped.inputs[0].get_any_name(): [batch, *sample.shape[1:]]})
    compiled = core.compile_model(shaped, "CPU", compile_properties(precision))
    queue = ov.AsyncInferQueue(
        compiled, int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    )
    data = np.repeat(sample, batch, axis=0)
    for _ in range(len(queue)):
        queue.start_async({0: data})
    queue.wait_all()
    rounds = max(4, 24 // batch)
    start = time.perf_counter()
    for _ in range(rounds):
        queue.start_async({0: data})
    queue.wait_all()
    return rounds * batch / (time.perf_counter() - start)


@dataclass(frozen=True)
class Verdict:
    model: str
    fp32: dict[int, float]
    int8: dict[int, float]
    accuracy: Accuracy
    quantize_s: float

    @property
    def gain(self) -> float:
        return max(self.int8.values()) / max(self.fp32.values())

    @property
    def passes(self) -> bool:
        faces_ok = self.model != "face_detector" or self.accuracy.faces.f1 >= GATE_PERSON_F1
        return self.accuracy.passes and faces_ok

    @property
    def kept(self) -> bool:
        return self.passes and self.gain >= KEEP_GAIN

    def rows(self) -> list[str]:
        speed = "  ".join(
            f"b{b}: {self.fp32[b]:6.1f} -> {self.int8[b]:6.1f}/s" for b in BATCH_SIZES
        )
        return [
            f"{self.model}  (quantized in {self.quantize_s:.0f} s)",
            f"  FP32 -> INT8 samples/s  {speed}  best-to-best {self.gain:.2f}x",
            f"  vs FP32: {self.accuracy.summary()}  gates {'pass' if self.passes else 'FAIL'}",
            f"  {'KEPT' if self.kept else 'not kept'}"
            + ("" if self.kept else f" (needs gates and >= {KEEP_GAIN:.2f}x)"),
        ]


def evaluate(
    model: str, media: Media, reference: Sequence[Found], write: Callable[[Any], None] | None
) -> Verdict:
    samples = calibration_inputs(model, media.calibration)
    start = time.perf_counter()
    quantized = quantize(model, samples)
    quantize_s = time.perf_counter() - start
    fp32 = ov.Core().read_model(str(model_file(model, 1)))
    precision = PROFILE_PRECISIONS.get(model)
    # Interleaved, so that both see the same load on a shared machine.
    fp32_rate, int8_rate = {}, {}
    for batch in BATCH_SIZES:
        fp32_rate[batch] = samples_per_second(fp32, samples[0], batch, precision)
        int8_rate[batch] = samples_per_second(quantized, samples[0], batch, precision)
    scratch = Path(MODEL_REPOSITORY.parent / ".cache" / "int8" / model / "model.xml")
    scratch.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(scratch))
    candidate = InProcessPipeline(OpenVino(files={model: scratch}))
    verdict = Verdict(
        model,
        fp32_rate,
        int8_rate,
        accuracy(reference, [Found.of(candidate(f)) for f in media.evaluation]),
        quantize_s,
    )
    if write and verdict.kept:
        write(quantized)
    return verdict


def next_version(model: str) -> Path:
    versions = [int(d.name) for d in (MODEL_REPOSITORY / model).iterdir() if d.name.isdigit()]
    return MODEL_REPOSITORY / model / str(max(versions) + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", choices=MODELS, help="default: all three")
    parser.add_argument("--write", action="store_true", help="store kept models as versions")
    args = parser.parse_args()
    media = sample_media()
    fp32 = InProcessPipeline(OpenVino())
    reference = [Found.of(fp32(frame)) for frame in media.evaluation]
    print(
        f"calibration: {len(media.calibration)} frames; evaluation: {len(media.evaluation)} "
        f"frames; reference: OpenVINO FP32 as the openvino profile compiles it\n",
        flush=True,
    )
    for model in args.model or MODELS:

        def write(quantized: Any, model: str = model) -> None:
            folder = next_version(model)
            folder.mkdir()
            ov.save_model(quantized, str(folder / "model.xml"))
            print(f"  written {folder.relative_to(MODEL_REPOSITORY.parent)}/model.xml")

        verdict = evaluate(model, media, reference, write if args.write else None)
        print("\n".join(verdict.rows()), flush=True)


if __name__ == "__main__":
    main()
