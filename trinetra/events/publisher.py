"""Publishing events to JetStream without ever stalling or crashing the orchestrator.

`EventPublisher.publish(event)` is a plain (non-async) call that only appends the encoded
event to a bounded in-memory buffer; a background task drains the buffer to JetStream.
So a slow or absent NATS costs the caller nothing: while NATS is unreachable events wait
in the buffer, and when it is full the *oldest* are dropped (and counted) so the newest
always get in. When NATS is back the buffer drains in order.

Delivery: at-least-once into the stream, exactly-once in effect, because each message
carries `Nats-Msg-Id = event_id` and the streams' duplicate window drops retried copies.
Ordering: the buffer is sent in order in windows of at most `max_in_flight` unacked
messages; a message whose ack is lost (e.g. across a disconnect) is re-sent after the
others of its window, so it can land up to `max_in_flight - 1` places late. Consumers
order by `occurred_at` / `frame_seq`, not by stream sequence.

Call `publish` from the event loop's thread (from other threads use
`loop.call_soon_threadsafe(publisher.publish, event)`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.errors import MaxPayloadError
from prometheus_client import CollectorRegistry, Counter, Gauge

from trinetra.events.connection import NatsConnection
from trinetra.events.schema import Event, encode, subject_for
from trinetra.events.streams import DEFAULT_STREAMS, StreamSpec, ensure_streams
from trinetra.logs import current_log_context, log_context, trace_fields
from trinetra.retry import Backoff
from trinetra.shutdown import cancel_and_wait

log = logging.getLogger(__name__)

MSG_ID_HEADER = "Nats-Msg-Id"


class PublisherMetrics:
    """The publisher's Prometheus metrics, on the registry it is given.

    Pass the orchestrator's registry to expose them with everything else; with no
    registry a private one is used (tests, or several publishers in one process).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.published = Counter(
            "trinetra_events_published",
            "Events stored by JetStream (acked).",
            ["kind"],
            registry=r,
        )
        self.duplicates = Counter(
            "trinetra_events_duplicate",
            "Publishes JetStream acked as duplicates of an event id it already had.",
            ["kind"],
            registry=r,
        )
        self.buffered = Counter(
            "trinetra_events_buffered",
            "Events accepted while NATS was unreachable (held in memory).",
            ["kind"],
            registry=r,
        )
        self.dropped = Counter(
            "trinetra_events_dropped",
            "Events given up: buffer_full (oldest evicted), rejected (server refused), "
            "too_large, closed (published after close), shutdown (unsent at close).",
            ["kind", "reason"],
            registry=r,
        )
        self.publish_errors = Counter(
            "trinetra_event_publish_errors",
            "Failed publish attempts: timeout, no_stream, unavailable, bad_ack, connection "
            "(retried); rejected, too_large (dropped); stream_setup.",
            ["reason"],
            registry=r,
        )
        self.buffer_events = Gauge(
            "trinetra_event_buffer_events", "Events waiting to be sent.", registry=r
        )
        self.buffer_bytes = Gauge(
            "trinetra_event_buffer_bytes", "Encoded bytes waiting to be sent.", registry=r
        )
        self.in_flight = Gauge(
            "trinetra_event_publish_in_flight", "Events sent and awaiting an ack.", registry=r
        )
        self.nats_connected = Gauge(
            "trinetra_nats_connected", "1 while the NATS connection is up.", registry=r
        )


@dataclass(frozen=True, slots=True)
class _Outgoing:
    subject: str
    payload: bytes
    msg_id: str
    kind: str
    # The publisher's log_context and the event's own ids, for the lines logged about
    # this event later, from the drain task.
    trace: Mapping[str, object] = field(default_factory=dict)


Outcome = Literal["stored", "duplicate", "no_stream", "unavailable", "rejected", "bad_ack"]


@dataclass(frozen=True, slots=True)
class _Reply:
    outcome: Outcome
    detail: str = ""


