"""A durable JetStream pull consumer on one stream, filtered to one store's subjects.

Two ways to bind, for the two users:

- `bind_at(seq)`: the rule engine's inputs. The consumer is *re-created* so that it
  delivers from the checkpoint's sequence + 1 in stream order (AckPolicy.ALL: acking the
  last message a checkpoint covers acknowledges everything before it). Resuming at the
  server's ack floor instead would bring the messages delivered-but-unacked by a dead
  process back after `ack_wait`, behind newer ones: another order than the first run
  (analytics/consumer.py has the same reasoning for the analytics service itself).
- `bind_resume(deliver_new)`: a webhook endpoint's queue. The consumer is kept across
  restarts (its position is the server's, acknowledged one delivery at a time), and a new
  one starts at the newest message: an endpoint added today is not sent last month's
  alerts.

`fetch` asks for what is there and waits at most `poll_s` when nothing is: an idle pull
adds at most that to an alert's way.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Final

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

__all__ = ["StreamReader"]

log = logging.getLogger(__name__)

# nats-py raises either, depending on where in a pull the time ran out.
_TIMEOUTS: Final = (nats.errors.TimeoutError, TimeoutError)
# The second pull of a fetch only takes what is already there (its no-wait request
# answers at once); this bounds it when the server has nothing more.
_DRAIN_S: Final = 0.005


class StreamReader:
    """One durable pull consumer (module docs)."""

    def __init__(
        self,
        client: NATS,
        *,
        stream: str,
        name: str,
        filter_subject: str,
        description: str,
        ack_wait_s: float,
        max_ack_pending: int,
        timeout_s: float = 5.0,
    ) -> None:
        self._js: JetStreamContext = client.jetstream(timeout=timeout_s)
        self.stream = stream
        self.name = name
        self.filter_subject = filter_subject
        self._description = description
        self._ack_wait_s = ack_wait_s
        self._max_ack_pending = max_ack_pending
        self._subscription: JetStreamContext.PullSubscription | None = None

    def _config(self, ack: AckPolicy, **start: object) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.name,
            description=self._description,
            filter_subject=self.filter_subject,
            ack_policy=ack,
            ack_wait=self._ack_wait_s,
            max_ack_pending=self._max_ack_pending,
            max_deliver=-1,
            **start,  # type: ignore[arg-type]
        )

    async def bind_at(self, from_seq: int) -> None:
        """(Re)create the consumer to deliver from stream sequence `from_seq` (1: all)."""
        await self.close()
        with contextlib.suppress(NotFoundError):
            await self._js.delete_consumer(self.stream, self.name)
        start: dict[str, object] = (
            {"deliver_policy": DeliverPolicy.ALL}
            if from_seq <= 1
            else {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": from_seq}
        )
        await self._js.add_consumer(self.stream, self._config(AckPolicy.ALL, **start))
        await self._subscribe()
        log.info(
            "bound consumer",
            extra={"stream": self.stream, "consumer": self.name, "from_seq": from_seq},
        )

    async def bind_resume(self) -> None:
        """Bind to the consumer where the server has it, creating it at the newest
        message if there is none; its limits are brought up to date."""
        await self.close()
        try:
            info = await self._js.consumer_info(self.stream, self.name)
        except NotFoundError:
            config = self._config(AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.NEW)
        else:
            # Same start as before (a start position cannot be edited), new limits.
            config = info.config.evolve(
                description=self._description,
                ack_wait=self._ack_wait_s,
                max_ack_pending=self._max_ack_pending,
            )
        await self._js.add_consumer(self.stream, config)
        await self._subscribe()

    async def _subscribe(self) -> None:
        self._subscription = await self._js.pull_subscribe_bind(
            durable=self.name, stream=self.stream
        )

    async def fetch(self, batch: int, poll_s: float) -> list[Msg]:
        """Up to `batch` messages in stream order; [] when none came within `poll_s`.

        Two pulls: one message, which returns the moment there is one, then what else is
        already waiting. (One pull of `batch` would hold a message that arrives while it
        waits until the batch fills or `poll_s` ends: up to `poll_s` on every alert.)"""
        subscription = self._subscription
        if subscription is None:
            raise RuntimeError("consumer not bound")
        try:
            first = await subscription.fetch(1, timeout=poll_s)
        except _TIMEOUTS:
            return []
        if batch <= 1:
            return first
        try:
            rest = await subscription.fetch(batch - 1, timeout=_DRAIN_S)
        except _TIMEOUTS:
            rest = []
        return [*first, *rest]

    async def delete(self) -> None:
        """Remove the consumer from the server (an endpoint removed from the config)."""
        await self.close()
        with contextlib.suppress(NotFoundError):
            await self._js.delete_consumer(self.stream, self.name)

    async def close(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
