"""The store node: every camera flowing independently into Triton, tracked, published.

    camera worker (thread per camera) -> adaptive sampler -> micro-batcher -> Triton
        -> per-camera ByteTrack -> track journal -> EventPublisher -> NATS JetStream
                                -> live view (orchestrator/live/, only while watched)

Each camera is two tasks: one submits sampled frames (at most `per_camera_in_flight`
awaiting results, so a slow camera backs up only itself), one consumes results in frame
order, so the tracker always sees frames in sequence. No failure of Triton, NATS or a
camera stops the node: inference errors drop the frame (counted), NATS outages are
buffered by the publisher, cameras reconnect on their own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from orchestrator.cameras.frame import Frame
from orchestrator.cameras.worker import CameraState, CameraStatus, CameraWorker
from orchestrator.checkpoint import CheckpointStore
from orchestrator.config.node import NodeSettings
from orchestrator.frames.sampler import AdaptiveSampler
from orchestrator.health import HealthServer
from orchestrator.live import AnnotatedFrameSource, LiveOfferEndpoint, LiveViewAnswerer
from orchestrator.metrics import METRICS, OrchestratorMetrics
from orchestrator.pipeline.batcher import MicroBatcher
from orchestrator.pipeline.identity_feed import IdentityFeed
from orchestrator.pipeline.track_journal import FrameContext, TrackJournal
from orchestrator.tracking import ByteTracker
from trinetra.config.camera import CameraConfig
from trinetra.events.connection import NatsConnection
from trinetra.events.publisher import EventPublisher
from trinetra.events.schema import CameraStatusEvent, DetectionsEvent
from trinetra.inference import InvalidInputError, VisionClient
from trinetra.inference.detections import FrameAnalysis
from trinetra.logs import log_context

log = logging.getLogger(__name__)

# No single shutdown step may hold the others up (a peer that never answers a close).
SHUTDOWN_STEP_S = 10.0


async def _bounded(step: Awaitable[object], what: str) -> None:
    try:
        await asyncio.wait_for(step, SHUTDOWN_STEP_S)
    except TimeoutError:
        log.warning("shutdown step timed out", extra={"step": what})


@dataclass
class _Camera:
    config: CameraConfig
    worker: CameraWorker
    tracker: ByteTracker
    journal: TrackJournal
    pending: asyncio.Queue[tuple[Frame, asyncio.Future[FrameAnalysis]]]
    live: AnnotatedFrameSource
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    last_frame: FrameContext | None = None
    frames_analysed: int = 0


class StoreNode:
    def __init__(
        self,
        settings: NodeSettings,
        cameras: list[CameraConfig],
        *,
        metrics: OrchestratorMetrics = METRICS,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.connection = NatsConnection(settings.nats_url.split(","), name="trinetra-orchestrator")
        self.publisher = EventPublisher(self.connection, metrics=metrics.publisher)
        self.checkpoints = CheckpointStore(self.connection, metrics=metrics.checkpoint)
        self.client = VisionClient(settings.triton)
        self.batcher = MicroBatcher(
            self.client,
            metrics,
            max_batch=settings.max_batch,
            window_s=settings.batch_window_ms / 1000,
            max_in_flight=settings.max_in_flight,
        )
        self.sampler = AdaptiveSampler(metrics=metrics)
        self.identity = (
            IdentityFeed(self.connection, settings.store_id, metrics)
            if settings.identity_enabled
            else None
        )
        self.cameras: dict[str, _Camera] = {}
        for config in cameras:
            if not config.enabled:
                continue
            tracker_config = settings.tracker.model_copy(
                update={"frame_rate": max(1, round(config.target_fps))}
            )
            self.cameras[config.id] = _Camera(
                config=config,
                worker=CameraWorker(config, metrics=metrics, on_status=self._on_status),
                tracker=ByteTracker(tracker_config),
                journal=TrackJournal(settings.track_update_every),
                pending=asyncio.Queue(settings.per_camera_in_flight),
                live=AnnotatedFrameSource(config.id, config.target_fps),
            )
        self.live = LiveViewAnswerer(
            {cid: c.live for cid, c in self.cameras.items()}, self._camera_is_live
        )
        self.health = HealthServer(
            self.probe,
            metrics.registry,
            settings.health_host,
            settings.health_port,
            live_offers=LiveOfferEndpoint(self.live).handle,
        )
        self._stopped = asyncio.Event()

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        await self.connection.start()
        # Tracker checkpoints live in NATS: wait briefly for it, but start without it.
        if not await self.connection.wait_connected(timeout_s=5.0):
            log.warning("NATS unreachable at start: events are buffered, no tracker resume")
        await self.publisher.start()
        self.batcher.start()
        if self.identity:
            self.identity.start()
        await self.health.start()
        for camera in self.cameras.values():
            # The camera's tasks (and its reader threads) inherit this: their log lines
            # name the store and the camera.
            with log_context(store_id=self.settings.store_id, camera_id=camera.config.id):
                await self._restore(camera)
                camera.worker.start()
                camera.tasks = [
                    asyncio.create_task(
                        self._submit_frames(camera), name=f"submit-{camera.config.id}"
                    ),
                    asyncio.create_task(
                        self._consume_results(camera), name=f"track-{camera.config.id}"
                    ),
                    asyncio.create_task(
                        self._checkpoint_loop(camera), name=f"ckpt-{camera.config.id}"
                    ),
                ]
        log.info("store node started", extra={"cameras": list(self.cameras)})

    async def stop(self) -> None:
        await _bounded(self.live.close(), "live viewers")
        for camera in self.cameras.values():
            await camera.worker.stop(grace_s=5)
            for task in camera.tasks:
                task.cancel()
            if camera.tasks:
                await asyncio.wait(camera.tasks, timeout=SHUTDOWN_STEP_S)
            # A clean stop ends the open tracks, then saves the id counter, so the next
            # run hands out fresh ids. (After a crash the last periodic checkpoint still
            # holds the open tracks, and they continue or end as "lost".)
            if camera.last_frame is not None:
                for event in camera.journal.end_all(camera.last_frame, "shutdown"):
                    self.publisher.publish(event)
            camera.tracker.clear()
            await _bounded(self._checkpoint(camera), "checkpoint")
        await _bounded(self.batcher.close(), "batcher")
        if self.identity:
            await _bounded(self.identity.close(), "identity feed")
        await _bounded(self.health.close(), "health endpoint")
        await _bounded(self.publisher.close(), "publisher")
        await _bounded(self.client.close(), "triton client")
        await _bounded(self.connection.close(), "nats connection")
        self._stopped.set()

    async def __aenter__(self) -> StoreNode:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- per camera ---------------------------------------------------------------------

    async def _submit_frames(self, camera: _Camera) -> None:
        config = camera.config
        async for frame in camera.worker.frames():
            # The batcher runs the frame's inference in this context (its log lines too).
            with log_context(frame_seq=frame.seq):
                decision = self.sampler.decide(
                    config.id, config.tier, self.batcher.load, frame.motion
                )
                if decision.keep:
                    await camera.pending.put((frame, self.batcher.submit(frame)))

    async def _consume_results(self, camera: _Camera) -> None:
        camera_id = camera.config.id
        while True:
            frame, future = await camera.pending.get()
            with log_context(frame_seq=frame.seq):
                try:
                    result = await future
                except InvalidInputError as error:
                    self.metrics.frames_rejected.labels(camera=camera_id, reason="inference").inc()
                    log.warning(
                        "frame refused by Triton", extra={"camera": camera_id, "error": str(error)}
                    )
                    continue
                except Exception as error:  # Triton away or a bug: drop the frame, keep going
                    self.metrics.frames_dropped.labels(camera=camera_id, reason="inference").inc()
                    log.warning(
                        "inference failed", extra={"camera": camera_id, "error": repr(error)}
                    )
                    continue
                try:
                    self._on_result(camera, frame, result)
                except Exception:
                    log.exception("processing a result failed", extra={"camera": camera_id})

    def _on_result(self, camera: _Camera, frame: Frame, result: FrameAnalysis) -> None:
        update = camera.tracker.update(result.persons)
        context = FrameContext(
            camera_id=camera.config.id,
            store_id=self.settings.store_id,
            frame_seq=frame.seq,
            timestamp=frame.effective_timestamp,
            width=result.width,
            height=result.height,
        )
        camera.last_frame = context
        camera.frames_analysed += 1
        camera.live.offer(frame, update.detections)  # a no-op unless someone watches
        uids = camera.journal.uids()  # before record() forgets the ended tracks
        track_events = camera.journal.record(update, context)
        uids.update(camera.journal.uids())  # and the tracks this frame started
        if self.settings.publish_detections:
            tracked = FrameAnalysis(
                result.width, result.height, update.detections, result.faces, result.model_versions
            )
            self.publisher.publish(
                DetectionsEvent.from_analysis(
                    tracked,
                    camera_id=context.camera_id,
                    store_id=context.store_id,
                    frame_seq=frame.seq,
                    occurred_at=datetime.fromtimestamp(context.timestamp, UTC),
                    track_uids=uids,
                )
            )
        for event in track_events:
            self.publisher.publish(event)
        if self.identity:
            at = datetime.fromtimestamp(context.timestamp, UTC)
            self.identity.add(
                context.camera_id,
                update,
                result.faces,
                at,
                uids,
                embedder_version=result.model_versions.get("face_embedder"),
            )
            if update.ended:
                self.identity.ended(context.camera_id, update.ended, at)
        self.metrics.active_tracks.labels(camera=camera.config.id).set(camera.journal.active)

    def _camera_is_live(self, camera_id: str) -> bool:
        return self.cameras[camera_id].worker.state is CameraState.LIVE

    async def _on_status(self, status: CameraStatus) -> None:
        self.publisher.publish(
            CameraStatusEvent(
                camera_id=status.camera_id,
                store_id=self.settings.store_id,
                occurred_at=datetime.fromtimestamp(status.timestamp, UTC),
                state=status.state.value,
                reason=status.reason or None,
                reconnect_attempt=status.attempt,
            )
        )

    # --- checkpoints --------------------------------------------------------------------

    async def _checkpoint_loop(self, camera: _Camera) -> None:
        while True:
            await asyncio.sleep(self.settings.checkpoint_every_s)
            await self._checkpoint(camera)

    async def _checkpoint(self, camera: _Camera) -> None:
        await self.checkpoints.save(
            camera.config.id,
            {
                "tracker": camera.tracker.state_dict(),
                "journal": camera.journal.state_dict(),
                "saved_at": time.time(),
            },
        )

    async def _restore(self, camera: _Camera) -> None:
        """Resume track ids after a restart: the tracker and journal as last saved."""
        state = await self.checkpoints.load(camera.config.id)
        if state is None:
            return
        try:
            camera.tracker = ByteTracker.from_state(state["tracker"], camera.tracker.config)
            camera.journal.load_state(state["journal"])
        except (KeyError, ValueError, TypeError) as error:
            log.warning(
                "ignoring unusable tracker checkpoint",
                extra={"camera": camera.config.id, "error": str(error)},
            )
            return
        log.info(
            "tracker state restored",
            extra={"camera": camera.config.id, "tracks": camera.journal.active},
        )

    # --- health -------------------------------------------------------------------------

    async def probe(self) -> dict[str, Any]:
        triton = await self.client.is_ready()
        nats = self.connection.connected
        return {
            "ready": triton and nats,
            "triton": triton,
            "nats": nats,
            "events_pending": self.publisher.pending,
            "inference_load": round(self.batcher.load, 3),
            "cameras": {
                cid: {
                    "state": c.worker.state.value,
                    "frames_analysed": c.frames_analysed,
                    "active_tracks": c.journal.active,
                }
                for cid, c in self.cameras.items()
            },
        }
