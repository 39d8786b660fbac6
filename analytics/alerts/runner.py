"""The rule engine on the bus: one store's ANALYTICS, CAMERA_STATUS and IDENTITY streams in,
`alert.raised` / `alert.resolved` events out to ALERTS.

    ANALYTICS      trinetra.<store>.*.analytics  \
    CAMERA_STATUS  trinetra.<store>.*.status      >- durable pull consumers -> AlertEngine
    IDENTITY       trinetra.<store>.*.identity   /      -> EventPublisher -> ALERTS
    ANALYTICS_STATE (KV, key <store>.alerts)   <- checkpoints: engine state + positions

Exactly once in effect, as in the analytics service (analytics/service.py): every
`checkpoint_interval_s` the runner waits until JetStream has stored every alert
published so far, saves the engine's snapshot with the last sequence it consumed of
each stream, and only then acknowledges those messages (AckPolicy.ALL). A restarted
runner restores the snapshot and re-creates its consumers at those sequences + 1
(reader.py), so what it reads again produces the same alerts with the same ids (the
ALERTS duplicate window and the database's event-id keys drop them).

The snapshot is restored under the configuration it was taken with (stored with it,
webhooks left out), then the current configuration is applied, so a rule removed while
the runner was down still resolves its open alerts.

The engine never reads the clock except through `tick`, the watchdog for cameras that
went silent and VIP visits that ended. The runner ticks only while the status and
identity consumers are caught up (their last fetch found nothing more), so a status
still waiting in a backlog is never overtaken by the wall clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue

from analytics.alerts.engine import AlertEngine
from analytics.alerts.inputs import input_for
from analytics.alerts.metrics import AlertingMetrics
from analytics.alerts.reader import StreamReader
from analytics.alerts.settings import AlertingSettings
from analytics.checkpoint import Checkpoint, CheckpointStore
from analytics.engine.events import JsonValue
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.events.connection import NatsConnection
from trinetra.events.kv import ANALYTICS_STATE_BUCKET, ensure_bucket
from trinetra.events.publisher import EventPublisher
from trinetra.events.schema import (
    ANALYTICS_FAMILY,
    IDENTITY_FAMILY,
    STATUS_FAMILY,
    SUBJECT_ROOT,
    RuleAlertEvent,
    SchemaError,
    decode,
    subject_token,
)
from trinetra.events.streams import (
    ANALYTICS_STREAM,
    CAMERA_STATUS_STREAM,
    IDENTITY_STREAM,
    StreamSpec,
    ensure_stream,
)
from trinetra.retry import Backoff

__all__ = ["AlertRunner", "InputStream", "state_key"]

log = logging.getLogger(__name__)

STATE_FORMAT: Final = 1
_FLUSH_TIMEOUT_S: Final = 10.0
_RETRY_BACKOFF_S: Final = (0.2, 5.0)


@dataclass(frozen=True)
class InputStream:
    """A stream the rules read, and the family of its store's subjects."""

    spec: StreamSpec
    family: str
    watched_by_tick: bool  # its clock is the one `tick` stands in for

    @property
    def stream(self) -> str:
        return self.spec.name


INPUT_STREAMS: Final = (
    InputStream(ANALYTICS_STREAM, ANALYTICS_FAMILY, watched_by_tick=False),
    InputStream(CAMERA_STATUS_STREAM, STATUS_FAMILY, watched_by_tick=True),
    InputStream(IDENTITY_STREAM, IDENTITY_FAMILY, watched_by_tick=True),
)


def state_key(store_id: str) -> str:
    """The runner's ANALYTICS_STATE key (beside the analytics partitions' `<store>.p..`)."""
    return f"{subject_token(store_id)}.alerts"


class _Input:
    """One stream's consumer and how far the runner got in it."""

    def __init__(self, spec: InputStream, reader: StreamReader) -> None:
        self.spec = spec
        self.reader = reader
        self.seq = 0  # last stream sequence fed to the engine
        self.checkpoint_seq = 0  # ... and covered by the last checkpoint
        self.last_msg: Msg | None = None  # newest fed, not yet acknowledged
        self.caught_up = False


