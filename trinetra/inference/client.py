"""VisionClient: the orchestrator's only way to call Triton.

Over `tritonclient.grpc.aio`: readiness checks, per-call deadlines, model version pinning,
retry with exponential backoff and full jitter (trinetra.retry) while the server is away
(a restart), one server or a health-checked pool with failover, fallback to a lower
tier and load spreading (trinetra.inference.endpoints; the settings choose), and results
as `trinetra.inference.detections` dataclasses rather than raw tensors, each saying which
endpoint and model versions produced it. The pipeline's tensor names and data types are
declared once, in `trinetra.inference.tensors`; `verify_pipeline()` checks them against
every server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import tritonclient.grpc.aio as grpcclient
from numpy.typing import NDArray
from tritonclient.utils import InferenceServerException

from ensembles.ops.image import encoded_image_size
from trinetra.inference.detections import Detections, Faces, FrameAnalysis
from trinetra.inference.endpoints import Endpoint, EndpointMetrics, EndpointPool, EndpointStatus
from trinetra.inference.errors import (
    InferenceError,
    InferenceTimeoutError,
    InferenceUnavailableError,
    InvalidInputError,
)
from trinetra.inference.settings import TritonSettings
from trinetra.inference.tensors import PipelineInput, PipelineOutput, contract_differences

log = logging.getLogger(__name__)
T = TypeVar("T")

PIPELINE_OUTPUTS = tuple(str(name) for name in PipelineOutput)
# The models vision_pipeline calls (its MODELS; tests/triton checks that they agree):
# each result names the version of each that produced it.
PIPELINE_INNER_MODELS = ("person_detector", "face_detector", "face_embedder")
# gRPC codes meaning "the server is away or not ready yet": worth retrying.
RETRYABLE = ("UNAVAILABLE", "UNKNOWN", "CANCELLED", "RESOURCE_EXHAUSTED")
# Messages of a server that is starting or stopping (models not loaded yet, or gone).
UNAVAILABLE_MARKERS = ("not ready", "no available versions", "failed to connect")
# The python backend reports refused input as an error response; these words mark it.
INVALID_INPUT_MARKERS = (
    "undecodable",
    "empty image",
    "exceeds the limit",
    "exactly one of",
    "raw frame must",
    "no pixels",
    "unexpected datatype",
    "unexpected shape",
    "INVALID_ARG",
    "expected",
    "inconsistent",
)


def _status(error: InferenceServerException) -> str:
    return str(error.status() or "")


def classify(error: InferenceServerException) -> InferenceError:
    status, message = _status(error), str(error.message() or error)
    if "DEADLINE_EXCEEDED" in status or "Deadline Exceeded" in message:
        return InferenceTimeoutError(message)
    lowered = message.lower()
    if any(code in status for code in RETRYABLE) or any(m in lowered for m in UNAVAILABLE_MARKERS):
        return InferenceUnavailableError(message)
    if "INVALID_ARGUMENT" in status or any(m in message for m in INVALID_INPUT_MARKERS):
        return InvalidInputError(message)
    return InferenceError(message)


@dataclass(frozen=True)
class Served:
    """One answered request: its outputs, the endpoint that answered and the version of
    the requested model that ran ("" when the server did not say)."""

    outputs: dict[str, NDArray[Any]]
    endpoint: Endpoint
    model_version: str


class VisionClient:
    """`metrics`: the per-endpoint metrics to count on (the store node's registry); a
    private set when omitted."""

    def __init__(
        self, settings: TritonSettings | None = None, *, metrics: EndpointMetrics | None = None
    ) -> None:
        self.settings = settings or TritonSettings()
        self.pool = EndpointPool(self.settings, channel_args=self._channel_args(), metrics=metrics)

    def _channel_args(self) -> list[tuple[str, int]]:
        """gRPC reconnects a channel by itself, but by default backs off up to 120 s; cap it
        at our own backoff so a restarted server is found again within seconds."""
        max_backoff_ms = int(self.settings.backoff_max_s * 1000)
        return [
            ("grpc.max_send_message_length", 2**31 - 1),
            ("grpc.max_receive_message_length", 2**31 - 1),
            ("grpc.initial_reconnect_backoff_ms", int(self.settings.backoff_initial_s * 1000)),
            ("grpc.min_reconnect_backoff_ms", int(self.settings.backoff_initial_s * 1000)),
            ("grpc.max_reconnect_backoff_ms", max_backoff_ms),
        ]

    async def __aenter__(self) -> VisionClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.pool.close()

    async def _with_retries(self, call: Callable[[Endpoint], Awaitable[T]]) -> T:
        async def classified(endpoint: Endpoint) -> T:
            try:
                return await call(endpoint)
            except InferenceServerException as raw:
                raise classify(raw) from raw

        def retried(attempt: int, error: Exception, delay_s: float) -> None:
            log.warning(
                "triton unavailable; retrying",
                extra={
                    "url": self.pool.urls,
                    "attempt": attempt,
                    "retry_in_s": round(delay_s, 3),
                    "error": str(error),
                },
            )

        return await self.pool.call(classified, on_retry=retried)

    async def is_ready(self, model: str | None = None) -> bool:
        """True when a server of the pool and the model (default: the pipeline) answer
        ready now."""
        self.pool.start()
        name = model or self.settings.pipeline_model
        # Asked at once, answered by the first ready one: a dead server does not make
        # the node's readiness probe wait for its deadline.
        checks = [
            self.pool.is_ready(endpoint, name, self.settings.call_timeout_s)
            for endpoint in self.pool.endpoints
        ]
        pending = {asyncio.ensure_future(check) for check in checks}
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if any(task.result() for task in done):
                    return True
            return False
        finally:
            for task in pending:
                task.cancel()

    def endpoint_status(self) -> list[EndpointStatus]:
        """Each endpoint's state (healthy, down or degraded), for a health report."""
        return self.pool.status()

    async def wait_ready(self, timeout_s: float = 60.0, model: str | None = None) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not await self.is_ready(model):
            if loop.time() > deadline:
                raise InferenceUnavailableError(
                    f"{model or self.settings.pipeline_model} at {self.pool.urls} "
                    f"not ready after {timeout_s:.0f} s"
                )
            await asyncio.sleep(0.2)

    async def verify_pipeline(self) -> None:
        """Raise InferenceError naming each difference between the tensors this client
        sends and reads (trinetra.inference.tensors) and each server's pipeline model."""
        name = self.settings.pipeline_model
        pinned = self.settings.model_versions.get(name)

        async def metadata(endpoint: Endpoint) -> tuple[str, Any]:
            try:
                served = await endpoint.client.get_model_metadata(
                    name,
                    model_version="" if pinned is None else str(pinned),
                    as_json=True,
                    client_timeout=endpoint.call_timeout_s,
                )
            except InferenceServerException as raw:
                raise classify(raw) from raw
            return endpoint.url, served

        for url, served in await self.pool.call_each(metadata):

            def tensors(kind: str, served: Any = served) -> list[tuple[str, str]]:
                return [(str(t["name"]), str(t["datatype"])) for t in served.get(kind, [])]

            problems = contract_differences(tensors("inputs"), tensors("outputs"))
            if problems:
                raise InferenceError(
                    f"{name} at {url} does not match this client: " + "; ".join(problems)
                )

    async def infer(
        self,
        model: str,
        inputs: dict[str, NDArray[Any]],
        outputs: list[str],
        *,
        version: int | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> dict[str, NDArray[Any]]:
        """One request to any model; `version` pins it, else the settings' pin or newest."""
        served = await self._served(model, inputs, outputs, version=version, parameters=parameters)
        return served.outputs

    async def _served(
        self,
        model: str,
        inputs: dict[str, NDArray[Any]],
        outputs: list[str],
        *,
        version: int | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> Served:
        pinned = version if version is not None else self.settings.model_versions.get(model)
        tensors = []
        for name, value in inputs.items():
            tensor = grpcclient.InferInput(name, list(value.shape), _triton_dtype(value))
            tensor.set_data_from_numpy(value)
            tensors.append(tensor)
        requested = [grpcclient.InferRequestedOutput(name) for name in outputs]

        async def call(endpoint: Endpoint) -> Served:
            result = await endpoint.client.infer(
                model,
                tensors,
                model_version="" if pinned is None else str(pinned),
                outputs=requested,
                client_timeout=endpoint.call_timeout_s,
                parameters=parameters,
            )
            return Served(
                {name: result.as_numpy(name) for name in outputs},
                endpoint,
                str(result.get_response().model_version),
            )

        return await self._with_retries(call)

    async def analyze(self, frame: bytes | NDArray[np.uint8]) -> FrameAnalysis:
        """Persons and faces in one frame: JPEG/PNG bytes or a BGR uint8 HxWx3 array."""
        inputs: dict[str, NDArray[Any]]
        if isinstance(frame, bytes | bytearray):
            if not frame:
                raise InvalidInputError("empty image: no bytes to send")
            inputs = {PipelineInput.IMAGE_ENCODED: np.frombuffer(frame, np.uint8)[None]}
        else:
            if frame.ndim != 3 or frame.shape[2] != 3:
                raise InvalidInputError(f"raw frame must be HxWx3, got {frame.shape}")
            inputs = {PipelineInput.IMAGE_RAW: np.ascontiguousarray(frame)[None]}
        pins = {
            f"{model}_version": version for model, version in self.settings.model_versions.items()
        }
        served = await self._served(
            self.settings.pipeline_model, inputs, list(PIPELINE_OUTPUTS), parameters=pins or None
        )
        if not served.endpoint.versions:  # answered before the endpoint's first check
            await self.pool.learn_versions(served.endpoint)
        out = served.outputs
        height, width = _frame_size(frame)
        return FrameAnalysis(
            width=width,
            height=height,
            persons=Detections(
                out[PipelineOutput.PERSON_BOXES][0], out[PipelineOutput.PERSON_SCORES][0]
            ),
            faces=Faces(
                xyxy=out[PipelineOutput.FACE_BOXES][0],
                confidence=out[PipelineOutput.FACE_SCORES][0],
                landmarks=out[PipelineOutput.FACE_LANDMARKS][0],
                person_index=out[PipelineOutput.FACE_PERSON_INDEX][0],
                embeddings=out[PipelineOutput.FACE_EMBEDDINGS][0],
            ),
            model_versions=self._versions(served),
            endpoint=served.endpoint.url,
        )

    def _versions(self, served: Served) -> dict[str, str]:
        """The version of each model that produced a pipeline result: the pipeline's own
        as the server reported it, each inner model's pin, else the newest version the
        endpoint had ready at its last health check (what an unpinned call runs); a
        model the endpoint has not reported yet is left out."""
        pipeline = self.settings.pipeline_model
        versions = {pipeline: served.model_version} if served.model_version else {}
        for model in PIPELINE_INNER_MODELS:
            pinned = self.settings.model_versions.get(model)
            known = str(pinned) if pinned is not None else served.endpoint.versions.get(model)
            if known:
                versions[model] = known
        # Pins of models outside the pipeline's own, as before.
        for model, version in self.settings.model_versions.items():
            versions.setdefault(model, str(version))
        return versions


def _triton_dtype(value: NDArray[Any]) -> str:
    names = {
        np.dtype(np.uint8): "UINT8",
        np.dtype(np.float32): "FP32",
        np.dtype(np.int32): "INT32",
        np.dtype(np.int64): "INT64",
        np.dtype(np.float16): "FP16",
    }
    try:
        return names[value.dtype]
    except KeyError:
        raise InvalidInputError(f"unsupported tensor dtype {value.dtype}") from None


def _frame_size(frame: bytes | NDArray[np.uint8]) -> tuple[int, int]:
    if isinstance(frame, np.ndarray):
        return int(frame.shape[0]), int(frame.shape[1])
    size = encoded_image_size(bytes(frame))
    return (size[1], size[0]) if size else (0, 0)
