"""The identity service: the one process that owns the face gallery.

Local-mode Qdrant allows one client per storage folder, so the gallery, the gating engine
and the registry live here, and every other process talks to this one over NATS
request/reply (`protocol.py`, client in `client.py`). Decisions are published as events
(IDENTITY and ALERTS streams) through an `EventPublisher`.

Gallery and engine work runs on one worker thread (the engine is not thread-safe and
local Qdrant is synchronous), so the event loop stays responsive and requests are
serialized. A request handler never raises: every failure becomes an error reply.

The thresholds are the calibration of the face_embedder version the service is
configured for (`identity.embedder`, `identity.calibration`): it pins that version on its
own pipeline calls, records it in the gallery (a gallery of another version is refused)
and refuses observations that name another version.

Anonymous visit templates (`identity.visits`) live in this process's memory only: they are
never in the registry snapshot, a log line or an event.

Run: `python -m identity.service --config identity.yaml` (a YAML
`ServiceConfig`). With `identity.registry.snapshot_path` set, TRINETRA_EMBEDDING_KEY must
be in the environment or the service refuses to start. Logs are JSON lines on stderr
(`trinetra.logs`). With `health_port` set, Prometheus reads `/metrics` there (`/health` and
`/ready` beside it, trinetra.health); the `health` subject answers probes over NATS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import functools
import json
import logging
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import BaseModel, ValidationError

from identity.audit import AuditContext, AuditSink, JsonlAuditLog, audit
from identity.calibration import (
    CalibrationError,
    EmbedderCalibration,
    calibration_path,
    load_calibration,
)
from identity.config import IdentityConfig, ServiceConfig
from identity.crypto import (
    EMBEDDING_KEY_ENV,
    DecryptionError,
    EmbeddingCipher,
    MissingEmbeddingKeyError,
)
from identity.enrollment import FaceAnalyzer, Photo, assess_photos
from identity.event_purge import purge_customer_events
from identity.events import to_event
from identity.gallery import (
    EnrolledEmbedding,
    FaceGallery,
    GalleryLockedError,
    GalleryVersionError,
)
from identity.gate import Decision, IdentityGate, Observation
from identity.metrics import IdentityMetrics
from identity.outcomes import Outcome, Withdrawn
from identity.quality import FaceMeasures
from identity.vectors import unit_vector
from trinetra.events.connection import NatsConnection
from trinetra.events.kv import IDENTITY_UPLOADS_BUCKET
from trinetra.events.publisher import EventPublisher
from trinetra.events.streams import IDENTITY_STREAMS
from trinetra.health import HealthServer
from trinetra.identity.client import discard_upload
from trinetra.identity.errors import (
    BadRequestError,
    ErrorCode,
    IdentityError,
    IdentityServiceUnavailableError,
    PhotoTooLargeError,
    check_customer_id,
    code_of,
)
from trinetra.identity.protocol import (
    OPERATIONS,
    DecisionOut,
    EmbeddingInfo,
    EnrollRequest,
    EnrollResult,
    EraseRequest,
    EraseResult,
    EraseVisitRequest,
    EraseVisitResult,
    FaceIn,
    HealthRequest,
    HealthResult,
    LookupRequest,
    LookupResult,
    ObservationIn,
    ObserveRequest,
    ObserveResult,
    Operation,
    PhotoRefusal,
    TrackEndIn,
    error_reply,
    ok_reply,
    service_subject,
)
from trinetra.inference.errors import InferenceError
from trinetra.inference.settings import TritonSettings
from trinetra.logs import configure_logging, log_context
from trinetra.settings import read_yaml

log = logging.getLogger(__name__)
T = TypeVar("T")


class IdentityService:
    """Gallery + gating engine + registry behind NATS request/reply (module docs)."""

    def __init__(
        self,
        config: ServiceConfig,
        *,
        analyzer: FaceAnalyzer,
        connection: NatsConnection | None = None,
        gallery: FaceGallery | None = None,
        audit_sink: AuditSink | None = None,
        publisher: EventPublisher | None = None,
        metrics: IdentityMetrics | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """Raises `MissingEmbeddingKeyError` when the encrypted snapshot is configured but
        TRINETRA_EMBEDDING_KEY is missing or invalid (before anything is opened), and
        `GalleryLockedError` when another process holds the local gallery."""
        self.config = config
        self.calibration = _calibration(config.identity)
        identity = (
            config.identity
            if self.calibration is None
            else config.identity.with_calibration(self.calibration)
        )
        self.identity_config = identity  # with the calibrated thresholds
        self._snapshot_path = identity.registry.snapshot_path
        self._cipher = (
            EmbeddingCipher.from_env(environ) if self._snapshot_path is not None else None
        )
        snapshot = self._read_snapshot()  # before opening anything: a wrong key stops here
        self.metrics = metrics if metrics is not None else IdentityMetrics()
        self._owns_audit = audit_sink is None
        self._audit: AuditSink = (
            audit_sink
            if audit_sink is not None
            else JsonlAuditLog(identity.audit.path, fsync=identity.audit.fsync)
        )
        self._owns_gallery = gallery is None
        self.gallery = (
            gallery
            if gallery is not None
            else FaceGallery(identity.gallery, audit_sink=self._audit, metrics=self.metrics)
        )
        embedder = identity.embedder
        try:
            self.gallery.ensure_embedder(embedder.model, embedder.version)
        except GalleryVersionError:
            if self._owns_gallery:
                self.gallery.close()
            raise
        self.engine = IdentityGate(
            identity,
            self.gallery,
            actor=config.actor,
            metrics=self.metrics,
            embedder_version=str(embedder.version),
        )
        self._analyzer = analyzer
        self._owns_connection = connection is None
        self.connection = (
            connection
            if connection is not None
            else NatsConnection(list(config.nats_servers), name="trinetra-identity")
        )
        self._owns_publisher = publisher is None
        self.publisher = (
            publisher
            if publisher is not None
            else EventPublisher(self.connection, streams=IDENTITY_STREAMS)
        )
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="identity")
        self._subscriptions: list[Subscription] = []
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self._last_observed = time.monotonic()
        self._created = time.monotonic()
        # /metrics (and /health, /ready) over HTTP for Prometheus, as the store node and
        # the analytics service serve theirs; off unless a port is configured.
        self.health = (
            HealthServer(self.probe, self.metrics.registry, config.health_host, config.health_port)
            if config.health_port is not None
            else None
        )
        if snapshot is not None:
            self.engine.registry.restore(snapshot)
            audit(
                self._audit,
                AuditContext(config.actor, "restore the active registry at start"),
                "snapshot",
                details={"operation": "load", "identities": len(self.engine.registry)},
            )

    @property
    def store_id(self) -> str:
        return self.config.store_id

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting and serving in the background (NATS may still be down)."""
        if self.health is not None:
            await self.health.start()  # first: a port in use stops the start here
        await self.connection.start()
        await self.publisher.start()
        self._tasks.append(asyncio.create_task(self._subscribe_when_connected()))
        self._tasks.append(asyncio.create_task(self._expire_forever()))
        if self._snapshot_path is not None:
            self._tasks.append(asyncio.create_task(self._snapshot_forever()))

    async def wait_ready(self, timeout_s: float | None = None) -> bool:
        """True once the request subjects are subscribed."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sub in self._subscriptions:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        if self.health is not None:
            await self.health.close()
        await self._run(self._save_snapshot)
        if self._owns_publisher:
            await self.publisher.close()
        if self._owns_connection:
            await self.connection.close()
        self._executor.shutdown(wait=True)
        if self._owns_gallery:
            self.gallery.close()
        if self._owns_audit and isinstance(self._audit, JsonlAuditLog):
            self._audit.close()

    async def __aenter__(self) -> IdentityService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- operations (in-process API; the NATS handlers call these) ---------------------

    async def enroll(
        self, customer_id: str, photo: Photo, *, actor: str, reason: str, vip: bool = False
    ) -> EnrolledEmbedding:
        """Embed the one face of `photo` (in memory only) and store it for the customer."""
        result = await self.enroll_photos(customer_id, [photo], actor=actor, reason=reason, vip=vip)
        return result.entries[0]

    async def enroll_photos(
        self,
        customer_id: str,
        photos: Sequence[Photo],
        *,
        actor: str,
        reason: str,
        vip: bool = False,
        replace: bool = False,
    ) -> Enrolment:
        """Embed the one face of each photo (in memory only) and store the usable ones for
        the customer; `replace` (re-enrolment) first deletes their stored embeddings and
        restarts their adaptive template. Raises the first refusal when none is usable."""
        check_customer_id(customer_id)
        ctx = AuditContext(actor, reason)
        for photo in photos:
            if isinstance(photo, bytes | bytearray) and len(photo) > self.config.max_photo_bytes:
                raise PhotoTooLargeError(
                    f"photo is {len(photo)} bytes, more than {self.config.max_photo_bytes}"
                )
        enrollment = self.identity_config.enrollment
        assessment = await assess_photos(self._analyzer, photos, enrollment)

        def work() -> Enrolment:
            replaced = 0
            if replace:
                replaced = self.gallery.erase(customer_id, ctx=ctx)
                self.engine.registry.drop_template(customer_id)
            entries = [
                self.gallery.add(
                    customer_id,
                    sample.embedding,
                    ctx=ctx,
                    camera_id=enrollment.source_camera,
                    vip=vip,
                )
                for _, sample in assessment.samples
            ]
            return Enrolment(
                entries=entries,
                refused=[
                    PhotoRefusal(index=i, code=code_of(error), message=error.message)
                    for i, error in assessment.refused
                ],
                replaced=replaced,
            )

        return await self._run(work)

    async def erase(self, customer_id: str, *, actor: str, reason: str) -> EraseResult:
        """Delete every embedding of the customer and every link to them (registry,
        votes, templates, the encrypted snapshot); withdraws their live tracks."""
        check_customer_id(customer_id)
        ctx = AuditContext(actor, reason)

        def work() -> tuple[int, bool, list[Outcome]]:
            was_active = customer_id in self.engine.registry
            removed = self.gallery.erase(customer_id, ctx=ctx)
            outcomes = self.engine.erase(customer_id)
            self._save_snapshot()
            return removed, was_active, outcomes

        removed, was_active, outcomes = await self._run(work)
        self._publish(outcomes)
        purged = 0
        if self.connection.client is not None and self.connection.connected:
            # The withdrawals just published carry no customer id; older events do.
            try:
                purged = await asyncio.wait_for(
                    purge_customer_events(self.connection.client, customer_id), 30
                )
            except TimeoutError:
                log.error("erase: purging stored events timed out", extra={"customer": "<hidden>"})
        return EraseResult(
            events_purged=purged,
            customer_id=customer_id,
            embeddings_removed=removed,
            was_active=was_active,
            tracks_withdrawn=sum(isinstance(o, Withdrawn) for o in outcomes),
        )

    async def erase_visit(
        self, visit_id: uuid.UUID, *, actor: str, reason: str
    ) -> EraseVisitResult:
        """Delete an anonymous visit's face templates (audited; no customer involved)."""
        ctx = AuditContext(actor, reason)
        erased = await self._run(functools.partial(self.engine.erase_visit, visit_id))
        audit(
            self._audit,
            ctx,
            "erase_visit",
            details={
                "visit_id": str(visit_id),
                "templates_removed": erased.templates_removed,
                "tracks": erased.tracks,
            },
        )
        return EraseVisitResult(
            visit_id=visit_id,
            found=erased.found,
            templates_removed=erased.templates_removed,
            tracks=erased.tracks,
        )

    async def lookup(self, customer_id: str, *, actor: str, reason: str) -> LookupResult:
        check_customer_id(customer_id)
        ctx = AuditContext(actor, reason)

        def work() -> LookupResult:
            entries = self.gallery.lookup(customer_id, ctx=ctx)
            active = self.engine.registry.get(customer_id)
            return LookupResult(
                customer_id=customer_id,
                enrolled=bool(entries),
                embeddings=[
                    EmbeddingInfo(
                        slot=e.slot, camera_id=e.camera_id, enrolled_at=e.enrolled_at, vip=e.vip
                    )
                    for e in entries
                ],
                active=active is not None,
                last_seen_at=None
                if active is None
                else datetime.fromtimestamp(active.last_seen, UTC),
            )

        return await self._run(work)

    async def observe(
        self,
        observations: Sequence[Observation],
        ended: Sequence[TrackEndIn] = (),
    ) -> list[Decision]:
        """Gate observations (in order), then end tracks; outcomes are published."""

        def work() -> tuple[list[Decision], list[Outcome]]:
            decisions = []
            for o in observations:
                with log_context(camera_id=o.camera_id, track_id=o.track_id):
                    decisions.append(self.engine.observe(o))
            outcomes = [x for d in decisions for x in d.outcomes]
            for end in ended:
                outcomes.extend(self.engine.end_track(end.camera_id, end.track_id, end.at))
            return decisions, outcomes

        decisions, outcomes = await self._run(work)
        self._last_observed = time.monotonic()
        self._publish(outcomes)
        return decisions

    def health_result(self) -> HealthResult:
        """What the health subject answers; read on the event loop (no gallery call)."""
        return HealthResult(
            store_id=self.store_id,
            ready=self._ready.is_set(),
            embedder_version=str(self.identity_config.embedder.version),
            active_identities=len(self.engine.registry),
            events_pending=self.publisher.pending,
            uptime_s=round(time.monotonic() - self._created, 3),
        )

    async def probe(self) -> dict[str, Any]:
        """/health and /ready of the HTTP endpoint: ready once subscribed and connected."""
        result = self.health_result()
        nats_connected = self.connection.connected
        return {
            **result.model_dump(),
            "ready": result.ready and nats_connected,
            "nats_connected": nats_connected,
        }

    # --- NATS side --------------------------------------------------------------------

    async def _subscribe_when_connected(self) -> None:
        await self.connection.wait_connected()
        client = self.connection.client
        assert client is not None
        handlers: dict[Operation, Callable[[bytes], Awaitable[BaseModel]]] = {
            "enroll": self._on_enroll,
            "erase": self._on_erase,
            "erase_visit": self._on_erase_visit,
            "lookup": self._on_lookup,
            "observe": self._on_observe,
            "health": self._on_health,
        }
        for operation in OPERATIONS:
            handler = handlers[operation]
            # nats-py replays these subscriptions on every reconnect of the client.
            sub = await client.subscribe(
                service_subject(self.store_id, operation), cb=self._callback(operation, handler)
            )
            self._subscriptions.append(sub)
        await client.flush()
        self._ready.set()
        log.info("identity service ready", extra={"store": self.store_id})

    def _callback(
        self, operation: str, handler: Callable[[bytes], Awaitable[BaseModel]]
    ) -> Callable[[Msg], Awaitable[None]]:
        async def on_message(msg: Msg) -> None:
            with log_context(store_id=self.store_id):
                reply = await self._reply(operation, handler, msg.data)
            if msg.reply:
                try:
                    await msg.respond(reply)
                except Exception as exc:
                    log.warning(
                        "identity reply failed",
                        extra={"operation": operation, "error": repr(exc)},
                    )

        return on_message

    async def _reply(
        self, operation: str, handler: Callable[[bytes], Awaitable[BaseModel]], data: bytes
    ) -> bytes:
        code: ErrorCode
        try:
            return ok_reply(await handler(data))
        except ValidationError as exc:
            code, message = "bad_request", _validation_message(exc)
        except json.JSONDecodeError as exc:
            code, message = "bad_request", f"request is not JSON: {exc}"
        except IdentityError as exc:
            code, message = code_of(exc), exc.message
        except InferenceError as exc:
            code, message = "unavailable", f"vision pipeline unavailable: {exc}"
        except ValueError as exc:
            code, message = "bad_request", str(exc)
        except Exception as exc:
            log.exception("identity request failed", extra={"operation": operation})
            code, message = "internal", f"{type(exc).__name__}: internal error"
        return error_reply(code, message)

    async def _on_enroll(self, data: bytes) -> EnrollResult:
        request = EnrollRequest.model_validate_json(data)
        photos = (
            await self._uploaded_photos(request.uploads, request.upload_domain)
            if request.uploads
            else request.all_photo_bytes()
        )
        enrolment = await self.enroll_photos(
            request.customer_id,
            photos,
            actor=request.actor,
            reason=request.reason,
            vip=request.vip,
            replace=request.replace,
        )
        count = len(
            await self._run(
                lambda: self.gallery.lookup(
                    request.customer_id,
                    ctx=AuditContext(request.actor, "confirm enrolment"),
                )
            )
        )
        first = enrolment.entries[0]
        return EnrollResult(
            customer_id=first.customer_id,
            slot=first.slot,
            enrolled_at=first.enrolled_at,
            embeddings=count,
            slots=[e.slot for e in enrolment.entries],
            refused=enrolment.refused,
            replaced=enrolment.replaced,
        )

    async def _uploaded_photos(self, names: Sequence[str], domain: str | None) -> list[bytes]:
        """The photos of an enrolment from IDENTITY_UPLOADS (trinetra/events/kv.py) in the
        sender's JetStream domain, all deleted from there once read (or refused): the
        bus keeps none after this, and the service keeps them in memory for this
        request only."""
        client = self.connection.client
        if client is None or not self.connection.connected:
            raise IdentityServiceUnavailableError("not connected to NATS")
        limit = self.config.max_photo_bytes
        gone = BadRequestError("an uploaded photo is gone (expired or already used): send it again")
        try:
            js = client.jetstream(domain=domain) if domain else client.jetstream()
            store = await js.object_store(IDENTITY_UPLOADS_BUCKET.name)
        except nats.js.errors.NotFoundError:
            raise gone from None
        photos: list[bytes] = []
        try:
            for name in names:
                info = await store.get_info(name)
                if (info.size or 0) > limit:  # refused before it is downloaded
                    raise PhotoTooLargeError(f"photo is {info.size} bytes, more than {limit}")
                photos.append((await store.get(name)).data or b"")
        except nats.js.errors.NotFoundError:
            raise gone from None
        except (nats.errors.Error, TimeoutError) as exc:
            raise IdentityServiceUnavailableError(
                f"cannot read the uploaded photo ({type(exc).__name__})"
            ) from None
        finally:
            for name in names:
                await discard_upload(store, name)
        return photos

    async def _on_erase(self, data: bytes) -> EraseResult:
        request = EraseRequest.model_validate_json(data)
        return await self.erase(request.customer_id, actor=request.actor, reason=request.reason)

    async def _on_erase_visit(self, data: bytes) -> EraseVisitResult:
        request = EraseVisitRequest.model_validate_json(data)
        return await self.erase_visit(request.visit_id, actor=request.actor, reason=request.reason)

    async def _on_lookup(self, data: bytes) -> LookupResult:
        request = LookupRequest.model_validate_json(data)
        return await self.lookup(request.customer_id, actor=request.actor, reason=request.reason)

    async def _on_health(self, data: bytes) -> HealthResult:
        HealthRequest.model_validate_json(data or b"{}")
        return self.health_result()

    async def _on_observe(self, data: bytes) -> ObserveResult:
        request = ObserveRequest.model_validate_json(data)
        decisions = await self.observe(
            [_observation(o) for o in request.observations], request.ended
        )
        return ObserveResult(
            decisions=[
                DecisionOut(
                    camera_id=d.camera_id,
                    track_id=d.track_id,
                    visit_id=d.visit_id,
                    status=d.status,
                    customer_id=d.customer_id,
                    vote=d.vote,
                    vote_reason=d.vote_reason,
                    score=d.score,
                    companion=d.companion,
                    visit_scope=d.visit_scope,
                )
                for d in decisions
            ]
        )

    # --- helpers ----------------------------------------------------------------------

    async def _run(self, work: Callable[[], T]) -> T:
        # run_in_executor does not carry contextvars: the request's log_context goes along.
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(self._executor, context.run, work)

    def _publish(self, outcomes: Sequence[Outcome]) -> None:
        for outcome in outcomes:
            self.publisher.publish(to_event(outcome, self.store_id))

    def _read_snapshot(self) -> dict[str, Any] | None:
        path, cipher = self._snapshot_path, self._cipher
        if path is None or cipher is None or not path.exists():
            return None
        try:
            state = cipher.read_file(path)
        except DecryptionError as exc:
            raise DecryptionError(
                f"registry snapshot {path} cannot be decrypted with {EMBEDDING_KEY_ENV}: "
                "wrong key? Move the file away to start with an empty registry."
            ) from exc
        if not isinstance(state, dict):
            raise DecryptionError(f"registry snapshot {path} is not a snapshot")
        return state

    def _save_snapshot(self) -> None:
        path, cipher = self._snapshot_path, self._cipher
        if path is None or cipher is None:
            return
        cipher.write_file(path, self.engine.registry.snapshot())
        audit(
            self._audit,
            AuditContext(self.config.actor, "persist the active registry"),
            "snapshot",
            details={"operation": "save", "identities": len(self.engine.registry)},
        )

    async def _expire_forever(self, every_s: float = 5.0) -> None:
        """Keep TTLs running while no observations arrive (the engine's clock is the
        observations'): advance it by the idle wall time, so ended tracks are reported
        and unseen identities leave the registry even in an empty store."""
        while True:
            await asyncio.sleep(every_s)
            idle = time.monotonic() - self._last_observed
            if idle < every_s or self.engine.now == 0.0:
                continue
            try:
                now = self.engine.now + idle
                outcomes = await self._run(functools.partial(self.engine.expire, now))
                self._publish(outcomes)
            except Exception:
                log.exception("identity expiry failed", extra={"store": self.store_id})

    async def _snapshot_forever(self) -> None:
        interval = self.config.identity.registry.snapshot_interval_s
        while True:
            await asyncio.sleep(interval)
            try:
                await self._run(self._save_snapshot)
            except Exception:
                log.exception("registry snapshot failed", extra={"store": self.store_id})


