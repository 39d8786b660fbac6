"""Track id blocks, reserved in a NATS KV bucket before any of their ids is used.

One key per (store, camera) holds where the next block starts: the end of the highest
block ever reserved. A node reserves a block by compare-and-set on that key (an update
conditional on the revision it read), so two processes never get the same block, and a
node restarted after `kill -9` continues above every id the dead one may have published.
A crash wastes the rest of its block (a gap in the ids) and never repeats an id. The
bucket keeps the key forever (no TTL, file storage): a counter that expired during an
outage would start over at 1.

NATS being down stops only new reservations: `reserve` returns None, and `supply` keeps
trying while the tracker spends what it has left (then holds new tracks without an id).
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Final, NoReturn

from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BadRequestError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from orchestrator.tracking.ids import ReservedIds
from trinetra.events.connection import NatsConnection
from trinetra.events.schema import subject_token
from trinetra.events.streams import STREAM_NAME_IN_USE

log = logging.getLogger(__name__)

DEFAULT_BUCKET: Final = "TRACK_IDS"
DEFAULT_BLOCK_SIZE: Final = 1000
_FORMAT_VERSION: Final = 1
# Compare-and-set rounds before giving up for now (another node on the same camera key
# would have to win every one of them).
_CAS_ATTEMPTS: Final = 5


class TrackIdBlocks:
    """Reserves blocks of `block_size` consecutive ids per camera of one store."""

    def __init__(
        self,
        connection: NatsConnection,
        store_id: str,
        *,
        bucket: str = DEFAULT_BUCKET,
        block_size: int = DEFAULT_BLOCK_SIZE,
        timeout_s: float = 2.0,
        retry_s: float = 1.0,
    ) -> None:
        if block_size < 1:
            raise ValueError("block_size must be >= 1")
        self._conn = connection
        self._store = store_id
        self._bucket = bucket
        self.block_size = block_size
        self._timeout_s = timeout_s
        self._retry_s = retry_s
        self._kv: KeyValue | None = None
        self._kv_generation = -1

    def key(self, camera_id: str) -> str:
        return f"{subject_token(self._store)}.{subject_token(camera_id)}"

    async def reserve(self, camera_id: str) -> range | None:
        """The next block of `camera_id`'s ids, now reserved for this caller; None when
        NATS cannot be reached (or others kept winning the compare-and-set)."""
        kv = await self._bucket_or_none()
        if kv is None:
            return None
        key = self.key(camera_id)
        try:
            for _ in range(_CAS_ATTEMPTS):
                try:
                    entry = await kv.get(key)
                except KeyNotFoundError:  # also a deleted key
                    start, revision = 1, None
                else:
                    start, revision = _next_start(entry.value), entry.revision
                end = start + self.block_size
                value = json.dumps(
                    {"v": _FORMAT_VERSION, "next": end, "at": datetime.now(UTC).isoformat()}
                ).encode()
                try:
                    if revision is None:
                        await kv.create(key, value)
                    else:
                        await kv.update(key, value, last=revision)
                except KeyWrongLastSequenceError:
                    continue  # someone else reserved in between: read again
                log.info(
                    "track id block reserved",
                    extra={"camera": camera_id, "first": start, "last": end - 1},
                )
                return range(start, end)
        except Exception as exc:
            log.warning(
                "track id reservation failed", extra={"camera": camera_id, "error": repr(exc)}
            )
            return None
        log.warning("track id reservation lost every compare-and-set", extra={"camera": camera_id})
        return None

    async def supply(self, camera_id: str, ids: ReservedIds) -> NoReturn:
        """Forever: whenever `ids` runs low, reserve the next block and add it."""
        while True:
            await ids.wanted()
            block = await self.reserve(camera_id)
            if block is None:
                await asyncio.sleep(self._retry_s)
                continue
            ids.add(block)

    async def _bucket_or_none(self) -> KeyValue | None:
        client = self._conn.client
        if client is None or not self._conn.connected:
            return None
        generation = self._conn.generation
        if self._kv is None or self._kv_generation != generation:
            js = client.jetstream(timeout=self._timeout_s)
            config = KeyValueConfig(
                bucket=self._bucket,
                description="Where the next block of track ids starts, per store and camera.",
                history=1,
                storage=StorageType.FILE,
            )
            try:
                # Create-or-bind on every (re)connect, as the checkpoint bucket.
                try:
                    self._kv = await js.create_key_value(config)
                except BadRequestError as exc:
                    if exc.err_code != STREAM_NAME_IN_USE:
                        raise
                    self._kv = await js.key_value(self._bucket)
            except Exception as exc:
                log.warning(
                    "track id bucket unavailable",
                    extra={"bucket": self._bucket, "error": repr(exc)},
                )
                self._kv = None
                return None
            self._kv_generation = generation
        return self._kv


def _next_start(value: bytes | None) -> int:
    """Where the next block starts, from a stored value; ValueError if it is not one (a
    counter nobody can read must stop reservations, not restart them at 1)."""
    try:
        body = json.loads(value or b"")
        start = body["next"]
        if body["v"] != _FORMAT_VERSION or not isinstance(start, int) or start < 1:
            raise ValueError
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"unreadable track id counter {value!r}") from exc
    return start
