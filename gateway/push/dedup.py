"""Push mode deduplication: one frame_id per camera per window, across every replica.

The first request for `(store, camera, frame_id)` claims the key with KV `create`,
which the server applies only if the key holds nothing (compare-and-set on the
subject's last sequence), so of concurrent requests on any number of gateways exactly
one wins; the others read the winner's result id and answer `duplicate`. The bucket's
TTL is the window (trinetra/events/kv.py, PUSH_FRAME_IDS). A request that fails after
claiming deletes its own claim (by revision, never a newer one), so nothing of it is
left behind and the client may send the frame again.

The key hashes camera and frame id: a frame_id may hold any character, a KV key may not.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass

import nats.errors
import nats.js.errors
from nats.js.kv import KeyValue

from gateway.feeds.buckets import BucketBinder
from trinetra.events.connection import NatsConnection
from trinetra.events.kv import PUSH_FRAME_IDS_BUCKET
from trinetra.events.schema import subject_token

__all__ = ["Claim", "FrameDedup", "dedup_key"]

log = logging.getLogger(__name__)


def dedup_key(store_id: str, camera_id: str, frame_id: str) -> str:
    digest = hashlib.sha256(f"{camera_id}\x00{frame_id}".encode()).hexdigest()[:40]
    return f"{subject_token(store_id)}.{digest}"


@dataclass(frozen=True)
class Claim:
    """A won claim: what `release` needs to delete exactly it."""

    key: str
    revision: int


class FrameDedup:
    def __init__(self, nats: NatsConnection, window_s: float) -> None:
        spec = dataclasses.replace(PUSH_FRAME_IDS_BUCKET, ttl_s=window_s)
        self._bucket = BucketBinder(nats, spec)

    async def claim(
        self, store_id: str, camera_id: str, frame_id: str, result_id: str
    ) -> Claim | str:
        """Our `Claim`, or the earlier request's result id (a duplicate)."""
        kv = await self._bucket.get()
        key = dedup_key(store_id, camera_id, frame_id)
        while True:
            try:
                revision = await kv.create(key, result_id.encode())
            except nats.js.errors.KeyWrongLastSequenceError:
                earlier = await _current(kv, key)
                if earlier is not None:
                    return earlier
                continue  # expired or released between the two calls: try again
            return Claim(key, revision)

    async def release(self, claim: Claim) -> None:
        """Delete our claim (the request failed), unless it is already gone."""
        try:
            kv = await self._bucket.get()
            await kv.delete(claim.key, last=claim.revision)
        except nats.js.errors.APIError as exc:
            # Wrong last sequence: it expired and someone else claimed it since.
            log.debug("dedup claim not released", extra={"error": repr(exc)})
        except (nats.errors.Error, TimeoutError) as exc:
            log.warning(
                "dedup claim not released; it expires with the window",
                extra={"error": repr(exc)},
            )


async def _current(kv: KeyValue, key: str) -> str | None:
    try:
        entry = await kv.get(key)
    except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
        return None
    return entry.value.decode() if entry.value else None