class _AckInbox:
    """Pipelined JetStream publishing: each message's reply subject is a token under one
    inbox subscription, so a window of messages can await their acks concurrently.

    Used instead of nats-py 2.16's `publish_async`, whose reply handler *raises* the
    server's error instead of failing the future: a publish the server rejects would
    never complete, and the publisher could not tell a rejection from a lost ack.
    """

    def __init__(self, client: NATS) -> None:
        self.client = client
        self.prefix = client.new_inbox()
        self._futures: dict[str, asyncio.Future[_Reply]] = {}
        self._tokens = itertools.count()
        self._subscription: Subscription | None = None

    async def open(self) -> None:
        # nats-py replays this subscription on every reconnect of the same client.
        self._subscription = await self.client.subscribe(f"{self.prefix}.*", cb=self._on_reply)

    def expect(self) -> tuple[str, asyncio.Future[_Reply]]:
        token = str(next(self._tokens))
        future: asyncio.Future[_Reply] = asyncio.get_running_loop().create_future()
        self._futures[token] = future
        return f"{self.prefix}.{token}", future

    def forget(self, reply_subject: str) -> None:
        self._futures.pop(reply_subject.rpartition(".")[2], None)

    async def close(self) -> None:
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()

    async def _on_reply(self, msg: Msg) -> None:
        future = self._futures.pop(msg.subject.rpartition(".")[2], None)
        if future is not None and not future.done():
            future.set_result(self._parse(msg))

    @staticmethod
    def _parse(msg: Msg) -> _Reply:
        if msg.headers and msg.headers.get("Status") == "503":
            # "No responders": no stream captures the subject.
            return _Reply("no_stream")
        try:
            body = json.loads(msg.data)
        except ValueError:
            return _Reply("bad_ack", msg.data[:200].decode(errors="replace"))
        if not isinstance(body, dict):
            return _Reply("bad_ack", str(body)[:200])
        error = body.get("error")
        if isinstance(error, dict):
            detail = f"{error.get('code')}/{error.get('err_code')}: {error.get('description')}"
            # 503: JetStream is up but cannot take writes right now (e.g. recovering).
            return _Reply("unavailable" if error.get("code") == 503 else "rejected", detail)
        return _Reply("duplicate" if body.get("duplicate") else "stored")


