"""Webhooks: every alert of a store POSTed, signed, to each endpoint whose filters it
passes; retried with backoff; dead-lettered after `max_attempts`.

    ALERTS  trinetra.<store>.*.alerts  --(one durable consumer per endpoint)-->  POST

One consumer per endpoint (`<prefix>-<store>-webhook-<endpoint>`, created at the
newest message, so a new endpoint is not sent the stream's history): each endpoint has
its own position, so a receiver that is down delays only itself, never the others.
Delivery is at least once: an alert is acknowledged on the endpoint's queue only after
the receiver answered 2xx or the alert was stored as a dead letter (deadletter.py), so
a crash in between sends it again; receivers deduplicate by `X-Trinetra-Event-Id`.

Per endpoint, at most `max_concurrency` deliveries are in flight: the worker pulls only
as many messages as it has free slots (the consumer's max_ack_pending is a looser
backstop). With more than one in flight, alerts may arrive out of order; each carries
its `occurred_at`, and a resolve names the alert it closes (`raised_event_id`).

Each attempt is signed afresh (trinetra/webhooks/signature.py), resolves and checks the
host again and connects to the checked address (trinetra/webhooks/delivery.py: SSRF and
DNS rebinding). Between attempts the wait is `trinetra.retry.Backoff` (full jitter) from
the endpoint's `backoff`, or the receiver's Retry-After; meanwhile the message is kept in
progress so JetStream does not hand it out again.

The body is the alert event exactly as on the bus, except that a VIP alert's customer
id is removed unless the endpoint has `include_customer_ids` (the receiver is outside
TRINETRA's erasure). The identity service's own alerts (false merge, drift) are not sent:
webhooks carry rule alerts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

import httpx
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from analytics.alerts.deadletter import DEADLETTER_STREAM, DeadLetter
from analytics.alerts.delivery import Attempt, attempt_delivery
from analytics.alerts.metrics import AlertingMetrics
from analytics.alerts.reader import StreamReader
from analytics.alerts.settings import AlertingSettings
from trinetra.config.alerts import WebhookEndpoint
from trinetra.config.network import NetworkPolicy, webhook_policy
from trinetra.events.connection import NatsConnection
from trinetra.events.schema import (
    ALERTS_FAMILY,
    SUBJECT_ROOT,
    AlertRaisedEvent,
    AlertResolvedEvent,
    SchemaError,
    decode,
    encode,
    subject_token,
)
from trinetra.events.streams import ALERTS_STREAM, ensure_stream
from trinetra.retry import Backoff

__all__ = ["EndpointWorker", "WebhookDispatcher", "delivery_body"]

log = logging.getLogger(__name__)

_REBIND_BACKOFF_S: Final = (0.5, 10.0)
_NAK_DELAY_S: Final = 5.0


def delivery_body(event: AlertRaisedEvent | AlertResolvedEvent, endpoint: WebhookEndpoint) -> bytes:
    """What is POSTed: the event's wire form, without a customer id unless allowed."""
    if event.subject.customer_id is not None and not endpoint.include_customer_ids:
        subject = event.subject.model_copy(update={"customer_id": None})
        event = event.model_copy(update={"subject": subject})
    return encode(event)


def _utc_now() -> str:
    return datetime.now(UTC).isoformat()