class AlertRunner:
    """Feeds one store's rule engine from JetStream (module docs)."""

    def __init__(
        self,
        connection: NatsConnection,
        publisher: EventPublisher,
        store_id: str,
        settings: AlertingSettings,
        *,
        metrics: AlertingMetrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._conn = connection
        self._publisher = publisher
        self.store_id = store_id
        self._settings = settings
        self.metrics = metrics if metrics is not None else AlertingMetrics()
        self._clock = clock
        self.engine: AlertEngine | None = None
        self._pending_config: StoreAnalyticsConfig | None = None
        self._config_arrived = asyncio.Event()
        self._inputs: list[_Input] = []
        self._restored_seqs: dict[str, int] = {}
        self._checkpoints: CheckpointStore | None = None
        self._dirty = False
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.ready = asyncio.Event()

    # --- lifecycle --------------------------------------------------------------------

    def offer_config(self, config: StoreAnalyticsConfig) -> None:
        """A new configuration (ANALYTICS_CONFIG): applied between two messages."""
        self._pending_config = config
        self._config_arrived.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"alerts-{self.store_id}")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self.engine is not None and self._checkpoints is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._checkpoint(), _FLUSH_TIMEOUT_S)
        for item in self._inputs:
            await item.reader.close()

    # --- the loop ---------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = Backoff(*_RETRY_BACKOFF_S)
        while not self._stopping:
            try:
                await self._conn.wait_connected()
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # NATS went away mid-session, or a consumer vanished: bind again from
                # the last checkpoint (what was fed since then is read again).
                log.warning("alert runner restarting", extra={"error": repr(exc)})
                self.ready.clear()
                await asyncio.sleep(backoff.next_delay())

    def _reader(self, client: NATS, spec: InputStream) -> StreamReader:
        token = subject_token(self.store_id)
        return StreamReader(
            client,
            stream=spec.stream,
            name=f"{self._settings.durable_prefix}-{token}-{spec.stream.lower()}",
            filter_subject=f"{SUBJECT_ROOT}.{token}.*.{spec.family}",
            description="TRINETRA alert rules: one store's inputs",
            ack_wait_s=self._settings.ack_wait_s,
            max_ack_pending=-1,
        )

    async def _session(self) -> None:
        """Bind and consume until something fails. The first session restores the
        checkpoint; a later one (after a failure) rebinds at the last checkpoint and
        skips what the engine has already seen."""
        client = self._conn.client
        assert client is not None
        if self.engine is None:
            state_kv = await ensure_bucket(client.jetstream(timeout=5.0), ANALYTICS_STATE_BUCKET)
            await self._config_arrived.wait()
            await self._restore(state_kv)
            self._inputs = []
            for spec in INPUT_STREAMS:
                item = _Input(spec, self._reader(client, spec))
                item.seq = item.checkpoint_seq = self._restored_seqs.get(spec.stream, 0)
                self._inputs.append(item)
        for item in self._inputs:
            await item.reader.close()
            item.reader = self._reader(client, item.spec)
            item.last_msg = None  # unacked messages come again from the checkpoint
            item.caught_up = False
            await self._bind(client, item)
        self.ready.set()
        tasks = [
            asyncio.create_task(self._consume(item), name=f"alerts-{item.spec.stream}")
            for item in self._inputs
        ]
        tasks.append(asyncio.create_task(self._housekeeping(), name="alerts-housekeeping"))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _bind(self, client: NATS, item: _Input) -> None:
        try:
            await item.reader.bind_at(item.checkpoint_seq + 1)
        except NotFoundError:
            # Its producer has not run yet (no identity service in this store, say). The
            # spec is the shared one, so creating it here is what the producer would do.
            await ensure_stream(client.jetstream(timeout=5.0), item.spec.spec)
            await item.reader.bind_at(item.checkpoint_seq + 1)

    async def _restore(self, state_kv: KeyValue) -> None:
        config = self._take_config()
        self._checkpoints = CheckpointStore(
            state_kv,
            state_key(self.store_id),
            max_value_bytes=ANALYTICS_STATE_BUCKET.max_value_bytes,
        )
        self._restored_seqs = {}
        stored = await self._checkpoints.load()
        engine: AlertEngine | None = None
        if stored is not None and stored.state.get("format") == STATE_FORMAT:
            try:
                snapshot_config = StoreAnalyticsConfig.model_validate(stored.state["config"])
                engine = AlertEngine(snapshot_config)
                self._emit(engine.restore(_json_dict(stored.state["engine"])))
                self._restored_seqs = {
                    str(k): int(v)  # type: ignore[arg-type]
                    for k, v in _json_dict(stored.state["seqs"]).items()
                }
            except Exception as exc:
                # Unreadable state: start over from the streams' beginning rather than
                # guess (the alerts it re-makes carry the same ids).
                log.error("alert checkpoint unreadable; starting over", extra={"error": repr(exc)})
                engine, self._restored_seqs = None, {}
        if engine is None:
            engine = AlertEngine(config)
        else:
            self._emit(engine.apply_config(config))
        self.engine = engine
        log.info(
            "alert rules running",
            extra={
                "store_id": self.store_id,
                "config_version": config.version,
                "rules": len(engine.config.alert_rules),
                "resumed_at": self._restored_seqs,
            },
        )

    def _take_config(self) -> StoreAnalyticsConfig:
        config = self._pending_config
        assert config is not None
        self._pending_config = None
        self._config_arrived.clear()
        return config

    async def _consume(self, item: _Input) -> None:
        batch, poll_s = self._settings.fetch_batch, self._settings.poll_s
        while True:
            messages = await item.reader.fetch(batch, poll_s)
            self._apply_pending_config()
            if not messages:
                item.caught_up = True
                continue
            for msg in messages:
                self._feed(item, msg)
            pending = messages[-1].metadata.num_pending
            item.caught_up = pending == 0

    def _feed(self, item: _Input, msg: Msg) -> None:
        seq = int(msg.metadata.sequence.stream)
        if seq <= item.seq:
            # Already seen (read again after a rebind): only to be acknowledged.
            if seq > item.checkpoint_seq:
                item.last_msg = msg
                self._dirty = True
            return
        item.seq, item.last_msg = seq, msg
        self._dirty = True
        self.metrics.inputs.labels(item.spec.stream).inc()
        try:
            event = decode(msg.data)
        except SchemaError as exc:
            self.metrics.undecodable.labels(item.spec.stream).inc()
            log.warning(
                "skipping an event the schema refuses",
                extra={"stream": item.spec.stream, "seq": seq, "error": str(exc)},
            )
            return
        if event.store_id != self.store_id:
            return
        fact = input_for(event)
        if fact is not None and self.engine is not None:
            self._emit(self.engine.feed(fact))

    def _apply_pending_config(self) -> None:
        if self._pending_config is None or self.engine is None:
            return
        config = self._take_config()
        if config.version < self.engine.config.version:
            return  # never roll back (live_config refuses these already)
        self._emit(self.engine.apply_config(config))
        self._dirty = True
        log.info("alert rules reconfigured", extra={"config_version": config.version})

    def _emit(self, events: list[RuleAlertEvent]) -> None:
        for event in events:
            self.metrics.alerts.labels(event.rule_kind, event.kind).inc()
            self._publisher.publish(event)
        if events and self.engine is not None:
            self.metrics.open_alerts.set(len(self.engine.open_alerts))

    async def _housekeeping(self) -> None:
        """The watchdog tick and the periodic checkpoint."""
        next_checkpoint = time.monotonic() + self._settings.checkpoint_interval_s
        while True:
            await asyncio.sleep(self._settings.tick_interval_s)
            self._apply_pending_config()
            if self.engine is not None and all(
                item.caught_up for item in self._inputs if item.spec.watched_by_tick
            ):
                events = self.engine.tick(self._clock())
                if events:
                    self._emit(events)
                    self._dirty = True
            if time.monotonic() >= next_checkpoint:
                await self._checkpoint()
                next_checkpoint = time.monotonic() + self._settings.checkpoint_interval_s

    async def _checkpoint(self) -> bool:
        """Snapshot, wait for JetStream to store the alerts so far, save, then ack."""
        if self.engine is None or self._checkpoints is None or not self._dirty:
            return True
        engine = self.engine
        config = engine.config.model_copy(update={"webhooks": ()})
        covered = [(item, item.seq, item.last_msg) for item in self._inputs]
        state: dict[str, JsonValue] = {
            "format": STATE_FORMAT,
            "engine": engine.snapshot(),
            "seqs": {item.spec.stream: seq for item, seq, _ in covered},
            "config": config.model_dump(mode="json"),
        }
        self._dirty = False
        try:
            if not await self._publisher.flush(_FLUSH_TIMEOUT_S):
                raise TimeoutError("alerts not stored by JetStream in time")
            await self._checkpoints.save(Checkpoint(0, state))
        except Exception as exc:
            self._dirty = True
            self.metrics.checkpoints.labels("error").inc()
            log.warning("alert checkpoint failed; will retry", extra={"error": repr(exc)})
            return False
        self.metrics.checkpoints.labels("ok").inc()
        for item, seq, msg in covered:
            item.checkpoint_seq = seq
            if msg is not None:
                with contextlib.suppress(Exception):
                    await msg.ack()  # AckPolicy.ALL: everything up to it
                if item.last_msg is msg:
                    item.last_msg = None
        return True


def _json_dict(value: JsonValue) -> dict[str, JsonValue]:
    if not isinstance(value, dict):
        raise ValueError("expected an object")
    return value