class EventPublisher:
    """Buffered, deduplicating, never-raising JetStream publisher (module docs)."""

    def __init__(
        self,
        connection: NatsConnection,
        *,
        max_buffer_events: int = 10_000,
        max_buffer_bytes: int = 64 * 1024 * 1024,
        max_in_flight: int = 256,
        ack_timeout_s: float = 5.0,
        retry_backoff_s: tuple[float, float] = (0.1, 5.0),
        streams: Sequence[StreamSpec] | None = DEFAULT_STREAMS,
        metrics: PublisherMetrics | None = None,
    ) -> None:
        """`streams`: created-or-updated on every (re)connect before publishing; None
        leaves stream management to someone else. `retry_backoff_s`: bound of the first
        wait after a failed window and cap of any (full jitter, trinetra.retry)."""
        if max_buffer_events < 1 or max_in_flight < 1:
            raise ValueError("max_buffer_events and max_in_flight must be >= 1")
        self._conn = connection
        self._max_events = max_buffer_events
        self._max_bytes = max_buffer_bytes
        self._max_in_flight = max_in_flight
        self._ack_timeout_s = ack_timeout_s
        self._backoff = Backoff(*retry_backoff_s)
        self._streams = tuple(streams) if streams is not None else None
        self.metrics = metrics if metrics is not None else PublisherMetrics()
        self.metrics.nats_connected.set_function(lambda: float(self._conn.connected))

        self._buffer: deque[_Outgoing] = deque()
        self._buffer_bytes = 0
        self._in_flight = 0
        self._work = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._inbox: _AckInbox | None = None
        self._ready_generation = -1

    # --- caller side ------------------------------------------------------------------

    def publish(self, event: Event) -> None:
        """Queue an event; returns at once and never raises for NATS problems."""
        trace = {**current_log_context(), **trace_fields(event)}
        item = _Outgoing(subject_for(event), encode(event), str(event.event_id), event.kind, trace)
        if self._closed:
            self.metrics.dropped.labels(item.kind, "closed").inc()
            return
        if not self._conn.connected:
            self.metrics.buffered.labels(item.kind).inc()
        self._buffer.append(item)
        self._buffer_bytes += len(item.payload)
        self._evict_overflow()
        self._idle.clear()
        self._work.set()

    @property
    def pending(self) -> int:
        """Events not yet acked: buffered plus in flight."""
        return len(self._buffer) + self._in_flight

    async def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until every queued event is acked; False if `timeout_s` ran out first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def start(self) -> None:
        """Start draining (and the connection, if not started yet)."""
        if self._closed:
            raise RuntimeError("publisher is closed")
        await self._conn.start()
        if self._task is None:
            self._task = asyncio.create_task(self._drain_forever(), name="event-publisher")

    async def close(self, timeout_s: float = 5.0) -> None:
        """Try to flush for up to `timeout_s` seconds, then stop; unsent events are counted
        as dropped (reason shutdown). Does not close the shared connection."""
        if self._closed:
            return
        if self._task is not None and self._conn.connected:
            await self.flush(timeout_s)
        self._closed = True
        if self._task is not None:
            await cancel_and_wait(self._task)
        if self._inbox is not None:
            await self._inbox.close()
            self._inbox = None
        for item in self._buffer:
            self.metrics.dropped.labels(item.kind, "shutdown").inc()
        if self._buffer:
            log.warning("closing with unsent events", extra={"unsent": len(self._buffer)})
        self._buffer.clear()
        self._buffer_bytes = 0
        self._update_gauges()
        self._idle.set()

    async def __aenter__(self) -> EventPublisher:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- buffer ---------------------------------------------------------------------

    def _evict_overflow(self) -> None:
        # The newest event (just appended) is never evicted, even if alone it is over
        # the byte bound: dropping it would mean the buffer could hold nothing.
        while len(self._buffer) > 1 and (
            len(self._buffer) > self._max_events or self._buffer_bytes > self._max_bytes
        ):
            old = self._buffer.popleft()
            self._buffer_bytes -= len(old.payload)
            self.metrics.dropped.labels(old.kind, "buffer_full").inc()
        self._update_gauges()

    def _requeue_front(self, items: Sequence[_Outgoing]) -> None:
        """Put unacked items back at the head, in their original order."""
        for item in reversed(items):
            self._buffer.appendleft(item)
            self._buffer_bytes += len(item.payload)
        self._evict_overflow()

    def _take_window(self) -> list[_Outgoing]:
        window: list[_Outgoing] = []
        while self._buffer and len(window) < self._max_in_flight:
            item = self._buffer.popleft()
            self._buffer_bytes -= len(item.payload)
            window.append(item)
        return window

    def _update_gauges(self) -> None:
        self.metrics.buffer_events.set(len(self._buffer))
        self.metrics.buffer_bytes.set(self._buffer_bytes)
        self.metrics.in_flight.set(self._in_flight)

    # --- drain task -----------------------------------------------------------------

    async def _ack_inbox(self, client: NATS) -> _AckInbox:
        if self._inbox is None or self._inbox.client is not client:
            if self._inbox is not None:
                await self._inbox.close()
            inbox = _AckInbox(client)
            await inbox.open()
            self._inbox = inbox
        return self._inbox

    async def _drain_forever(self) -> None:
        while True:
            if not self._buffer:
                self._idle.set()
                self._work.clear()
                await self._work.wait()
                continue
            client = self._conn.client
            if client is None or not self._conn.connected:
                await self._conn.wait_connected()
                continue
            try:
                await self._prepare(client)
                retried = await self._send_window(await self._ack_inbox(client))
            except asyncio.CancelledError:
                raise
            except Exception:
                # Never let the drain task die: log, back off, try again.
                log.exception("event publishing failed unexpectedly")
                retried = True
            if retried:
                await asyncio.sleep(self._backoff.next_delay())
            else:
                self._backoff.reset()

    async def _prepare(self, client: NATS) -> None:
        generation = self._conn.generation
        if self._streams is None or self._ready_generation == generation:
            return
        try:
            await ensure_streams(client.jetstream(timeout=self._ack_timeout_s), self._streams)
        except Exception as exc:
            self.metrics.publish_errors.labels("stream_setup").inc()
            log.warning(
                "could not create/update streams; publishing anyway",
                extra={"streams": [spec.name for spec in self._streams], "error": str(exc)},
            )
            return
        self._ready_generation = generation

    async def _send_window(self, inbox: _AckInbox) -> bool:
        """Send one window and wait for its acks; returns True if anything was requeued."""
        window = self._take_window()
        self._in_flight = len(window)
        self._update_gauges()
        sent: list[tuple[int, _Outgoing, str, asyncio.Future[_Reply]]] = []
        finished: set[int] = set()  # stored, or dropped for good
        retry: list[_Outgoing] = []
        try:
            for index, item in enumerate(window):
                reply, future = inbox.expect()
                try:
                    # Sequential core publishes on one connection keep the window's order.
                    await inbox.client.publish(
                        item.subject,
                        item.payload,
                        reply=reply,
                        headers={MSG_ID_HEADER: item.msg_id},
                    )
                except MaxPayloadError:
                    inbox.forget(reply)
                    self._count_failure(item, "too_large", drop=True)
                    finished.add(index)
                    continue
                except (NatsError, OSError) as exc:
                    # Connection went away (closed, reconnect buffer full): this and the
                    # rest of the window wait for the next attempt.
                    inbox.forget(reply)
                    with log_context(**item.trace):
                        log.debug(
                            "publish failed", extra={"subject": item.subject, "error": repr(exc)}
                        )
                    self.metrics.publish_errors.labels("connection").inc()
                    break
                sent.append((index, item, reply, future))
            if sent:
                await asyncio.wait([f for *_, f in sent], timeout=self._ack_timeout_s)
            for index, item, _, future in sent:
                with log_context(**item.trace):
                    if not self._settle(item, future):
                        finished.add(index)
        finally:
            for _, _, reply, future in sent:
                inbox.forget(reply)
                future.cancel()
            # Everything without a final outcome goes back, in order, even when we were
            # cancelled (close() then counts it instead of losing it silently).
            retry = [item for index, item in enumerate(window) if index not in finished]
            self._in_flight = 0
            self._requeue_front(retry)
        return bool(retry)

    def _settle(self, item: _Outgoing, future: asyncio.Future[_Reply]) -> bool:
        """Account for one publish result; True when the item should be retried."""
        if not future.done() or future.cancelled():
            # Lost ack (e.g. across a disconnect): resend; the server dedupes by msg id.
            self.metrics.publish_errors.labels("timeout").inc()
            return True
        reply = future.result()
        match reply.outcome:
            case "stored" | "duplicate":
                self.metrics.published.labels(item.kind).inc()
                if reply.outcome == "duplicate":
                    self.metrics.duplicates.labels(item.kind).inc()
                return False
            case "rejected":
                # The server understood and refused (e.g. over the stream's max_msg_size):
                # retrying cannot help and would block everything behind it.
                log.warning(
                    "JetStream rejected an event",
                    extra={
                        "kind": item.kind,
                        "event_id": item.msg_id,
                        "subject": item.subject,
                        "detail": reply.detail,
                    },
                )
                self._count_failure(item, "rejected", drop=True)
                return False
            case "no_stream":
                # No stream captures the subject (deleted, or a fresh server): redo setup.
                self._ready_generation = -1
        self.metrics.publish_errors.labels(reply.outcome).inc()
        return True

    def _count_failure(self, item: _Outgoing, reason: str, *, drop: bool) -> None:
        self.metrics.publish_errors.labels(reason).inc()
        if drop:
            self.metrics.dropped.labels(item.kind, reason).inc()
