"""One camera: a reader thread that decodes, an asyncio task that supervises.

Isolation: decoding (FFmpeg, JPEG) and blocking I/O run in a dedicated thread per camera,
so a slow, dead or hung camera never blocks the event loop or another camera. The thread
validates frames, spends burst tokens and scores motion, then hands frames to the event
loop through a bounded latest-wins buffer (orchestrator.cameras.buffer).

State machine (the asyncio task):

    connecting --first frame--> live --stream lost--> error --backoff--> connecting
         \\------open failed / timed out------------> error
    any state --stop()--> stopped

Each connection attempt runs in a fresh reader thread with a fresh source; when the RTSP
server dies, OpenCV's read() fails for good, so reconnecting always means reopening.
Reconnect delays grow exponentially with full jitter (trinetra.retry) and
reset once a connection delivers frames. A watchdog abandons a reader thread that stops
reporting (a source whose own timeouts failed) and starts a new one.

Status changes go to an optional callback (sync or async; a later stage publishes them)
and to any number of `watch()` async iterators.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import logging
import random
import threading
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from orchestrator.cameras.buffer import BufferClosed, LatestBuffer
from orchestrator.cameras.factory import open_source
from orchestrator.cameras.frame import Frame
from orchestrator.cameras.source import FrameSource, SourceError
from orchestrator.frames.burst import BurstSuppressor
from orchestrator.frames.motion import MotionScorer
from orchestrator.frames.validation import FrameValidator, RejectReason
from orchestrator.metrics import METRICS, OrchestratorMetrics
from trinetra.config.camera import CameraConfig
from trinetra.config.secrets import scrub
from trinetra.retry import Backoff
from trinetra.vocabulary import CameraState

__all__ = ["CameraState", "CameraStatus", "CameraWorker", "SourceFactory", "StatusCallback"]

log = logging.getLogger(__name__)

# How long past the source's own timeouts the watchdog waits before abandoning a reader.
WATCHDOG_GRACE_S = 5.0
_WATCHDOG_TICK_S = 0.25
_WATCH_QUEUE_SIZE = 256


@dataclass(frozen=True, slots=True)
class CameraStatus:
    """A state change of one camera. `reason` never contains credentials."""

    camera_id: str
    state: CameraState
    reason: str
    timestamp: float  # epoch seconds
    attempt: int  # consecutive failed connection attempts so far (0: none)
    retry_in_s: float | None = None  # ERROR only: delay before the next attempt


StatusCallback = Callable[[CameraStatus], Awaitable[None] | None]
SourceFactory = Callable[[CameraConfig], FrameSource]


def _offer(queue: asyncio.Queue[CameraStatus | None], item: CameraStatus | None) -> None:
    # A watcher that does not keep up loses its oldest changes, never blocks the worker.
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(item)


@dataclass(eq=False)
class _Session:
    """One connection attempt and its reader thread."""

    number: int
    done: asyncio.Future[None]  # resolved (on the loop) when the reader thread ends
    source: FrameSource | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    live: bool = False
    # time.monotonic() of the reader's last sign of life (opened, read, failed).
    last_activity: float = field(default_factory=time.monotonic)
    thread: threading.Thread | None = None


@dataclass(frozen=True, slots=True)
class _Live:
    session: int


@dataclass(frozen=True, slots=True)
class _Closed:
    session: int
    reason: str


class CameraWorker:
    """Reads one camera in its own thread and supervises it from an asyncio task.

    Usage:
        worker = CameraWorker(config)
        worker.start()
        async for frame in worker.frames():
            ...
        await worker.stop()
    """

    def __init__(
        self,
        config: CameraConfig,
        *,
        metrics: OrchestratorMetrics = METRICS,
        source_factory: SourceFactory = open_source,
        on_status: StatusCallback | None = None,
        rng: random.Random | None = None,
        score_motion: bool = True,
        watchdog_grace_s: float = WATCHDOG_GRACE_S,
    ) -> None:
        self.config = config
        self.camera_id = config.id
        self._metrics = metrics
        self._source_factory = source_factory
        self._on_status = on_status
        self._backoff = Backoff.from_config(config.reconnect, rng=rng)
        self._score_motion = score_motion
        self._watchdog_grace_s = watchdog_grace_s
        self.validator = FrameValidator(config.id, metrics=metrics)
        self._status = CameraStatus(config.id, CameraState.STOPPED, "not started", time.time(), 0)
        self._watchers: list[asyncio.Queue[CameraStatus | None]] = []
        self._buffer: LatestBuffer[Frame] | None = None
        self._events: asyncio.Queue[_Live | _Closed] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._wakeup: asyncio.Event | None = None
        self._session: _Session | None = None
        self._sessions = 0
        self._seq = 0  # shared by every session: seq increases across reconnects
        self._seq_lock = threading.Lock()
        self.frames_emitted = 0

    # --- public API -------------------------------------------------------------------

    @property
    def status(self) -> CameraStatus:
        return self._status

    @property
    def state(self) -> CameraState:
        return self._status.state

    @property
    def buffer(self) -> LatestBuffer[Frame]:
        if self._buffer is None:
            raise RuntimeError("worker not started")
        return self._buffer

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> asyncio.Task[None]:
        """Start the supervising task on the running loop (idempotent)."""
        if self._task is not None:
            return self._task
        self._loop = asyncio.get_running_loop()
        self._buffer = LatestBuffer(self.config.buffer_size, self._loop)
        self._events = asyncio.Queue()
        self._wakeup = asyncio.Event()
        self._task = self._loop.create_task(self._run(), name=f"camera-{self.camera_id}")
        return self._task

    async def stop(self, grace_s: float | None = None) -> None:
        """Stop reading, wait for the reader thread (at most `grace_s`, default the source
        timeouts + 2 s), then end frames() and watch()."""
        self._stopping = True
        if self._wakeup is not None:
            self._wakeup.set()
        session = self._session
        if session is not None:
            session.stop.set()
            if session.source is not None:
                session.source.interrupt()
        if self._task is not None:
            limit = grace_s if grace_s is not None else self._reader_timeout() + 2.0
            done, _ = await asyncio.wait({self._task}, timeout=limit)
            if not done:
                log.warning(
                    "camera reader did not stop in time",
                    extra={"camera_id": self.camera_id, "grace_s": limit},
                )
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            elif not self._task.cancelled() and (error := self._task.exception()) is not None:
                log.error(
                    "camera worker failed", extra={"camera_id": self.camera_id}, exc_info=error
                )
        if self._status.state is not CameraState.STOPPED:
            await self._set_status(CameraState.STOPPED, "stopped", self._status.attempt)
        if self._buffer is not None:
            self._buffer.close()
        for queue in self._watchers:
            _offer(queue, None)

    async def frames(self) -> AsyncIterator[Frame]:
        """Frames as they arrive (latest wins when the consumer is slow) until stopped."""
        buffer = self.buffer
        while True:
            try:
                yield await buffer.get()
            except BufferClosed:
                return

    async def watch(self) -> AsyncIterator[CameraStatus]:
        """Every status change from now on, until the worker stops."""
        queue: asyncio.Queue[CameraStatus | None] = asyncio.Queue(_WATCH_QUEUE_SIZE)
        self._watchers.append(queue)
        try:
            while True:
                status = await queue.get()
                if status is None:
                    return
                yield status
        finally:
            self._watchers.remove(queue)

    # --- supervision (event loop) ------------------------------------------------------

    def _reader_timeout(self) -> float:
        return max(self.config.open_timeout_s, self.config.read_timeout_s)

    async def _set_status(
        self, state: CameraState, reason: str, attempt: int, retry_in_s: float | None = None
    ) -> None:
        # The one way out for reasons (logs, watchers, the published status): whatever
        # a source or a library put in the text, the camera's credentials stay here.
        reason = scrub(reason, self.config.source)
        status = CameraStatus(self.camera_id, state, reason, time.time(), attempt, retry_in_s)
        self._status = status
        self._metrics.set_camera_state(self.camera_id, state.value)
        log.info(
            "camera state changed",
            extra={
                "camera_id": self.camera_id,
                "state": state.value,
                "reason": reason,
                "attempt": attempt,
                "retry_in_s": retry_in_s,
            },
        )
        for queue in self._watchers:
            _offer(queue, status)
        if self._on_status is not None:
            try:
                result = self._on_status(status)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("camera status callback failed", extra={"camera_id": self.camera_id})

    async def _run(self) -> None:
        try:
            while not self._stopping:
                await self._set_status(
                    CameraState.CONNECTING,
                    f"opening {self.config.redacted_source}",
                    self._backoff.failures,
                )
                session = self._start_session()
                reason = await self._supervise(session)
                if self._stopping:
                    break
                if session.live:
                    self._backoff.reset()  # a connection that delivered frames starts over
                delay = self._backoff.next_delay()
                self._metrics.camera_reconnects.labels(camera=self.camera_id).inc()
                await self._set_status(CameraState.ERROR, reason, self._backoff.failures, delay)
                await self._sleep(delay)
        finally:
            current = self._session
            if current is not None:
                current.stop.set()
                if current.source is not None:
                    current.source.interrupt()
                await asyncio.wait({current.done}, timeout=self._reader_timeout() + 1.0)

    async def _sleep(self, delay: float) -> None:
        assert self._wakeup is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout=delay)

    def _start_session(self) -> _Session:
        assert self._loop is not None
        self._sessions += 1
        session = _Session(self._sessions, self._loop.create_future())
        self._session = session
        thread = threading.Thread(
            # Threads do not inherit contextvars: the reader logs with this task's
            # log_context (store, camera).
            target=contextvars.copy_context().run,
            args=(self._reader, session),
            name=f"camera-{self.camera_id}-{session.number}",
            daemon=True,  # a reader stuck in native code must not block interpreter exit
        )
        session.thread = thread
        thread.start()
        return session

    async def _supervise(self, session: _Session) -> str:
        """Follow a session until its reader reports it closed; return the reason."""
        assert self._events is not None
        while True:
            limit = (
                self.config.read_timeout_s if session.live else self.config.open_timeout_s
            ) + self._watchdog_grace_s
            try:
                event = await asyncio.wait_for(self._events.get(), timeout=_WATCHDOG_TICK_S)
            except TimeoutError:
                if session.done.done():
                    return "reader ended"
                idle = time.monotonic() - session.last_activity
                if idle > limit:
                    # The source's own timeouts did not fire: abandon this reader (it
                    # exits whenever its call returns) and reconnect with a new one.
                    session.stop.set()
                    if session.source is not None:
                        session.source.interrupt()
                    log.warning(
                        "camera reader silent; abandoning it",
                        extra={"camera_id": self.camera_id, "silent_s": round(idle, 1)},
                    )
                    return f"no response from {self.config.redacted_source} for {idle:.0f} s"
                continue
            if event.session != session.number:
                continue  # a late message from an abandoned reader
            if isinstance(event, _Live):
                await self._set_status(CameraState.LIVE, "receiving frames", 0)
                continue
            return event.reason

    # --- reader (its own thread) -------------------------------------------------------

    def _post(self, event: _Live | _Closed) -> None:
        loop, events = self._loop, self._events
        if loop is None or events is None:
            return
        with contextlib.suppress(RuntimeError):  # loop closed: nobody is listening
            loop.call_soon_threadsafe(events.put_nowait, event)

    def _resolve(self, future: asyncio.Future[None]) -> None:
        def resolve() -> None:
            if not future.done():
                future.set_result(None)

        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(resolve)

    def _reader(self, session: _Session) -> None:
        reason = "stopped"
        source: FrameSource | None = None
        try:
            source = self._source_factory(self.config)
            session.source = source
            if session.stop.is_set():
                return
            source.open()
            session.last_activity = time.monotonic()
            self._read_loop(session, source)
        except SourceError as exc:
            reason = str(exc)
        except Exception as exc:  # a bug or a native error: reconnect, never crash
            # The traceback as text, scrubbed: an exception may quote the source URL.
            log.error(
                "camera reader failed",
                extra={
                    "camera_id": self.camera_id,
                    "traceback": scrub(
                        "".join(traceback.format_exception(exc)), self.config.source
                    ),
                },
            )
            reason = f"reader error: {type(exc).__name__}: {exc}"
        finally:
            if source is not None:
                with contextlib.suppress(Exception):
                    source.close()
            session.last_activity = time.monotonic()
            self._post(_Closed(session.number, reason))
            self._resolve(session.done)

    def _read_loop(self, session: _Session, source: FrameSource) -> None:
        config = self.config
        bucket = BurstSuppressor(config.target_fps, config.burst_tokens)
        motion = MotionScorer() if self._score_motion else None
        buffer = self.buffer
        camera = self.camera_id
        frames_in = self._metrics.frames_in.labels(camera=camera)
        dropped_burst = self._metrics.frames_dropped.labels(camera=camera, reason="burst")
        overwritten = self._metrics.frames_dropped.labels(camera=camera, reason="overwritten")
        while not session.stop.is_set():
            raw = source.read()
            ingest_mono = time.monotonic()
            ingest_ts = time.time()
            session.last_activity = ingest_mono
            if session.stop.is_set():
                return
            if not session.live:
                session.live = True
                self._post(_Live(session.number))
            frames_in.inc()
            try:
                if raw.image is None:
                    self.validator.reject(RejectReason.UNDECODABLE)
                    continue
                if not self.validator.validate(raw.image):
                    continue
                if not bucket.allow(ingest_mono):
                    dropped_burst.inc()
                    continue
                score = motion.score(raw.image) if motion is not None else None
            except Exception:  # a corrupt frame is a reject, never fatal
                log.debug(
                    "camera frame processing failed", extra={"camera_id": camera}, exc_info=True
                )
                self.validator.reject(RejectReason.ERROR)
                continue
            with self._seq_lock:
                self._seq += 1
                seq = self._seq
            frame = Frame(
                camera_id=camera,
                seq=seq,
                image=raw.image,
                ingest_ts=ingest_ts,
                ingest_monotonic=ingest_mono,
                capture_ts=raw.capture_ts,
                motion=score,
            )
            self.frames_emitted += 1
            if buffer.put(frame) is not None:
                overwritten.inc()
