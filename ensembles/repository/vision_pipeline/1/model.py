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
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

from ensembles.ops.image import FrameError, Image
from ensembles.ops.pipeline import FrameOutputs, decode, prepare
from ensembles.ops.scrfd import OUTPUT_NAMES
from ensembles.triton_io import (
    config_parameters,
    error_response,
    pipeline_settings,
    request_frame,
    request_parameters,
    tensors_response,
)

MODELS = ("person_detector", "face_detector", "face_embedder")


class BackendError(RuntimeError):
    pass


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        self.settings = pipeline_settings(config)
        self.embedder_batch = int(config_parameters(config).get("embedder_max_batch", "32"))

    async def _infer(
        self, model: str, version: int, inputs: dict[str, np.ndarray[Any, Any]], outputs: list[str]
    ) -> dict[str, np.ndarray[Any, Any]]:
        request = pb_utils.InferenceRequest(
            model_name=model,
            model_version=version,
            inputs=[pb_utils.Tensor(name, value) for name, value in inputs.items()],
            requested_output_names=outputs,
        )
        response = await request.async_exec()
        if response.has_error():
            raise BackendError(f"{model} failed: {response.error().message()}")
        return {
            name: pb_utils.get_output_tensor_by_name(response, name).as_numpy() for name in outputs
        }

    async def _analyse(self, frames: list[Image], versions: dict[str, int]) -> list[FrameOutputs]:
        batch = prepare(frames, self.settings)
        persons, faces = await asyncio.gather(
            self._infer(
                "person_detector",
                versions["person_detector"],
                {"images": batch.person_input},
                ["output0"],
            ),
            self._infer(
                "face_detector",
                versions["face_detector"],
                {"input.1": batch.face_input},
                list(OUTPUT_NAMES),
            ),
        )
        decoded = decode(batch, persons["output0"], faces, self.settings)
        chunks = [
            decoded.crops[i : i + self.embedder_batch]
            for i in range(0, len(decoded.crops), self.embedder_batch)
        ]
        embedded = await asyncio.gather(
            *(
                self._infer("face_embedder", versions["face_embedder"], {"input.1": chunk}, ["516"])
                for chunk in chunks
            )
        )
        embeddings = (
            np.concatenate([e["516"] for e in embedded])
            if embedded
            else np.zeros((0, 512), np.float32)
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
                responses[index] = tensors_response(result.as_tensors())
        return responses
