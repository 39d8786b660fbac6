"""One stream into the database: a durable JetStream pull consumer with ack-after-commit.

Two tasks per stream, joined by a small bounded queue:

    fetch: pull a batch -> decode every message (schema.decode) -> queue
    write: batch -> BatchWriter (one transaction) -> commit -> ack every message

A message is acked only after the transaction holding it committed (the last ack of a
batch is `ack_sync`, so a batch counts as done only once the server confirmed it), which
makes delivery at-least-once; the writer's ON CONFLICT on the deterministic event id
makes it exactly-once in the tables. If the process dies anywhere in between, the
server redelivers the unacked messages to the next consumer after `ack_wait`.

Database down: the writer keeps retrying the batch it holds (with backoff and full
jitter, trinetra.retry) and marks its messages in-progress so the server does not
redeliver them meanwhile; the queue fills, so fetching stops too: nothing is acked,
nothing is lost, and consumption resumes by itself when the database answers again. A
stream that does not exist yet (IDENTITY and ALERTS appear when the identity service
first runs) is polled until it does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from gateway.config import IngestSettings
from gateway.db.database import is_transient
from gateway.ingest.pull import ConsumerGoneError, PullFetcher
from gateway.ingest.writer import BatchWriter, Received, WriteResult
from gateway.metrics import GatewayMetrics
from trinetra.events.connection import NatsConnection
from trinetra.events.schema import SchemaError, decode
from trinetra.retry import Backoff
from trinetra.shutdown import cancel_and_wait

log = logging.getLogger(__name__)

# Decoding runs on the event loop; yield every this many messages so API requests and
# subscription fan-out are not stalled behind a large batch.
_DECODE_SLICE = 100
# Waits after a failed fetch (bound of the first, cap of any, seconds), and how many
# failures in a row make the consumer bind again (e.g. after a NATS restart).
_FETCH_BACKOFF_S = (0.2, 5.0)
_FETCH_FAILURES_BEFORE_REBIND = 5


@dataclass(frozen=True)
class Batch:
    messages: Sequence[Msg]
    items: Sequence[Received]


def _decode(msg: Msg) -> Received:
    def seq() -> int:
        return int(msg.metadata.sequence.stream)

    try:
        return Received(seq, msg.subject, msg.data, decode(msg.data))
    except SchemaError as exc:
        return Received(seq, msg.subject, msg.data, None, str(exc))


class StreamConsumer:
    """Consumes one stream into the database until cancelled (module docs)."""

    def __init__(
        self,
        connection: NatsConnection,
        stream: str,
        writer: BatchWriter,
        settings: IngestSettings,
        metrics: GatewayMetrics,
    ) -> None:
        self.stream = stream
        self.durable = f"{settings.durable_prefix}-{stream.lower()}"
        self._conn = connection
        self._writer = writer
        self._settings = settings
        self._metrics = metrics
        self._queue: asyncio.Queue[Batch] = asyncio.Queue(settings.prefetch_batches)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._fetch_forever(), name=f"ingest-fetch-{self.stream}"),
                asyncio.create_task(self._write_forever(), name=f"ingest-write-{self.stream}"),
            ]

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Stop fetching, write and ack what was already fetched (up to `timeout_s`),
        then stop; anything unwritten is redelivered to the next consumer."""
        if not self._tasks:
            return
        fetch, write = self._tasks
        self._stopping = True
        await cancel_and_wait(fetch)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._queue.join()
        await cancel_and_wait(write)
        self._tasks = []

    def _context(self, **fields: object) -> dict[str, object]:
        """Log fields naming this consumer, plus `fields`."""
        return {"stream": self.stream, "durable": self.durable, **fields}

    # --- fetch ------------------------------------------------------------------------

    def _consumer_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self._settings.ack_wait_s,
            max_ack_pending=self._settings.max_ack_pending,
            max_deliver=-1,
            description="TRINETRA gateway: events into PostgreSQL/TimescaleDB",
        )

    async def _bind(self, client: NATS) -> PullFetcher:
        """Create the durable consumer (or update its limits) and open a fetcher on it."""
        await client.jetstream(timeout=5.0).add_consumer(self.stream, self._consumer_config())
        fetcher = PullFetcher(
            client,
            self.stream,
            self.durable,
            expires_s=self._settings.fetch_timeout_s,
            window_s=self._settings.batch_window_s,
        )
        await fetcher.open()
        return fetcher

    async def _fetch_forever(self) -> None:
        missing_logged = False
        while True:
            client = self._conn.client
            if client is None or not self._conn.connected:
                await self._conn.wait_connected()
                continue
            try:
                fetcher = await self._bind(client)
            except nats.js.errors.NotFoundError:
                if not missing_logged:
                    log.info("stream does not exist yet; waiting for it", extra=self._context())
                    missing_logged = True
                await asyncio.sleep(self._settings.stream_wait_s)
                continue
            except (nats.errors.Error, OSError, TimeoutError) as exc:
                log.warning("cannot bind consumer; retrying", extra=self._context(error=repr(exc)))
                await asyncio.sleep(self._settings.stream_wait_s)
                continue
            missing_logged = False
            log.info("consuming", extra=self._context())
            try:
                await self._fetch_from(fetcher)
            finally:
                with contextlib.suppress(Exception):
                    await fetcher.close()

    async def _fetch_from(self, fetcher: PullFetcher) -> None:
        size = self._settings.batch_size
        backoff = Backoff(*_FETCH_BACKOFF_S)
        while True:
            try:
                messages = await fetcher.fetch(size)
            except ConsumerGoneError as exc:
                log.warning("consumer gone; binding again", extra=self._context(error=str(exc)))
                return
            except (nats.errors.Error, OSError) as exc:
                log.debug("fetch failed", extra=self._context(error=repr(exc)))
                await asyncio.sleep(backoff.next_delay())
                if backoff.failures >= _FETCH_FAILURES_BEFORE_REBIND:
                    return  # re-create the subscription (e.g. after a NATS restart)
                continue
            backoff.reset()
            if not messages:
                continue
            items: list[Received] = []
            for start in range(0, len(messages), _DECODE_SLICE):
                items.extend(_decode(m) for m in messages[start : start + _DECODE_SLICE])
                await asyncio.sleep(0)
            self._metrics.ingest_fetched.labels(self.stream).inc(len(messages))
            await self._queue.put(Batch(messages, items))

    # --- write ------------------------------------------------------------------------

    async def _write_forever(self) -> None:
        while True:
            batch = await self._queue.get()
            try:
                result = await self._write_until_stored(batch)
                self._account(result, batch)
                await self._ack(batch.messages)
            finally:
                self._queue.task_done()

    async def _write_until_stored(self, batch: Batch) -> WriteResult:
        backoff = Backoff(*self._settings.retry_backoff_s)
        paused_since: float | None = None
        last_progress = time.monotonic()
        while True:
            started = time.perf_counter()
            try:
                result = await self._writer.write(batch.items)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if paused_since is None:
                    paused_since = time.monotonic()
                    self._metrics.ingest_paused.labels(self.stream).set(1)
                    if is_transient(exc):
                        log.warning(
                            "database unavailable; ingest paused",
                            extra=self._context(error=repr(exc)),
                        )
                    else:
                        log.exception("writing a batch failed; retrying", extra=self._context())
                self._metrics.ingest_write_errors.labels(
                    self.stream, "transient" if is_transient(exc) else "other"
                ).inc()
                # Keep the held messages from being redelivered while we wait.
                if time.monotonic() - last_progress > self._settings.ack_wait_s / 3:
                    await self._in_progress(batch.messages)
                    last_progress = time.monotonic()
                await asyncio.sleep(backoff.next_delay())
                continue
            self._metrics.ingest_batch_seconds.labels(self.stream).observe(
                time.perf_counter() - started
            )
            if paused_since is not None:
                self._metrics.ingest_paused.labels(self.stream).set(0)
                log.info(
                    "database back; ingest resumed",
                    extra=self._context(paused_s=round(time.monotonic() - paused_since, 1)),
                )
            return result

    def _account(self, result: WriteResult, batch: Batch) -> None:
        m = self._metrics
        m.ingest_stored.labels(self.stream).inc(result.stored)
        m.ingest_duplicates.labels(self.stream).inc(result.duplicates)
        m.ingest_rejected.labels(self.stream).inc(result.rejected)
        if result.rejected:
            log.warning(
                "messages refused by the schema", extra=self._context(rejected=result.rejected)
            )
        latest = max(
            (i.event.published_at for i in batch.items if i.event is not None), default=None
        )
        if latest is not None:
            m.ingest_lag_seconds.labels(self.stream).set(max(0.0, time.time() - latest.timestamp()))

    async def _ack(self, messages: Sequence[Msg]) -> None:
        """Ack after commit. A lost ack only means a redelivery, which stores nothing."""
        if not messages:
            return
        try:
            for msg in messages[:-1]:
                await msg.ack()
            await messages[-1].ack_sync(timeout=5.0)
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            self._metrics.ingest_ack_errors.labels(self.stream).inc()
            log.debug(
                "acks failed; the messages will be redelivered",
                extra=self._context(messages=len(messages), error=repr(exc)),
            )

    async def _in_progress(self, messages: Sequence[Msg]) -> None:
        with contextlib.suppress(nats.errors.Error, OSError, TimeoutError):
            for msg in messages:
                await msg.in_progress()
