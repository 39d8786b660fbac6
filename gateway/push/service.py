"""Push mode's processing, shared by synchronous requests and the async job worker:
one frame through the priority queue (queue.py) into Triton, and its `FrameResult`.

`PushError` is every refusal push mode answers, with its HTTP status and error code
(gateway/README.md "Error codes"); the route turns it into the REST error shape, the
worker into a failed job.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

from gateway.config import PushSettings
from gateway.metrics import GatewayMetrics
from gateway.push.models import (
    FrameRequest,
    FrameResult,
    FrameSize,
    ModelInfo,
    ProcessingInfo,
    Summary,
)
from gateway.push.queue import PriorityGate, QueueFullError
from gateway.push.results import decode_frame, detections_of
from trinetra.inference import (
    InferenceTimeoutError,
    InferenceUnavailableError,
    InvalidInputError,
    VisionClient,
)

__all__ = ["PushError", "PushProcessor"]


class PushError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


class PushProcessor:
    def __init__(
        self,
        settings: PushSettings,
        metrics: GatewayMetrics,
        vision: Callable[[], VisionClient | None],
        pipeline_model: str,
    ) -> None:
        self.settings = settings
        self.gate = PriorityGate(settings.max_concurrent, settings.max_queued)
        self._metrics = metrics
        self._vision = vision
        self._pipeline_model = pipeline_model

    async def process(
        self,
        request: FrameRequest,
        frame: bytes,
        *,
        result_id: str,
        camera_name: str | None,
        embeddings: bool,
        timeout_s: float | None,
    ) -> FrameResult:
        """The frame's result; raises PushError (module docs)."""
        vision = self._vision()
        if vision is None:
            raise PushError(503, "MODEL_UNAVAILABLE", "inference client not started")
        started = datetime.now(UTC)
        clock = time.perf_counter()
        priority = request.processing.priority
        try:
            async with asyncio.timeout(timeout_s):
                async with self.gate.slot(priority.rank) as waited_s:
                    self._metrics.push_queue_seconds.labels(priority.value).observe(waited_s)
                    inferred = time.perf_counter()
                    analysis = await vision.analyze(frame)
                    detection_ms = (time.perf_counter() - inferred) * 1000
        except QueueFullError as exc:
            raise PushError(
                503, "QUEUE_FULL", f"push queue full: {exc}", {"Retry-After": "1"}
            ) from None
        except InvalidInputError as exc:
            raise PushError(422, "INVALID_FRAME", f"the frame was refused: {exc}") from None
        except InferenceTimeoutError as exc:
            raise PushError(504, "MODEL_TIMEOUT", str(exc)) from None
        except InferenceUnavailableError as exc:
            raise PushError(503, "MODEL_UNAVAILABLE", str(exc)) from None
        except TimeoutError:
            limit_ms = round((timeout_s or 0) * 1000)
            raise PushError(
                504, "MODEL_TIMEOUT", f"the frame was not processed within timeout_ms={limit_ms}"
            ) from None
        parameters = request.parameters
        image = None
        if parameters.return_snapshots:
            image = await asyncio.to_thread(decode_frame, frame)
        detections = detections_of(
            analysis,
            request.detection_options.model_type,
            parameters,
            embeddings=embeddings,
            image=image,
        )
        scores = [d.confidence for d in detections]
        persons = sum(1 for d in detections if d.detection_type == "person")
        return FrameResult(
            message="Frame processed successfully" if detections else "No detections in frame",
            result_id=result_id,
            processing_info=ProcessingInfo(
                frame_id=request.frame_id,
                camera_id=request.camera_id,
                camera_name=camera_name,
                timestamp=request.timestamp,
                priority=priority,
                processing_started_at=started,
                processing_completed_at=datetime.now(UTC),
                processing_time_ms=round((time.perf_counter() - clock) * 1000, 1),
                queue_time_ms=round(waited_s * 1000, 1),
                detection_time_ms=round(detection_ms, 1),
            ),
            frame=FrameSize(width=analysis.width, height=analysis.height),
            detections=detections,
            summary=Summary(
                total_detections=len(detections),
                persons=persons,
                faces=len(detections) - persons,
                avg_confidence=round(sum(scores) / len(scores), 4) if scores else None,
            ),
            model_info=ModelInfo(
                pipeline=self._pipeline_model,
                model_versions=analysis.model_versions,
                endpoint=analysis.endpoint,
                embedding_size=int(analysis.faces.embeddings.shape[1]),
            ),
        )
