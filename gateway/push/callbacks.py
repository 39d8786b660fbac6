"""Async job callbacks: the job's final record POSTed to its `callback_url`, signed.

Signed and sent like alert webhooks (trinetra/webhooks/: `X-Trinetra-Signature:
t=<unix s>,v1=<hex HMAC-SHA256 of "<t>." + body>` under TRINETRA_PUSH__CALLBACK_SECRET,
the host resolved and checked against the webhook rules before every attempt and the
connection made to the checked address, no redirects). `X-Trinetra-Event-Id` is the job
id and `X-Trinetra-Event-Kind` is `detection.job`: delivery is at least once (a gateway
killed between the receiver's answer and recording it sends again), so receivers
deduplicate by job id.

The body is the job's record as `GET /api/v1/detections/jobs/{id}` answers it:
`job_id`, `status` (`completed` or `failed`), `camera_id`, `frame_id`, `result` (the
synchronous answer's shape) or `error` (`code`, `message`).

Attempts: `callback_max_attempts`, waits from `callback_backoff` (full jitter) or the
receiver's Retry-After; a permanent failure (4xx, a redirect, a refused address) stops
at once. Then the callback is dead-lettered: recorded on the job and published to
PUSH_DEADLETTER (`trinetra.<store>.push_deadletter`, Nats-Msg-Id the job id).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Final

import httpx
from nats.js import JetStreamContext

from gateway.config import PushSettings
from gateway.metrics import GatewayMetrics
from gateway.push.jobs import JobRecord
from trinetra.config.network import NetworkPolicy, webhook_policy
from trinetra.events.schema import subject_token
from trinetra.events.streams import PUSH_DEADLETTER_FAMILY
from trinetra.retry import Backoff
from trinetra.webhooks.delivery import Attempt, post_signed

__all__ = ["EVENT_KIND", "CallbackSender", "callback_body", "callback_policy"]

EVENT_KIND: Final = "detection.job"
USER_AGENT: Final = "trinetra-push/1"


def callback_policy(settings: PushSettings) -> NetworkPolicy:
    return webhook_policy(settings.callback_allowlist)


def callback_body(record: JobRecord) -> bytes:
    """What is POSTed (module docs): the record without the callback's own state."""
    return record.model_dump_json(exclude={"callback"}).encode()


class CallbackSender:
    def __init__(self, settings: PushSettings, metrics: GatewayMetrics) -> None:
        self._settings = settings
        self._metrics = metrics
        self._policy = callback_policy(settings)
        self._http = httpx.AsyncClient(follow_redirects=False, trust_env=False)

    async def close(self) -> None:
        await self._http.aclose()

    async def deliver(
        self, url: str, record: JobRecord, wait: Callable[[float], Awaitable[None]]
    ) -> tuple[Attempt, int]:
        """Attempt until delivered, permanent, or out of attempts; `wait(s)` sleeps
        between attempts (the worker keeps its message alive meanwhile). Returns the
        last attempt and how many were made."""
        secret = self._settings.callback_secret
        if secret is None:
            return Attempt("permanent", "no callback secret configured"), 0
        body = callback_body(record)
        backoff = Backoff.from_config(self._settings.callback_backoff)
        attempt = Attempt("permanent", "not attempted")
        attempts = 0
        for attempts in range(1, self._settings.callback_max_attempts + 1):
            attempt = await post_signed(
                self._http,
                url,
                body,
                secret=secret.get_secret_value(),
                event_id=record.job_id,
                timeout_s=self._settings.callback_timeout_s,
                policy=self._policy,
                user_agent=USER_AGENT,
                headers={
                    "X-Trinetra-Event-Kind": EVENT_KIND,
                    "X-Trinetra-Delivery-Attempt": str(attempts),
                },
            )
            self._metrics.push_callbacks.labels(f"attempt_{attempt.result_label}").inc()
            if attempt.outcome != "retry" or attempts == self._settings.callback_max_attempts:
                break
            delay = backoff.delay(attempts - 1)
            if attempt.retry_after_s is not None:
                delay = max(delay, attempt.retry_after_s)
            await wait(delay)
        outcome = "delivered" if attempt.outcome == "delivered" else "dead_letter"
        self._metrics.push_callbacks.labels(outcome).inc()
        return attempt, attempts


async def publish_dead_letter(
    js: JetStreamContext, record: JobRecord, attempt: Attempt, attempts: int
) -> None:
    """The failed callback, for an operator (module docs); raises when not stored."""
    letter = {
        "job_id": record.job_id,
        "host": record.callback.host if record.callback else None,
        "attempts": attempts,
        "reason": attempt.reason,
        "last_status": attempt.status,
        "failed_at": datetime.now(UTC).isoformat(),
        "job": json.loads(callback_body(record)),
    }
    subject = f"trinetra.{subject_token(record.store_id)}.{PUSH_DEADLETTER_FAMILY}"
    await asyncio.wait_for(
        js.publish(subject, json.dumps(letter).encode(), headers={"Nats-Msg-Id": record.job_id}),
        10.0,
    )
