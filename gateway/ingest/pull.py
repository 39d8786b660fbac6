"""A lean JetStream pull: batches from a durable consumer through one callback inbox.

nats-py's `PullSubscription.fetch` awaits every message through `asyncio.wait_for` (a
task per message), which costs more than decoding a small event; measured on 2 cores it
caps fetch+ack at ~28k msg/s against ~70k for this. The protocol is the documented one:
a pull request `{"batch": N, "expires": ns}` to `$JS.API.CONSUMER.MSG.NEXT.<stream>.
<consumer>` with our inbox as reply; the server delivers up to N messages to the inbox
and ends a request it could not fill with a status message (408 on expiry).

One request is outstanding at a time, so every message belongs to it. `fetch` returns
the messages buffered so far once the batch is full, or `window_s` after the first one
arrived (micro-batching for a trickle), or [] when the request expired empty. A request
unanswered for twice its expiry (lost across a reconnect) is re-issued.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Final

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

# Status codes that end a pull request: no messages (no_wait), request timeout (expired),
# conflict (consumer deleted, leadership change, too many waiting requests).
_TERMINAL: Final = frozenset({"404", "408", "409"})


class ConsumerGoneError(RuntimeError):
    """The server said the consumer is gone (409 Consumer Deleted): bind again."""


class PullFetcher:
    def __init__(
        self,
        client: NATS,
        stream: str,
        consumer: str,
        *,
        expires_s: float = 1.0,
        window_s: float = 0.05,
    ) -> None:
        self._client = client
        self._subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._inbox = client.new_inbox()
        self._expires_s = expires_s
        self._window_s = window_s
        self._subscription: Subscription | None = None
        self._buffer: list[Msg] = []
        self._first_at: float | None = None
        self._remaining = 0
        self._requested_at: float | None = None  # None: no request outstanding
        self._wakeup = asyncio.Event()
        self._gone: str | None = None

    async def open(self) -> None:
        # Deliveries are bounded by the batch size, so the pending limits never bite.
        self._subscription = await self._client.subscribe(
            self._inbox, cb=self._on_message, pending_msgs_limit=-1, pending_bytes_limit=-1
        )

    async def close(self) -> None:
        if self._subscription is not None:
            subscription, self._subscription = self._subscription, None
            await subscription.unsubscribe()

    async def _on_message(self, msg: Msg) -> None:
        status = msg.headers.get("Status") if msg.headers else None
        if status is None and not msg.data and msg.headers:
            return
        if status is not None:
            if status in _TERMINAL:
                self._requested_at = None
                description = msg.headers.get("Description", "") if msg.headers else ""
                if status == "409" and "Deleted" in description:
                    self._gone = description
            self._wakeup.set()
            return
        if self._first_at is None:
            self._first_at = time.monotonic()
        self._buffer.append(msg)
        self._remaining -= 1
        if self._remaining <= 0:
            self._requested_at = None
            self._wakeup.set()
        elif len(self._buffer) == 1:
            self._wakeup.set()

    async def _request(self, batch: int) -> None:
        body = {"batch": batch, "expires": int(self._expires_s * 1e9)}
        self._remaining = batch
        self._requested_at = time.monotonic()
        await self._client.publish(self._subject, json.dumps(body).encode(), reply=self._inbox)

    async def fetch(self, batch: int) -> list[Msg]:
        """Up to `batch` messages (module docs); [] when none came within the expiry."""
        if self._subscription is None:
            raise RuntimeError("fetcher not open")
        stale = self._expires_s * 2
        if self._requested_at is not None and time.monotonic() - self._requested_at > stale:
            self._requested_at = None
        if self._requested_at is None and not self._buffer:
            await self._request(batch)
        while True:
            if self._gone is not None:
                raise ConsumerGoneError(self._gone)
            if self._buffer:
                assert self._first_at is not None
                waited = time.monotonic() - self._first_at
                if self._requested_at is None or len(self._buffer) >= batch:
                    break
                if waited >= self._window_s:
                    break
                timeout = self._window_s - waited
            elif self._requested_at is None:
                return []  # the request ended (expired) without messages
            else:
                timeout = self._expires_s * 2
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout)
            except TimeoutError:
                if not self._buffer and self._requested_at is not None:
                    self._requested_at = None  # lost request: the caller asks again
                    return []
        taken, self._buffer = self._buffer[:batch], self._buffer[batch:]
        self._first_at = time.monotonic() if self._buffer else None
        return taken
