"""The partition's durable pull consumer on DETECTIONS, positioned by the checkpoint.

One consumer per partition (`<prefix>-<store>-p<i>-of-<n>`), filtered to the store's
detections, acknowledged with AckPolicy.ALL: acking the last message a checkpoint covers
acknowledges everything before it, one ack per checkpoint.

Binding *re-creates* the consumer at the position the caller names (the checkpoint's
sequence + 1, or the stream's start) instead of resuming the server's own position.
That position is the ack floor, and the messages after it that were delivered but not
acknowledged (everything since the last checkpoint of a process that died) would come
back only after `ack_wait`, *behind* newer messages: a replay in another order than the
original run, which the engine (time never runs backwards per camera) would answer
differently. Re-created at the checkpoint, the consumer delivers in stream order again.
So exactly one process may run a partition: a second would re-create it under the first.
"""

from __future__ import annotations

import contextlib
import logging

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from trinetra.events.schema import DETECTIONS_FAMILY, SUBJECT_ROOT, subject_token
from trinetra.events.streams import DETECTIONS_STREAM

__all__ = ["DetectionsConsumer", "consumer_name"]

log = logging.getLogger(__name__)


def consumer_name(prefix: str, store_id: str, partition: int, partitions: int) -> str:
    """The partition's durable name (no `.`, `*` or `>`: subject tokens escape them, and
    `=` is a legal name character)."""
    return f"{prefix}-{subject_token(store_id)}-p{partition}-of-{partitions}"


class DetectionsConsumer:
    """Pull batches of a store's detections from a given stream sequence on."""

    def __init__(
        self,
        client: NATS,
        *,
        name: str,
        store_id: str,
        ack_wait_s: float,
        max_ack_pending: int,
        timeout_s: float = 5.0,
    ) -> None:
        self._js: JetStreamContext = client.jetstream(timeout=timeout_s)
        self.name = name
        self.stream = DETECTIONS_STREAM.name
        self.filter_subject = f"{SUBJECT_ROOT}.{subject_token(store_id)}.*.{DETECTIONS_FAMILY}"
        self._ack_wait_s = ack_wait_s
        self._max_ack_pending = max_ack_pending
        self._subscription: JetStreamContext.PullSubscription | None = None

    async def bind(self, from_seq: int) -> None:
        """(Re)create the consumer so that its first message is at stream sequence
        `from_seq` or later (1: the stream's start), and subscribe to it."""
        await self.close()
        with contextlib.suppress(NotFoundError):
            await self._js.delete_consumer(self.stream, self.name)
        start = (
            {"deliver_policy": DeliverPolicy.ALL}
            if from_seq <= 1
            else {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": from_seq}
        )
        await self._js.add_consumer(
            self.stream,
            ConsumerConfig(
                durable_name=self.name,
                description="TRINETRA analytics: one partition of a store's cameras",
                filter_subject=self.filter_subject,
                ack_policy=AckPolicy.ALL,
                ack_wait=self._ack_wait_s,
                max_ack_pending=self._max_ack_pending,
                max_deliver=-1,
                **start,
            ),
        )
        self._subscription = await self._js.pull_subscribe_bind(
            durable=self.name, stream=self.stream
        )
        log.info(
            "bound the detections consumer",
            extra={"consumer": self.name, "from_seq": from_seq, "filter": self.filter_subject},
        )

    async def fetch(self, batch: int, timeout_s: float) -> list[Msg]:
        """Up to `batch` messages in stream order; [] when none came within `timeout_s`."""
        if self._subscription is None:
            raise RuntimeError("consumer not bound")
        try:
            return await self._subscription.fetch(batch, timeout=timeout_s)
        except (TimeoutError, nats.errors.TimeoutError):
            # nats-py raises either, depending on where the wait ended
            return []

    async def pending(self) -> int | None:
        """Messages in the stream not yet delivered to this consumer (lag), if known."""
        if self._subscription is None:
            return None
        info = await self._subscription.consumer_info()
        return None if info.num_pending is None else int(info.num_pending)

    async def close(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