@dataclass(frozen=True)
class Enrolment:
    """What one enrolment stored, refused and replaced."""

    entries: list[EnrolledEmbedding]
    refused: list[PhotoRefusal]
    replaced: int


def _calibration(identity: IdentityConfig) -> EmbedderCalibration | None:
    """The configured embedder version's calibration (CalibrationError when it is
    wanted and missing), or None when calibration is switched off."""
    embedder = identity.embedder
    if not embedder.calibrated:
        return None
    path = calibration_path(embedder.repository_path, embedder.model, embedder.version)
    return load_calibration(path, model=embedder.model, version=embedder.version)


def _measures(face: FaceIn | None) -> FaceMeasures | None:
    if face is None:
        return None
    return FaceMeasures(
        box=face.box, score=face.score, landmarks=face.landmarks, sharpness=face.sharpness
    )


def _observation(o: ObservationIn) -> Observation:
    return Observation(
        camera_id=o.camera_id,
        track_id=o.track_id,
        at=o.at,
        embeddings=tuple(unit_vector(e) for e in o.embeddings),
        box=o.box,
        track_uid=o.track_uid,
        face=_measures(o.face),
        embedder_version=o.embedder_version,
    )


def pinned_triton(config: ServiceConfig) -> TritonSettings:
    """The service's Triton settings with its embedder version pinned (its enrolments must
    come from the version its gallery holds); ValueError if they pin another one."""
    embedder = config.identity.embedder
    pins = dict(config.triton.model_versions)
    pinned = pins.get(embedder.model)
    if pinned is not None and pinned != embedder.version:
        raise ValueError(
            f"triton.model_versions pins {embedder.model} to {pinned}, but "
            f"identity.embedder.version is {embedder.version}"
        )
    pins[embedder.model] = embedder.version
    return config.triton.model_copy(update={"model_versions": pins})


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "request"
        parts.append(f"{where}: {error['msg']}")
    return "invalid request: " + "; ".join(parts)


def load_config(path: Path) -> ServiceConfig:
    data: Any = read_yaml(path, what="identity config") or {}
    return ServiceConfig.model_validate(data)


async def _serve(config: ServiceConfig) -> None:
    from trinetra.inference import VisionClient

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with (
        VisionClient(pinned_triton(config)) as vision,
        IdentityService(config, analyzer=vision),
    ):
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="TRINETRA identity service")
    parser.add_argument("--config", type=Path, required=True, help="ServiceConfig YAML")
    args = parser.parse_args(argv)
    configure_logging()
    try:
        asyncio.run(_serve(load_config(args.config)))
    except (
        MissingEmbeddingKeyError,
        DecryptionError,
        GalleryLockedError,
        GalleryVersionError,
        CalibrationError,
        ValidationError,
        ValueError,
        OSError,  # a config or storage path that cannot be read
    ) as exc:
        print(f"identity service cannot start: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
