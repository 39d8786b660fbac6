"""The analytics service: one partition of a store's cameras, from DETECTIONS to ANALYTICS.

    DETECTIONS (JetStream, durable pull consumer per partition, analytics.consumer)
      -> PartitionProcessor (the engine, deterministic; analytics.processor)
      -> EventPublisher -> ANALYTICS (deterministic event ids: duplicates are dropped)
    ANALYTICS_CONFIG (KV) -> live configuration changes (analytics.live_config)
    ANALYTICS_STATE (KV)  <- checkpoints: engine state + stream position (analytics.checkpoint)

Exactly once in effect, across crashes:
1. Messages are processed one at a time in stream order; the events they cause are
   handed to the publisher (buffered, retried, deduplicated by event id).
2. Every `checkpoint_interval_s` the service waits until JetStream has stored every
   event published so far, then writes the checkpoint (the processor's snapshot and the
   last stream sequence it covers) and only then acknowledges the consumed messages
   (one AckAll). An event is therefore never acknowledged away before it is stored.
3. On restart the snapshot is restored and the consumer re-created at the checkpoint's
   sequence + 1 (analytics.consumer says why not at the server's ack floor); anything at
   or below it that still arrives is skipped. The messages after the checkpoint are
   processed again from the same state, so they produce the same events with the same
   ids, which JetStream (duplicate window) and the database (event id keys) drop.
   A `kill -9` anywhere gives the figures of an uninterrupted run.

Nothing in the results depends on the wall clock: the engine runs on frame time, and
wall time only decides *when* checkpoints happen, which a restore makes invisible. Live
configuration changes are the exception by nature: a change applies at whatever stream
position the service has reached when it arrives (and carries its new version).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from nats.aio.msg import Msg
from nats.js.kv import KeyValue

from analytics.alerts.component import Alerting
from analytics.checkpoint import Checkpoint, CheckpointError, CheckpointStore
from analytics.consumer import DetectionsConsumer, consumer_name
from analytics.live_config import ConfigWatcher, read_config, seed_config
from analytics.metrics import AnalyticsMetrics
from analytics.partition import Partition
from analytics.processor import PartitionProcessor
from analytics.settings import AnalyticsSettings
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.events.connection import NatsConnection
from trinetra.events.kv import (
    ANALYTICS_CONFIG_BUCKET,
    ANALYTICS_STATE_BUCKET,
    analytics_state_key,
    ensure_bucket,
)
from trinetra.events.publisher import EventPublisher, PublisherMetrics
from trinetra.events.schema import AnalyticsEvent, DetectionsEvent, SchemaError, decode
from trinetra.events.streams import ANALYTICS_STREAMS, DETECTIONS_STREAM, ensure_stream
from trinetra.health import HealthServer
from trinetra.retry import Backoff
from trinetra.shutdown import SHUTDOWN_STEP_S, bounded_step, cancel_and_wait

__all__ = ["AnalyticsService"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# Waits after a failed fetch (bound of the first, cap of any, seconds).
_RETRY_BACKOFF_S = (0.2, 5.0)
# How long a checkpoint waits for JetStream to store the events it covers.
_FLUSH_TIMEOUT_S = 10.0
# Bounded shutdown: each step gets this long.


class AnalyticsService:
    """One analytics process (module docs). `seed`: a configuration written to
    ANALYTICS_CONFIG if the store has none yet (the `--config` file)."""

    def __init__(
        self,
        settings: AnalyticsSettings,
        *,
        seed: StoreAnalyticsConfig | None = None,
        metrics: AnalyticsMetrics | None = None,
    ) -> None:
        if seed is not None and seed.store_id != settings.store_id:
            raise ValueError(f"seed configuration is for store {seed.store_id}, not ours")
        self.settings = settings
        self.partition = Partition(settings.partition, settings.partitions)
        self.metrics = metrics if metrics is not None else AnalyticsMetrics()
        self._seed = seed
        self.connection = NatsConnection(
            settings.nats_url.split(","), name=f"trinetra-analytics-{self.partition.index}"
        )
        self.publisher = EventPublisher(
            self.connection,
            streams=ANALYTICS_STREAMS,
            max_buffer_events=2 * settings.max_unpublished_events,
            metrics=PublisherMetrics(self.metrics.registry),
        )
        self.health = HealthServer(
            self.probe, self.metrics.registry, settings.health_host, settings.health_port
        )
        self.alerting = (
            Alerting(
                self.connection, settings.store_id, settings.alerts, registry=self.metrics.registry
            )
            if self.partition.index == 0
            else None
        )
        self.processor: PartitionProcessor | None = None
        self.stream_seq = 0  # last DETECTIONS sequence consumed
        self.checkpoint_seq = 0  # ... and covered by the last checkpoint
        self._camera_seqs: dict[str, int] = {}
        self._consumer: DetectionsConsumer | None = None
        self._checkpoints: CheckpointStore | None = None
        self._pending_config: StoreAnalyticsConfig | None = None
        self._config_arrived = asyncio.Event()
        self._last_msg: Msg | None = None  # newest consumed, not yet acknowledged
        self._unacked = 0
        self._dirty = False  # state changed since the last checkpoint
        self._last_checkpoint = time.monotonic()
        self._checkpointed_once = False
        self._bound_generation = -1
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self.metrics.checkpoint_age_seconds.set_function(
            lambda: time.monotonic() - self._last_checkpoint
        )

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        await self.connection.start()
        await self.publisher.start()
        await self.health.start()
        if self.alerting is not None:
            await self.alerting.start()
        self._task = asyncio.create_task(self._run(), name="analytics")
        log.info(
            "analytics service started",
            extra={
                "store_id": self.settings.store_id,
                "partition": str(self.partition),
                "health": f"http://{self.settings.health_host}:{self.health.port}",
            },
        )

    async def wait(self) -> None:
        """Until the service stops by itself (a fatal error is raised here)."""
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        """Finish the batch in hand, checkpoint it, and close everything."""
        self._stopping = True
        if self._task is not None:
            # the loop sees _stopping and ends after its batch; past the bound it is cancelled
            await asyncio.wait({self._task}, timeout=SHUTDOWN_STEP_S)
            await cancel_and_wait(self._task)
        if self._watch_task is not None:
            await cancel_and_wait(self._watch_task)
        await bounded_step(self._final_checkpoint(), "final checkpoint")
        if self._consumer is not None:
            await bounded_step(self._consumer.close(), "consumer")
        if self.alerting is not None:
            await bounded_step(self.alerting.stop(), "alerting")
        await bounded_step(self.health.close(), "health endpoint")
        await bounded_step(self.publisher.close(), "publisher")
        await bounded_step(self.connection.close(), "nats connection")

    async def __aenter__(self) -> AnalyticsService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def ready(self) -> bool:
        return (
            self.connection.connected
            and self.processor is not None
            and self._consumer is not None
            and self._bound_generation == self.connection.generation
        )

    async def probe(self) -> dict[str, Any]:
        processor = self.processor
        return {
            "ready": self.ready,
            "store_id": self.settings.store_id,
            "partition": str(self.partition),
            "nats_connected": self.connection.connected,
            "config_version": None if processor is None else processor.config.version,
            "stream_seq": self.stream_seq,
            "checkpoint_seq": self.checkpoint_seq,
            "frames": 0 if processor is None else processor.frames,
            "checkpointed": self._checkpointed_once,
            "checkpoint_age_s": round(time.monotonic() - self._last_checkpoint, 3),
            "events_unpublished": self.publisher.pending,
        }

    # --- the loop ---------------------------------------------------------------------

    async def _run(self) -> None:
        config_kv, state_kv = await self._setup()
        self.processor = await self._start_processor(config_kv)
        client = self.connection.client
        assert client is not None
        self._checkpoints = CheckpointStore(
            state_kv,
            analytics_state_key(self.settings.store_id, self.partition.index, self.partition.count),
            max_value_bytes=min(ANALYTICS_STATE_BUCKET.max_value_bytes, client.max_payload),
        )
        checkpoint = await self._retrying(self._checkpoints.load, "loading the checkpoint")
        if checkpoint is not None:
            try:
                self._resume(checkpoint)
            except (ValueError, KeyError, TypeError) as exc:
                raise CheckpointError(f"checkpoint cannot be restored: {exc!r}") from exc
        self._consumer = DetectionsConsumer(
            client,
            name=consumer_name(
                self.settings.durable_prefix,
                self.settings.store_id,
                self.partition.index,
                self.partition.count,
            ),
            store_id=self.settings.store_id,
            # Nothing is acknowledged between checkpoints: the consumer must neither
            # redeliver nor stall before the next one comes.
            ack_wait_s=max(60.0, 10 * self.settings.checkpoint_interval_s),
            max_ack_pending=4 * self.settings.checkpoint_max_messages,
        )
        backoff = Backoff(*_RETRY_BACKOFF_S)
        while not self._stopping:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = backoff.next_delay()
                log.warning(
                    "analytics step failed; retrying",
                    extra={"error": repr(exc), "retry_in_s": round(delay, 3)},
                )
                self._bound_generation = -1  # bind again: the consumer may be gone
                await asyncio.sleep(delay)
            else:
                backoff.reset()

    async def _retrying(self, call: Callable[[], Awaitable[T]], what: str) -> T:
        """`call()` until it succeeds; NATS being away is not a reason to give up, a
        CheckpointError (a damaged checkpoint) is."""
        backoff = Backoff(*_RETRY_BACKOFF_S)
        while True:
            await self.connection.wait_connected()
            try:
                return await call()
            except CheckpointError:
                raise
            except Exception as exc:
                delay = backoff.next_delay()
                log.warning(
                    "analytics start-up step failed; retrying",
                    extra={"step": what, "error": repr(exc), "retry_in_s": round(delay, 3)},
                )
                await asyncio.sleep(delay)

    async def _setup(self) -> tuple[KeyValue, KeyValue]:
        """Streams and buckets, retried until NATS answers."""
        backoff = Backoff(*_RETRY_BACKOFF_S)
        while True:
            await self.connection.wait_connected()
            client = self.connection.client
            assert client is not None
            js = client.jetstream(timeout=5.0)
            try:
                # The consumer needs DETECTIONS even before any store node has run.
                await ensure_stream(js, DETECTIONS_STREAM)
                config_kv = await ensure_bucket(js, ANALYTICS_CONFIG_BUCKET)
                state_kv = await ensure_bucket(js, ANALYTICS_STATE_BUCKET)
                if self._seed is not None and await seed_config(config_kv, self._seed):
                    log.info(
                        "seeded the analytics configuration",
                        extra={"store_id": self._seed.store_id, "version": self._seed.version},
                    )
            except Exception as exc:
                delay = backoff.next_delay()
                log.warning("analytics setup failed; retrying", extra={"error": repr(exc)})
                await asyncio.sleep(delay)
                continue
            return config_kv, state_kv

    async def _start_processor(self, config_kv: KeyValue) -> PartitionProcessor:
        """The processor under the store's configuration, waiting for one if there is
        none yet; from then on the configuration is followed live."""
        store_id = self.settings.store_id
        config = await self._retrying(
            lambda: read_config(config_kv, store_id), "reading the configuration"
        )
        self._watch_task = asyncio.create_task(
            ConfigWatcher(
                config_kv,
                store_id,
                running=self._newest_config,
                on_config=self._on_config,
                on_refused=lambda _why: self.metrics.config_refused.inc(),
                generation=lambda: self.connection.generation,
            ).run(),
            name="analytics-config",
        )
        while config is None:
            log.warning("no analytics configuration for the store yet; waiting for one")
            await self._config_arrived.wait()
            config, self._pending_config = self._pending_config, None
        self.metrics.config_version.set(config.version)
        return PartitionProcessor(store_id, config, self.settings.engine, self.partition)

    def _newest_config(self) -> StoreAnalyticsConfig | None:
        if self._pending_config is not None:
            return self._pending_config
        return None if self.processor is None else self.processor.config

    def _on_config(self, config: StoreAnalyticsConfig) -> None:
        self._pending_config = config
        self._config_arrived.set()

    def _resume(self, checkpoint: Checkpoint) -> None:
        processor = self.processor
        assert processor is not None
        saved = PartitionProcessor.saved_config(checkpoint.state)
        if saved.version > processor.config.version:
            # ANALYTICS_CONFIG went back (restored from an old backup?): never roll the
            # figures back to an older layout; keep the newer one the state ran under.
            log.warning(
                "the checkpoint ran a newer configuration than ANALYTICS_CONFIG holds; keeping it",
                extra={"checkpoint_version": saved.version, "kv_version": processor.config.version},
            )
            processor = self.processor = PartitionProcessor(
                self.settings.store_id, saved, self.settings.engine, self.partition
            )
        self._publish(processor.restore(checkpoint.state))
        self.stream_seq = self.checkpoint_seq = checkpoint.stream_seq
        self._camera_seqs = dict(checkpoint.camera_seqs)
        self._checkpointed_once = True
        self.metrics.config_version.set(processor.config.version)
        log.info(
            "resumed from checkpoint",
            extra={"stream_seq": self.stream_seq, "config_version": processor.config.version},
        )

    async def _step(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        if self._bound_generation != self.connection.generation:
            await self.connection.wait_connected()
            generation = self.connection.generation
            # At the position consumed so far: in memory, state and position agree.
            await consumer.bind(self.stream_seq + 1)
            self._bound_generation = generation
            self._last_msg = None  # its ack would name the old consumer's sequences
        self._apply_pending_config()
        if self.publisher.pending > self.settings.max_unpublished_events:
            # Back pressure: stop reading until JetStream has taken what we produced.
            await self.publisher.flush(self.settings.fetch_timeout_s)
        else:
            for msg in await consumer.fetch(
                self.settings.fetch_batch, self.settings.fetch_timeout_s
            ):
                self._handle(msg)
        due = time.monotonic() - self._last_checkpoint >= self.settings.checkpoint_interval_s
        if self._dirty and (due or self._unacked >= self.settings.checkpoint_max_messages):
            await self._checkpoint()
            pending = await consumer.pending()
            if pending is not None:
                self.metrics.consumer_pending.set(pending)

    def _apply_pending_config(self) -> None:
        config, self._pending_config = self._pending_config, None
        processor = self.processor
        if config is None or processor is None or config.version <= processor.config.version:
            return
        self._publish(processor.apply_config(config))
        self._dirty = True
        self.metrics.config_version.set(config.version)
        log.info(
            "applied analytics configuration",
            extra={"version": config.version, "stream_seq": self.stream_seq},
        )

    def _handle(self, msg: Msg) -> None:
        seq = msg.metadata.sequence.stream
        self._last_msg = msg
        self._unacked += 1
        if seq <= self.stream_seq:
            self.metrics.messages.labels("replayed").inc()
            return
        self.stream_seq = seq
        self._dirty = True
        if not self.partition.owns_subject(msg.subject):
            self.metrics.messages.labels("not_ours").inc()
            return
        try:
            event = decode(msg.data)
        except SchemaError as exc:
            self._invalid(seq, msg.subject, str(exc))
            return
        if not isinstance(event, DetectionsEvent) or event.store_id != self.settings.store_id:
            self._invalid(seq, msg.subject, f"a {event.kind} event of store {event.store_id}")
            return
        processor = self.processor
        assert processor is not None
        started = time.perf_counter()
        try:
            events = processor.process(event)
        except Exception:
            # A bug, not bad input (that was refused above): skip the frame, keep going.
            # Deterministic, so a replay skips the same frame.
            self.metrics.messages.labels("failed").inc()
            log.exception("processing a frame failed", extra={"stream_seq": seq})
            return
        self.metrics.frame_seconds.observe(time.perf_counter() - started)
        self._publish(events)
        self._camera_seqs[event.camera_id] = seq
        self.metrics.messages.labels("processed").inc()
        self.metrics.frames.labels(event.camera_id).inc()
        self.metrics.lag_seconds.set(time.time() - event.occurred_at.timestamp())

    def _invalid(self, seq: int, subject: str, error: str) -> None:
        self.metrics.messages.labels("invalid").inc()
        log.warning(
            "skipping a message that is not a detections event of this store",
            extra={"stream_seq": seq, "subject": subject, "error": error[:500]},
        )

    def _publish(self, events: list[AnalyticsEvent]) -> None:
        for event in events:
            self.publisher.publish(event)
            self.metrics.events.labels(event.kind).inc()

    # --- checkpoints ------------------------------------------------------------------

    async def _checkpoint(self) -> bool:
        """Store the events, then the checkpoint, then acknowledge (module docs)."""
        store, processor = self._checkpoints, self.processor
        if store is None or processor is None:
            return False
        started = time.monotonic()
        if not await self.publisher.flush(_FLUSH_TIMEOUT_S):
            self.metrics.checkpoints.labels("publish_timeout").inc()
            log.warning("checkpoint postponed: analytics events not yet stored")
            return False
        try:
            size = await store.save(
                Checkpoint(self.stream_seq, processor.snapshot(), dict(self._camera_seqs))
            )
            if self._last_msg is not None:
                await self._last_msg.ack()  # AckPolicy.ALL: everything up to it
        except Exception as exc:
            self.metrics.checkpoints.labels("error").inc()
            log.warning("checkpoint failed; retrying later", extra={"error": repr(exc)})
            return False
        self.metrics.checkpoints.labels("ok").inc()
        self.metrics.checkpoint_bytes.set(size)
        self.metrics.checkpoint_seconds.set(time.monotonic() - started)
        self._last_msg = None
        self._unacked = 0
        self._dirty = False
        self._last_checkpoint = time.monotonic()
        self._checkpointed_once = True
        self.checkpoint_seq = self.stream_seq
        return True

    async def _final_checkpoint(self) -> None:
        if self._dirty and self.connection.connected:
            await self._checkpoint()
