"""The vision pipeline's steps (ensembles.ops.pipeline, the code the `vision_pipeline`
Triton model runs) around the real default detectors, run in-process by onnxruntime."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from ensembles.ops.image import Image, decode_image
from ensembles.ops.pipeline import FrameOutputs, PipelineSettings, decode, prepare
from ensembles.ops.scrfd import OUTPUT_NAMES
from tests.support.media import media_bytes

MODELS = Path(__file__).resolve().parents[2] / "model_repository"


@dataclass(frozen=True)
class Analysed:
    """One frame's pipeline outputs (embeddings left zero: the embedder is not run) and
    the aligned crops of its faces."""

    outputs: FrameOutputs
    crops: NDArray[np.float32]


class Detectors:
    def __init__(self) -> None:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = 1  # a shared machine: one core per session
        self.person, self.face = (
            self._session(name, options) for name in ("person_detector", "face_detector")
        )
        self.settings = PipelineSettings()
        self._photos: dict[str, Analysed] = {}

    @staticmethod
    def _session(name: str, options: Any) -> Any:
        path = MODELS / name / "1" / "model.onnx"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run `make models`")
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, frame: Image) -> Analysed:
        batch = prepare([frame], self.settings)
        head = self.person.run(["output0"], {"images": batch.person_input})[0]
        names = list(OUTPUT_NAMES)
        faces = dict(zip(names, self.face.run(names, {"input.1": batch.face_input}), strict=True))
        found = decode(batch, head, faces, self.settings)
        embeddings = np.zeros((len(found.crops), 512), np.float32)
        return Analysed(found.results(embeddings)[0], found.crops)

    def photo(self, name: str) -> Analysed:
        """A photo of the test media, analysed once per session."""
        if name not in self._photos:
            self._photos[name] = self(decode_image(media_bytes(name)))
        return self._photos[name]
