"""The store node: every camera flowing independently into Triton, tracked, published.

    camera worker (thread per camera) -> adaptive sampler -> micro-batcher -> Triton
        -> per-camera ByteTrack -> track journal -> EventPublisher -> NATS JetStream
                                -> live view (orchestrator/live/, only while watched)

Each camera is two tasks: one submits sampled frames (at most `per_camera_in_flight`
awaiting results, so a slow camera backs up only itself), one consumes results in frame
order, so the tracker always sees frames in sequence. No failure of Triton, NATS or a
camera stops the node: inference errors drop the frame (counted), NATS outages are
buffered by the publisher, cameras reconnect on their own.

Which cameras run comes from the NATS KV camera registry (orchestrator/registry.py),
applied live: a camera is started, restarted with a new config or stopped while the
others go on. The camera file seeds the registry, and runs alone when NATS does not
answer at start (or with `camera_registry` off). Every running camera's status is
re-reported every `status_every_s`, so the gateway can tell a camera no node runs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from orchestrator.cameras.frame import Frame
from orchestrator.cameras.worker import CameraState, CameraStatus, CameraWorker
from orchestrator.checkpoint import CheckpointStore, CheckpointUnavailableError
from orchestrator.config.node import NodeSettings
from orchestrator.frames.sampler import AdaptiveSampler
from orchestrator.health import HealthServer
from orchestrator.live import (
    AnnotatedFrameSource,
    LiveOfferEndpoint,
    LiveSnapshotEndpoint,
    LiveViewAnswerer,
)
from orchestrator.metrics import METRICS, OrchestratorMetrics
from orchestrator.pipeline.batcher import MicroBatcher
from orchestrator.pipeline.identity_feed import IdentityFeed
from orchestrator.pipeline.track_journal import FrameContext, TrackJournal
from orchestrator.registry import CameraRegistry
from orchestrator.tracking import ByteTracker
from orchestrator.tracking.id_blocks import TrackIdBlocks
from orchestrator.tracking.ids import ReservedIds
from orchestrator.tracking.published import PublishedEventsUnavailableError
from orchestrator.tracking.restart import tracks_left_open
from trinetra.config.camera import CameraConfig
from trinetra.config.network import DEFAULT_POLICY, NetworkPolicy
from trinetra.events.connection import NatsConnection
from trinetra.events.publisher import EventPublisher
from trinetra.events.schema import CameraStatusEvent, DetectionsEvent
from trinetra.inference import InvalidInputError, VisionClient
from trinetra.inference.detections import FrameAnalysis
from trinetra.logs import log_context
from trinetra.retry import Backoff
from trinetra.shutdown import SHUTDOWN_STEP_S, bounded_step

log = logging.getLogger(__name__)


@dataclass
class _Camera:
    config: CameraConfig
    worker: CameraWorker
    tracker: ByteTracker
    journal: TrackJournal
    pending: asyncio.Queue[tuple[Frame, asyncio.Future[FrameAnalysis]]]
    live: AnnotatedFrameSource
    ids: ReservedIds  # the tracker's ids, from blocks reserved in NATS KV
    # Set once the previous run's open tracks are ended: until then no id is handed out
    # and no checkpoint replaces the one that says which tracks those were.
    recovered: asyncio.Event = field(default_factory=asyncio.Event)
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
        network_policy: NetworkPolicy = DEFAULT_POLICY,
    ) -> None:
        """`cameras`: the camera file's (the registry's seed); `network_policy`: where
        camera sources may point (the camera file's allowlist), checked again for every
        camera the registry hands over."""
        self.settings = settings
        self.metrics = metrics
        self.connection = NatsConnection(settings.nats_url.split(","), name="trinetra-orchestrator")
        self.publisher = EventPublisher(self.connection, metrics=metrics.publisher)
        self.checkpoints = CheckpointStore(self.connection, metrics=metrics.checkpoint)
        self.id_blocks = TrackIdBlocks(self.connection, settings.store_id)
        self.client = VisionClient(settings.triton, metrics=metrics.inference_endpoints)
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
        self._seeds = list(cameras)
        self._policy = network_policy
        self.cameras: dict[str, _Camera] = {}
        # What the live view serves: kept in step with `cameras` as cameras come and go.
        self._live_sources: dict[str, AnnotatedFrameSource] = {}
        self._cameras_changing = asyncio.Lock()
        self.registry = (
            CameraRegistry(
                self.connection,
                settings.store_id,
                self._seeds,
                network_policy,
                self.apply_camera,
                self.run_cameras,
                on_refused=metrics.registry_refused.inc,
            )
            if settings.camera_registry
            else None
        )
        self._background: list[asyncio.Task[None]] = []
        self.live = LiveViewAnswerer(self._live_sources, self._camera_is_live)
        self.health = HealthServer(
            self.probe,
            metrics.registry,
            settings.health_host,
            settings.health_port,
            live_offers=LiveOfferEndpoint(self.live).handle,
            live_snapshots=LiveSnapshotEndpoint(self._live_sources).handle,
        )
        self._stopped = asyncio.Event()

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        await self.connection.start()
        # Tracker checkpoints and id blocks live in NATS: wait briefly for it, but start
        # without it (tracks then get ids once it answers).
        if not await self.connection.wait_connected(timeout_s=5.0):
            log.warning("NATS unreachable at start: events are buffered, track ids wait")
        await self.publisher.start()
        self.batcher.start()
        if self.identity:
            self.identity.start()
        await self.health.start()
        bootstrap = True
        if self.registry is not None:
            self._background.append(asyncio.create_task(self.registry.run(), name="registry"))
            if self.connection.connected:
                try:
                    await asyncio.wait_for(
                        self.registry.synced.wait(), self.settings.registry_wait_s
                    )
                    bootstrap = False
                except TimeoutError:
                    log.warning("camera registry did not answer: running the camera file's")
        if bootstrap:
            await self.run_cameras({c.id: c for c in self._seeds if c.enabled}, set())
        self._background.append(asyncio.create_task(self._report_status(), name="status"))
        log.info("store node started", extra={"cameras": list(self.cameras)})

    # --- which cameras run ----------------------------------------------------------------

    async def run_cameras(self, wanted: Mapping[str, CameraConfig], keep: set[str]) -> None:
        """Run exactly `wanted` (plus whatever runs of `keep`, left as it is): start,
        restart or stop cameras to match."""
        async with self._cameras_changing:
            for camera_id in [c for c in self.cameras if c not in wanted and c not in keep]:
                await self._stop_camera(self.cameras[camera_id], "camera_stopped")
            for camera_id, config in wanted.items():
                await self._apply(camera_id, config)

    async def apply_camera(self, camera_id: str, config: CameraConfig | None) -> None:
        """Run `config` as the camera (restarting it when it differs from the running
        one), or stop the camera when `config` is None or disabled."""
        async with self._cameras_changing:
            await self._apply(camera_id, config)

    async def _apply(self, camera_id: str, config: CameraConfig | None) -> None:
        running = self.cameras.get(camera_id)
        if config is not None and not config.enabled:
            config = None
        if (running is None and config is None) or (
            running is not None and config == running.config
        ):
            return  # nothing to change
        if running is not None:
            await self._stop_camera(running, "camera_stopped")
        if config is not None:
            await self._start_camera(config)
        self.metrics.registry_changes.labels(
            change="stopped" if config is None else "started" if running is None else "restarted"
        ).inc()

    async def _start_camera(self, config: CameraConfig) -> None:
        tracker_config = self.settings.tracker.model_copy(
            update={"frame_rate": max(1, round(config.target_fps))}
        )
        ids = ReservedIds()
        camera = _Camera(
            config=config,
            worker=CameraWorker(config, metrics=self.metrics, on_status=self._on_status),
            tracker=ByteTracker(tracker_config, ids=ids),
            journal=TrackJournal(self.settings.track_update_every),
            pending=asyncio.Queue(self.settings.per_camera_in_flight),
            live=AnnotatedFrameSource(config.id, config.target_fps),
            ids=ids,
        )
        self.cameras[config.id] = camera
        self._live_sources[config.id] = camera.live
        # The camera's tasks (and its reader threads) inherit this: their log lines name
        # the store and the camera.
        with log_context(store_id=self.settings.store_id, camera_id=config.id):
            await self._restore(camera)
            camera.worker.start()
            camera.tasks = [
                asyncio.create_task(self._submit_frames(camera), name=f"submit-{config.id}"),
                asyncio.create_task(self._consume_results(camera), name=f"track-{config.id}"),
                asyncio.create_task(self._checkpoint_loop(camera), name=f"ckpt-{config.id}"),
                asyncio.create_task(self._supply_ids(camera), name=f"ids-{config.id}"),
            ]
            # masked: credentials never reach a log (trinetra.config.secrets)
            log.info("camera started", extra={"source": config.redacted_source})

    async def _stop_camera(self, camera: _Camera, reason: Literal["camera_stopped"]) -> None:
        """Stop one camera while the node runs on: its open tracks end with `reason`, and
        once those events are stored its checkpoint forgets them."""
        await self._halt(camera, reason)
        if self.connection.connected and await self.publisher.flush(SHUTDOWN_STEP_S):
            await bounded_step(self._checkpoint(camera), "checkpoint")
        del self.cameras[camera.config.id]
        self._live_sources.pop(camera.config.id, None)
        self.metrics.active_tracks.labels(camera=camera.config.id).set(0)
        with log_context(store_id=self.settings.store_id, camera_id=camera.config.id):
            log.info("camera stopped", extra={"reason": reason})

    async def _halt(self, camera: _Camera, reason: Literal["camera_stopped", "shutdown"]) -> None:
        # The worker logs its last state change (stopped) from here, not its task.
        with log_context(store_id=self.settings.store_id, camera_id=camera.config.id):
            await bounded_step(camera.worker.stop(grace_s=5), "camera worker")
        for task in camera.tasks:
            task.cancel()
        if camera.tasks:
            await asyncio.wait(camera.tasks, timeout=SHUTDOWN_STEP_S)
        # A clean stop ends the open tracks itself. (After a crash the next start ends
        # them, reason node_restart: orchestrator/tracking/restart.py.)
        if camera.last_frame is not None:
            for event in camera.journal.end_all(camera.last_frame, reason):
                self.publisher.publish(event)
        camera.tracker.clear()

    async def stop(self) -> None:
        for task in self._background:
            task.cancel()
        if self._background:
            await asyncio.wait(self._background, timeout=SHUTDOWN_STEP_S)
        await bounded_step(self.live.close(), "live viewers")
        async with self._cameras_changing:
            for camera in self.cameras.values():
                await self._halt(camera, "shutdown")
            # The checkpoints may forget those tracks only once their ended events are
            # stored; if not, the last periodic checkpoint stays and the next start ends them.
            if self.connection.connected and await self.publisher.flush(SHUTDOWN_STEP_S):
                for camera in self.cameras.values():
                    await bounded_step(self._checkpoint(camera), "checkpoint")
        await bounded_step(self.batcher.close(), "batcher")
        if self.identity:
            await bounded_step(self.identity.close(), "identity feed")
        await bounded_step(self.health.close(), "health endpoint")
        await bounded_step(self.publisher.close(), "publisher")
        await bounded_step(self.client.close(), "triton client")
        await bounded_step(self.connection.close(), "nats connection")
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
            tracked = dataclasses.replace(result, persons=update.detections)
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
        camera = self.cameras.get(camera_id)
        return camera is not None and camera.worker.state is CameraState.LIVE

    async def _report_status(self) -> None:
        """Re-report every running camera's status, stamped now: the gateway counts a
        camera unreported for a while as run by no node (a node that died says nothing)."""
        while True:
            await asyncio.sleep(self.settings.status_every_s)
            for camera in list(self.cameras.values()):
                await self._on_status(camera.worker.status, at=time.time())

    async def _on_status(self, status: CameraStatus, at: float | None = None) -> None:
        self.publisher.publish(
            CameraStatusEvent(
                camera_id=status.camera_id,
                store_id=self.settings.store_id,
                occurred_at=datetime.fromtimestamp(status.timestamp if at is None else at, UTC),
                state=status.state.value,
                reason=status.reason or None,
                reconnect_attempt=status.attempt,
            )
        )

    # --- checkpoints --------------------------------------------------------------------

    async def _checkpoint_loop(self, camera: _Camera) -> None:
        retry = Backoff(1.0, 30.0)
        while not camera.recovered.is_set():  # NATS was away at start: try again
            await asyncio.sleep(retry.next_delay())
            await self._restore(camera)
        while True:
            await asyncio.sleep(self.settings.checkpoint_every_s)
            await self._checkpoint(camera)

    async def _checkpoint(self, camera: _Camera) -> None:
        if camera.recovered.is_set():  # else the previous run's checkpoint is still needed
            await self._save_checkpoint(camera)

    async def _save_checkpoint(self, camera: _Camera) -> bool:
        """Save which tracks are open (the journal), for the next start after a crash."""
        state = {"journal": camera.journal.state_dict(), "saved_at": time.time()}
        return await self.checkpoints.save(camera.config.id, state)

    async def _supply_ids(self, camera: _Camera) -> None:
        # Only after the recovery: its read of the bus must not take this run's tracks for
        # the dead run's.
        await camera.recovered.wait()
        await self.id_blocks.supply(camera.config.id, camera.ids)

    async def _restore(self, camera: _Camera) -> None:
        """End the tracks a crashed previous run left open, then mark the camera
        recovered; while NATS cannot tell, leave it unrecovered (the checkpoint loop
        tries again)."""
        camera_id = camera.config.id
        try:
            ended = await tracks_left_open(
                self.checkpoints, self.connection, self.settings.store_id, camera_id
            )
        except (CheckpointUnavailableError, PublishedEventsUnavailableError) as error:
            log.warning(
                "cannot end the previous run's tracks yet",
                extra={"camera": camera_id, "error": str(error)},
            )
            return
        except ValueError as error:
            log.warning(
                "ignoring unusable tracker checkpoint",
                extra={"camera": camera_id, "error": str(error)},
            )
            ended = []
        for event in ended:
            self.publisher.publish(event)
        # Stored before a new checkpoint forgets those tracks, or they would stay open.
        if ended and not await self.publisher.flush(SHUTDOWN_STEP_S):
            log.warning("previous run's tracks not ended yet", extra={"camera": camera_id})
            return
        # This run's checkpoint replaces the dead run's (no id handed out yet, so its
        # journal is empty); only then may ids flow.
        if not await self._save_checkpoint(camera):
            return
        camera.recovered.set()
        if ended:
            log.info(
                "ended the tracks the previous run left open",
                extra={"camera": camera_id, "tracks": len(ended)},
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
            # healthy, down or degraded (in its cool-down), per Triton endpoint
            "triton_endpoints": self.client.endpoint_status(),
            "cameras": {
                cid: {
                    "state": c.worker.state.value,
                    "frames_analysed": c.frames_analysed,
                    "active_tracks": c.journal.active,
                }
                for cid, c in self.cameras.items()
            },
        }