class EndpointWorker:
    """Delivers one store's alerts to one endpoint (module docs)."""

    def __init__(
        self,
        client: NATS,
        store_id: str,
        endpoint: WebhookEndpoint,
        settings: AlertingSettings,
        policy: NetworkPolicy,
        metrics: AlertingMetrics,
    ) -> None:
        self._client = client
        self._store_id = store_id
        self.endpoint = endpoint
        self._settings = settings
        self._policy = policy
        self._metrics = metrics
        self._js = client.jetstream(timeout=5.0)
        token = subject_token(store_id)
        self.reader = StreamReader(
            client,
            stream=ALERTS_STREAM.name,
            name=f"{settings.durable_prefix}-{token}-webhook-{endpoint.id}",
            filter_subject=f"{SUBJECT_ROOT}.{token}.*.{ALERTS_FAMILY}",
            description=f"TRINETRA alert webhook {endpoint.id}",
            ack_wait_s=settings.ack_wait_s,
            # A backstop only: the worker never asks for more than its free slots, but a
            # message delivered to a pull that already timed out on our side counts too,
            # so the server's limit leaves room above max_concurrency.
            max_ack_pending=max(4 * endpoint.max_concurrency, 16),
        )
        # One client per endpoint: its pool is keyed by the pinned address, and it must
        # never take proxies or redirects from anywhere.
        self._http = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=endpoint.max_concurrency),
        )
        self._task: asyncio.Task[None] | None = None
        self._inflight: dict[asyncio.Task[None], Msg] = {}
        self.bound = asyncio.Event()  # its queue exists: alerts from now on are delivered

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"webhook-{self.endpoint.id}")

    async def stop(self, *, delete_consumer: bool = False) -> None:
        """Stop fetching and cancel deliveries in flight: they were not acknowledged, and
        are handed back at once (nak) for the next worker to deliver."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        unfinished = list(self._inflight.items())
        for task, _ in unfinished:
            task.cancel()
        for task, msg in unfinished:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            with contextlib.suppress(Exception):
                await msg.nak()
        if delete_consumer:
            with contextlib.suppress(Exception):
                await self.reader.delete()
        else:
            await self.reader.close()
        await self._http.aclose()

    async def _run(self) -> None:
        backoff = Backoff(*_REBIND_BACKOFF_S)
        while True:
            try:
                await self.reader.bind_resume()
                self.bound.set()
                backoff.reset()
                await self._fetch_forever()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "webhook queue failed; binding again",
                    extra={"endpoint": self.endpoint.id, "error": repr(exc)},
                )
                await asyncio.sleep(backoff.next_delay())

    async def _fetch_forever(self) -> None:
        while True:
            free = self.endpoint.max_concurrency - len(self._inflight)
            if free <= 0:
                await asyncio.wait(set(self._inflight), return_when=asyncio.FIRST_COMPLETED)
                continue
            for msg in await self.reader.fetch(free, self._settings.poll_s):
                task = asyncio.create_task(self._deliver_logged(msg))
                self._inflight[task] = msg
                task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)

    async def _deliver_logged(self, msg: Msg) -> None:
        try:
            await self._deliver(msg)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Not acknowledged: JetStream hands it out again after ack_wait.
            log.error(
                "webhook delivery failed unexpectedly",
                extra={"endpoint": self.endpoint.id, "error": repr(exc)},
            )

    async def _deliver(self, msg: Msg) -> None:
        endpoint = self.endpoint
        try:
            event = decode(msg.data)
        except SchemaError:
            await msg.ack()  # not an event: nothing a receiver could use
            return
        if not isinstance(event, AlertRaisedEvent | AlertResolvedEvent) or not endpoint.accepts(
            event.rule_kind, event.severity, resolved=isinstance(event, AlertResolvedEvent)
        ):
            self._metrics.deliveries.labels(endpoint.id, "filtered").inc()
            await msg.ack()
            return
        body = delivery_body(event, endpoint)
        backoff = Backoff.from_config(endpoint.backoff)
        first_attempt_at = _utc_now()
        last: Attempt | None = None
        attempts = 0
        for attempts in range(1, endpoint.max_attempts + 1):
            last = await attempt_delivery(
                self._http,
                endpoint,
                body,
                event_id=str(event.event_id),
                event_kind=event.kind,
                attempt=attempts,
                policy=self._policy,
            )
            self._metrics.attempts.labels(endpoint.id, last.result_label).inc()
            if last.outcome == "delivered":
                self._metrics.deliveries.labels(endpoint.id, "delivered").inc()
                self._metrics.latency.labels(endpoint.id).observe(
                    max(time.time() - event.published_at.timestamp(), 0.0)
                )
                await msg.ack()
                return
            if last.outcome == "permanent" or attempts == endpoint.max_attempts:
                break
            wait_s = backoff.delay(attempts - 1)
            if last.retry_after_s is not None:
                wait_s = max(wait_s, last.retry_after_s)
            log.info(
                "webhook attempt failed; retrying",
                extra={
                    "endpoint": endpoint.id,
                    "event_id": str(event.event_id),
                    "attempt": attempts,
                    "reason": last.reason,
                    "retry_in_s": round(wait_s, 3),
                },
            )
            await self._wait_in_progress(msg, wait_s)
        assert last is not None
        await self._dead_letter(msg, event, body, attempts, last, first_attempt_at)

    async def _wait_in_progress(self, msg: Msg, wait_s: float) -> None:
        """Sleep, telling JetStream the message is still being worked on."""
        beat = max(self._settings.ack_wait_s / 3.0, 0.5)
        deadline = time.monotonic() + wait_s
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(left, beat))
            with contextlib.suppress(Exception):
                await msg.in_progress()

    async def _dead_letter(
        self,
        msg: Msg,
        event: AlertRaisedEvent | AlertResolvedEvent,
        body: bytes,
        attempts: int,
        last: Attempt,
        first_attempt_at: str,
    ) -> None:
        endpoint = self.endpoint
        record = DeadLetter(
            endpoint_id=endpoint.id,
            host=endpoint.host,
            event_id=str(event.event_id),
            event_kind=event.kind,
            rule_id=event.rule_id,
            attempts=attempts,
            reason=last.reason,
            last_status=last.status,
            first_attempt_at=first_attempt_at,
            failed_at=_utc_now(),
            alert=json.loads(body),
        )
        try:
            await record.publish(self._js, self._store_id)
        except Exception as exc:
            # Not stored: keep the alert on the queue; it comes back after the delay.
            log.warning(
                "dead letter not stored; the delivery will be retried",
                extra={"endpoint": endpoint.id, "error": repr(exc)},
            )
            with contextlib.suppress(Exception):
                await msg.nak(delay=_NAK_DELAY_S)
            return
        self._metrics.deliveries.labels(endpoint.id, "dead_letter").inc()
        log.warning(
            "webhook delivery failed for good; dead-lettered",
            extra={
                "endpoint": endpoint.id,
                "event_id": str(event.event_id),
                "attempts": attempts,
                "reason": last.reason,
            },
        )
        await msg.ack()


class WebhookDispatcher:
    """One `EndpointWorker` per configured, enabled endpoint; `configure` applies a new
    configuration's webhooks live."""

    def __init__(
        self,
        connection: NatsConnection,
        store_id: str,
        settings: AlertingSettings,
        *,
        metrics: AlertingMetrics | None = None,
        policy: NetworkPolicy | None = None,
    ) -> None:
        self._conn = connection
        self._store_id = store_id
        self._settings = settings
        self._metrics = metrics if metrics is not None else AlertingMetrics()
        self._policy = policy if policy is not None else webhook_policy(settings.webhook_allowlist)
        self._workers: dict[str, EndpointWorker] = {}
        self._streams_ready = False
        self._lock = asyncio.Lock()

    @property
    def endpoints(self) -> list[str]:
        return sorted(self._workers)

    async def wait_bound(self, timeout_s: float | None = None) -> bool:
        """True once every running endpoint's queue exists (within `timeout_s`)."""
        try:
            async with asyncio.timeout(timeout_s):
                for worker in list(self._workers.values()):
                    await worker.bound.wait()
        except TimeoutError:
            return False
        return True

    async def configure(self, webhooks: Sequence[WebhookEndpoint]) -> None:
        """Start, restart (changed) and stop workers to match `webhooks`. Removing an
        endpoint deletes its queue; disabling it keeps the queue (and its backlog)."""
        async with self._lock:
            await self._conn.wait_connected()
            client = self._conn.client
            assert client is not None
            if not self._streams_ready:
                js = client.jetstream(timeout=5.0)
                await ensure_stream(js, ALERTS_STREAM)
                await ensure_stream(js, DEADLETTER_STREAM)
                self._streams_ready = True
            wanted = {hook.id: hook for hook in webhooks}
            for endpoint_id, worker in list(self._workers.items()):
                hook = wanted.get(endpoint_id)
                if hook is None or not hook.enabled or hook != worker.endpoint:
                    del self._workers[endpoint_id]
                    await worker.stop(delete_consumer=hook is None)
            for endpoint_id, hook in wanted.items():
                if hook.enabled and endpoint_id not in self._workers:
                    worker = EndpointWorker(
                        client,
                        self._store_id,
                        hook,
                        self._settings,
                        self._policy,
                        self._metrics,
                    )
                    self._workers[endpoint_id] = worker
                    worker.start()

    async def stop(self) -> None:
        async with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for worker in workers:
            await worker.stop()
