"""vision_pipeline: one frame in; persons, faces (linked to persons) and face embeddings out.

BLS, not an ensemble graph, and measurement says why it is not about overhead:
perf_analyzer on the CPU profile (2 cores, concurrency 1, bus.jpg) gave the
`person_detection` ensemble (preprocess -> person_detector -> postprocess) a p50 of
51.4 ms against 42.5 ms for person_detector alone, and the same pre/post work in-process
costs 8.9 ms: the ensemble hops themselves cost ~0 ms (perf/README.md). What an ensemble
cannot do is the face stage: the number of faces per frame is data-dependent, and the
embedder must see all crops of all frames of this batch as one batch of its own, while
an ensemble passes each tensor on with its step's batch dimension unchanged. So the
pre/post-processing runs here (ensembles.ops, the same code the standalone models use),
and the three ONNX models are called with BLS, the two detectors concurrently.

Every request handed to execute() is decoded first; the good frames go through each
model as one batch; a bad frame gets its own error response and never fails the others.
Request parameters `<model>_version` pin the version of person_detector, face_detector
or face_embedder for that request.

Tensor names and data types come from config.pbtxt: its outputs must be exactly the
fields of `FrameOutputs` (else the load fails) and are sent in the config's data types;
the inner models' tensor names (their ONNX graphs' own) are config parameters
`<model>_input` / `<model>_output` (the face detector's outputs are the SCRFD decoder's
`OUTPUT_NAMES`), checked against model_repository/ by tests/triton.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

from ensembles.ops.image import FrameError, Image
from ensembles.ops.pipeline import FrameOutputs, decode, prepare
from ensembles.ops.scrfd import OUTPUT_NAMES
from ensembles.triton_io import (
    ENCODED_INPUT,
    RAW_INPUT,
    config_parameters,
    declared_tensors,
    error_response,
    pipeline_settings,
    request_frame,
    request_parameters,
    tensors_response,
)

MODELS = ("person_detector", "face_detector", "face_embedder")
# FrameOutputs' fields are the outputs, upper-cased (FrameOutputs.as_tensors).
OUTPUTS = tuple(field.name.upper() for field in dataclasses.fields(FrameOutputs))
EMBEDDINGS = "FACE_EMBEDDINGS"


class BackendError(RuntimeError):
    pass


@dataclass(frozen=True)
class InnerTensors:
    """The tensors vision_pipeline sends to and reads from one inner model."""

    input: str
    outputs: tuple[str, ...]


def _inner_tensors(parameters: dict[str, str]) -> dict[str, InnerTensors]:
    def named(key: str) -> str:
        if not parameters.get(key):
            raise pb_utils.TritonModelException(f"vision_pipeline: config parameter {key} is unset")
        return parameters[key]

    return {
        "person_detector": InnerTensors(
            named("person_detector_input"), (named("person_detector_output"),)
        ),
        "face_detector": InnerTensors(named("face_detector_input"), OUTPUT_NAMES),
        "face_embedder": InnerTensors(
            named("face_embedder_input"), (named("face_embedder_output"),)
        ),
    }


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        parameters = config_parameters(config)
        self.settings = pipeline_settings(config)
        self.embedder_batch = int(parameters.get("embedder_max_batch", "32"))
        self.inner = _inner_tensors(parameters)
        declared_tensors(config, "input", (ENCODED_INPUT, RAW_INPUT))
        self.outputs = declared_tensors(config, "output", OUTPUTS)
        (embeddings,) = (o for o in config["output"] if o["name"] == EMBEDDINGS)
        self.embedding_dim = int(embeddings["dims"][-1])

    async def _infer(
        self, model: str, version: int, value: np.ndarray[Any, Any]
    ) -> dict[str, np.ndarray[Any, Any]]:
        """One inner model on one input batch; its outputs by name."""
        tensors = self.inner[model]
        request = pb_utils.InferenceRequest(
            model_name=model,
            model_version=version,
            inputs=[pb_utils.Tensor(tensors.input, value)],
            requested_output_names=list(tensors.outputs),
        )
        response = await request.async_exec()
        if response.has_error():
            raise BackendError(f"{model} failed: {response.error().message()}")
        return {
            name: pb_utils.get_output_tensor_by_name(response, name).as_numpy()
            for name in tensors.outputs
        }

    async def _analyse(self, frames: list[Image], versions: dict[str, int]) -> list[FrameOutputs]:
        batch = prepare(frames, self.settings)
        persons, faces = await asyncio.gather(
            self._infer("person_detector", versions["person_detector"], batch.person_input),
            self._infer("face_detector", versions["face_detector"], batch.face_input),
        )
        (head,) = self.inner["person_detector"].outputs
        decoded = decode(batch, persons[head], faces, self.settings)
        chunks = [
            decoded.crops[i : i + self.embedder_batch]
            for i in range(0, len(decoded.crops), self.embedder_batch)
        ]
        embedded = await asyncio.gather(
            *(self._infer("face_embedder", versions["face_embedder"], chunk) for chunk in chunks)
        )
        (embedding,) = self.inner["face_embedder"].outputs
        embeddings = (
            np.concatenate([e[embedding] for e in embedded])
            if embedded
            else np.zeros((0, self.embedding_dim), np.float32)
        )
        return decoded.results(embeddings)

    async def execute(self, requests: list[Any]) -> list[Any]:
        responses: list[Any] = [None] * len(requests)
        # Requests pinning different versions cannot share a model batch.
        groups: dict[tuple[int, ...], list[tuple[int, Image]]] = {}
        for index, request in enumerate(requests):
            try:
                frame = request_frame(request, self.settings.max_pixels)
                pins = request_parameters(request)
                versions = tuple(int(pins.get(f"{model}_version", -1)) for model in MODELS)
            except (FrameError, ValueError, TypeError) as error:
                responses[index] = error_response(str(error))
                continue
            groups.setdefault(versions, []).append((index, frame))
        for versions, members in groups.items():
            try:
                results = await self._analyse(
                    [frame for _, frame in members], dict(zip(MODELS, versions, strict=True))
                )
            except Exception as error:  # one group's failure must not fail the others
                message = str(error) if isinstance(error, BackendError) else repr(error)
                for index, _ in members:
                    responses[index] = error_response(message)
                continue
            for (index, _), result in zip(members, results, strict=True):
                produced = result.as_tensors()
                responses[index] = tensors_response(
                    {
                        name: produced[name].astype(dtype, copy=False)
                        for name, dtype in self.outputs.items()
                    }
                )
        return responses
