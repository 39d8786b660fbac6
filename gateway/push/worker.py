"""The async job worker: one durable pull consumer per store on PUSH_JOBS, shared by
every gateway replica of the store (`<ingest prefix>-push-<store>`), so each job goes to
one of them.

Per job (a message: the frame, and its `JobTicket` header):

1. read the record; none (expired past its TTL): dropped;
2. not final yet: mark it `processing`, run the frame through the same priority queue
   as synchronous frames (its priority), record `completed` with the result or `failed`
   with the error (a failed job releases its dedup claim). Triton unavailable or the
   queue full is not a failure: the job is handed back (nak, a few seconds) as `queued`;
3. a pending callback: deliver it (callbacks.py), record `delivered` or `dead_letter`;
4. ack: only now does the job leave the queue.

While it works on a job the worker tells JetStream so (`in_progress`, every third of
`job_ack_wait_s`); a gateway that dies stops telling, and after `job_ack_wait_s` the job
goes to another worker (or this one after a restart), which resumes from the record:
a job already `completed` is not processed again, only its callback is still sent. The
receiver gets the callback once, unless the gateway dies between the receiver's answer
and the record's update (then twice, same job id: receivers deduplicate).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

import nats.errors
import nats.js
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig
from pydantic import ValidationError

from gateway.config import PushSettings
from gateway.metrics import GatewayMetrics
from gateway.push.callbacks import CallbackSender, publish_dead_letter
from gateway.push.dedup import Claim, FrameDedup
from gateway.push.jobs import (
    FINAL_STATUSES,
    TICKET_HEADER,
    CallbackState,
    JobError,
    JobRecord,
    JobStore,
    JobTicket,
    jobs_subject,
)
from gateway.push.service import PushError, PushProcessor
from trinetra.events.connection import NatsConnection
from trinetra.events.schema import subject_token
from trinetra.events.streams import PUSH_JOBS_STREAM
from trinetra.retry import Backoff

__all__ = ["JobWorker"]

log = logging.getLogger(__name__)

# Refusals that say "not now" rather than "never": the job is retried after a pause.
_TRANSIENT_CODES: Final = frozenset({"MODEL_UNAVAILABLE", "QUEUE_FULL"})
_RETRY_DELAY_S: Final = 2.0
_FETCH_TIMEOUT_S: Final = 1.0


class JobWorker:
    def __init__(
        self,
        nats: NatsConnection,
        store_id: str,
        durable_prefix: str,
        settings: PushSettings,
        store: JobStore,
        processor: PushProcessor,
        dedup: FrameDedup,
        metrics: GatewayMetrics,
    ) -> None:
        self._nats = nats
        self._store_id = store_id
        self._durable = f"{durable_prefix}-push-{subject_token(store_id)}"
        self._settings = settings
        self._jobs = store
        self._processor = processor
        self._dedup = dedup
        self._metrics = metrics
        self._callbacks = CallbackSender(settings, metrics)
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="push-job-worker")

    async def stop(self) -> None:
        """Stop fetching; jobs in flight are abandoned unacked (JetStream hands them out
        again after job_ack_wait_s), exactly what a crash would leave."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        for task in list(self._inflight):
            task.cancel()
        for task in list(self._inflight):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._callbacks.close()

    async def _run(self) -> None:
        backoff = Backoff(0.5, 10.0)
        while True:
            try:
                await self._nats.wait_connected()
                js = await self._jobs.jetstream()
                # Create or update: the settings of the replica started last apply.
                await js.add_consumer(
                    PUSH_JOBS_STREAM.name,
                    ConsumerConfig(
                        durable_name=self._durable,
                        filter_subject=jobs_subject(self._store_id),
                        ack_policy=AckPolicy.EXPLICIT,
                        ack_wait=self._settings.job_ack_wait_s,
                        max_deliver=-1,
                        max_ack_pending=4 * self._settings.max_concurrent,
                    ),
                )
                subscription = await js.pull_subscribe_bind(
                    durable=self._durable, stream=PUSH_JOBS_STREAM.name
                )
                backoff.reset()
                await self._fetch_forever(subscription)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = backoff.next_delay()
                log.warning(
                    "push job queue failed; binding again",
                    extra={"error": repr(exc), "retry_in_s": round(delay, 3)},
                )
                await asyncio.sleep(delay)

    async def _fetch_forever(self, subscription: nats.js.JetStreamContext.PullSubscription) -> None:
        while True:
            free = self._settings.max_concurrent - len(self._inflight)
            if free <= 0:
                await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                messages = await subscription.fetch(free, timeout=_FETCH_TIMEOUT_S)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            for msg in messages:
                task = asyncio.create_task(self._handle_logged(msg))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)

    async def _handle_logged(self, msg: Msg) -> None:
        beat = asyncio.create_task(self._keep_alive(msg))
        try:
            await self._handle(msg)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("push job not finished; retried", extra={"error": repr(exc)})
            with contextlib.suppress(Exception):
                await msg.nak(delay=_RETRY_DELAY_S)
        finally:
            beat.cancel()

    async def _keep_alive(self, msg: Msg) -> None:
        every = max(self._settings.job_ack_wait_s / 3.0, 0.2)
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(Exception):
                await msg.in_progress()

    async def _handle(self, msg: Msg) -> None:
        try:
            ticket = JobTicket.model_validate_json((msg.headers or {})[TICKET_HEADER])
        except (KeyError, ValidationError):
            log.error("push job message without a valid ticket; dropped")
            await msg.term()
            return
        record = await self._jobs.get(ticket.store_id, ticket.job_id)
        if record is None:
            log.info("push job expired before it ran", extra={"job_id": ticket.job_id})
            await msg.ack()
            return
        if record.status not in FINAL_STATUSES:
            processed = await self._process(ticket, record, msg.data)
            if processed is None:
                await msg.nak(delay=_RETRY_DELAY_S)
                return
            record = processed
        if record.callback is not None and record.callback.status == "pending":
            if ticket.callback_url is None:
                raise AssertionError("a pending callback without its URL")
            if not await self._call_back(ticket.callback_url, record, msg):
                return
        await msg.ack()

    async def _process(
        self, ticket: JobTicket, record: JobRecord, frame: bytes
    ) -> JobRecord | None:
        """The final record, or None when the job is to be retried later."""
        record = record.moved(status="processing", attempts=record.attempts + 1)
        await self._jobs.put(record)
        try:
            result = await self._processor.process(
                ticket.request,
                frame,
                result_id=ticket.job_id,
                camera_name=ticket.camera_name,
                embeddings=False,
                timeout_s=None,
            )
        except PushError as exc:
            if exc.code in _TRANSIENT_CODES:
                await self._jobs.put(record.moved(status="queued"))
                return None
            final = record.moved(
                status="failed", error=JobError(code=exc.code, message=exc.message)
            )
            await self._jobs.put(final)
            if ticket.claim is not None:
                await self._dedup.release(Claim(ticket.claim.key, ticket.claim.revision))
            self._metrics.push_jobs.labels("failed").inc()
            return final
        final = record.moved(status="completed", result=result)
        await self._jobs.put(final)
        self._metrics.push_jobs.labels("completed").inc()
        return final

    async def _call_back(self, url: str, record: JobRecord, msg: Msg) -> bool:
        """Deliver (or dead-letter) the callback and record it; False: retry later."""
        assert record.callback is not None
        attempt, attempts = await self._callbacks.deliver(url, record, asyncio.sleep)
        total = record.callback.attempts + attempts
        if attempt.outcome == "delivered":
            state = CallbackState(
                host=record.callback.host, status="delivered", attempts=total, last_reason=None
            )
        else:
            try:
                await publish_dead_letter(await self._jobs.jetstream(), record, attempt, attempts)
            except (nats.errors.Error, TimeoutError) as exc:
                log.warning("push dead letter not stored; retried", extra={"error": repr(exc)})
                await msg.nak(delay=_RETRY_DELAY_S)
                return False
            log.warning(
                "push job callback failed for good; dead-lettered",
                extra={"job_id": record.job_id, "attempts": total, "reason": attempt.reason},
            )
            state = CallbackState(
                host=record.callback.host,
                status="dead_letter",
                attempts=total,
                last_reason=attempt.reason,
            )
        await self._jobs.put(record.moved(callback=state))
        return True
