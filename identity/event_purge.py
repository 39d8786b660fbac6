"""Erasure reaches the event log too: identity and alert events naming an erased customer
are deleted from JetStream (IDENTITY and ALERTS streams), so no link to them survives
there for the streams' retention period."""

from __future__ import annotations

import asyncio
import json
import logging

import nats.js.errors
from nats.aio.client import Client as NATS
from nats.js.api import DeliverPolicy

from trinetra.events.streams import ALERTS_STREAM, IDENTITY_STREAM

log = logging.getLogger(__name__)
STREAMS = (IDENTITY_STREAM, ALERTS_STREAM)


def _names_customer(payload: bytes, customer_id: str) -> bool:
    # Cheap byte test first: most events do not mention this customer at all.
    if customer_id.encode() not in payload:
        return False
    try:
        event = json.loads(payload)
    except ValueError:
        return False
    return bool(event.get("customer_id") == customer_id)


async def purge_customer_events(client: NATS, customer_id: str, timeout_s: float = 60.0) -> int:
    """Delete every stored event whose `customer_id` is this customer; returns how many."""
    js = client.jetstream()
    deleted = 0
    for spec in STREAMS:
        stream = spec.name
        try:
            info = await js.stream_info(stream)
        except nats.js.errors.NotFoundError:
            continue
        last = info.state.last_seq
        if info.state.messages == 0:
            continue
        sub = await js.subscribe(
            spec.subjects[0],
            stream=stream,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL,
        )
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    msg = await sub.next_msg(timeout=timeout_s)
                    seq = msg.metadata.sequence.stream
                    if _names_customer(msg.data, customer_id):
                        await js.delete_msg(stream, seq)
                        deleted += 1
                    if seq >= last:
                        break
        finally:
            await sub.unsubscribe()
    log.info("purged identity events", extra={"deleted": deleted})
    return deleted
