"""Micro-batching across cameras: frames submitted by every camera within a short window
are sent to `vision_pipeline` together, so they land in one dynamic batch on the server,
with a bound on frames in flight (the backpressure signal the sampler reads as load)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from dataclasses import dataclass, field

from orchestrator.cameras.frame import Frame
from orchestrator.metrics import OrchestratorMetrics
from trinetra.inference import InferenceError, VisionClient
from trinetra.inference.detections import FrameAnalysis

log = logging.getLogger(__name__)


@dataclass
class _Job:
    frame: Frame
    result: asyncio.Future[FrameAnalysis]
    # The submitter's context (its log_context: store, camera, frame), in which the
    # frame's inference runs, so that its log lines name the frame.
    context: contextvars.Context = field(default_factory=contextvars.copy_context)


class MicroBatcher:
    def __init__(
        self,
        client: VisionClient,
        metrics: OrchestratorMetrics,
        *,
        max_batch: int = 8,
        window_s: float = 0.005,
        max_in_flight: int = 8,
    ) -> None:
        self._client, self._metrics = client, metrics
        self.max_batch, self.window_s, self.max_in_flight = max_batch, window_s, max_in_flight
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._slots = asyncio.Semaphore(max_in_flight)
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None

    @property
    def load(self) -> float:
        """Frames queued or in flight relative to the bound, 0..1 (and above when queued)."""
        return (self._in_flight + self._queue.qsize()) / self.max_in_flight

    def start(self) -> None:
        self._runner = asyncio.create_task(self._dispatch(), name="micro-batcher")

    async def close(self) -> None:
        if self._runner:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        for task in list(self._tasks):
            task.cancel()
        while not self._queue.empty():
            self._queue.get_nowait().result.cancel()

    def submit(self, frame: Frame) -> asyncio.Future[FrameAnalysis]:
        job = _Job(frame, asyncio.get_running_loop().create_future())
        # The camera's consumer normally reads the outcome; on shutdown nobody will, and
        # an unread exception would only be logged as noise.
        job.result.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._queue.put_nowait(job)
        return job.result

    async def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self.window_s
            while len(batch) < self.max_batch:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
            self._metrics.batch_fill.labels(model="vision_pipeline").observe(
                len(batch) / self.max_batch
            )
            for job in batch:
                await self._slots.acquire()
                self._in_flight += 1
                task = asyncio.create_task(self._run(job), context=job.context)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _run(self, job: _Job) -> None:
        started = time.perf_counter()
        try:
            result = await self._client.analyze(job.frame.image)
        except InferenceError as error:
            if not job.result.done():
                job.result.set_exception(error)
        except Exception as error:  # a bug must surface on the frame, not kill the batcher
            log.exception("inference failed unexpectedly", extra={"camera_id": job.frame.camera_id})
            if not job.result.done():
                job.result.set_exception(error)
        else:
            self._metrics.inference_latency.labels(model="vision_pipeline").observe(
                time.perf_counter() - started
            )
            if not job.result.done():
                job.result.set_result(result)
        finally:
            self._in_flight -= 1
            self._slots.release()
