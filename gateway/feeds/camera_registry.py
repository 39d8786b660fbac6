"""Registered cameras into the NATS KV bucket CAMERA_REGISTRY, which the store nodes watch
and apply live (orchestrator/registry.py; trinetra/events/kv.py says where it lives).

The database is the record: a camera mutation commits first, then puts (or deletes) the
camera's KV key. When that write fails (NATS down) the mutation still succeeds and says
so (`Camera.registryPending`), and a background task reconciles: on start, on every
reconnect, after a failed write and every `resync_s` it makes the bucket match the
database. Each reconcile is a full comparison, so any interleaving of mutations and
reconciles converges:

- a registered camera whose KV version differs from its row's (or has no key) is put;
- a key without a registered camera is deleted if the gateway wrote it (a delete that
  did not reach NATS); one a node seeded from its camera file stays the node's (the API
  lists that camera from its status events, as unregistered, and registering it takes
  the key over);
- the lock below keeps a mutation's write out of a reconcile's read-then-compare.

Versions are the row's `updated_at` in microseconds; nodes compare configs, not versions,
so re-putting an unchanged camera restarts nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any, Final

import nats.errors
import nats.js.errors
from nats.js.kv import KeyValue
from pydantic import ValidationError

from gateway.db import reads
from gateway.db.database import Database
from gateway.feeds.buckets import BucketBinder
from gateway.feeds.resync import resync_forever
from trinetra.config.camera import CameraConfig
from trinetra.events.connection import NatsConnection
from trinetra.events.kv import (
    CAMERA_REGISTRY_BUCKET,
    CameraRegistryEntry,
    camera_registry_key,
    encode_camera_entry,
)

log = logging.getLogger(__name__)

DEFAULT_RESYNC_S: Final = 30.0


def version_of(updated_at: datetime) -> int:
    """A camera's registry version: its row's last change, in microseconds."""
    return int(updated_at.timestamp() * 1_000_000)


class CameraRegistryPublisher:
    def __init__(
        self,
        connection: NatsConnection,
        db: Database,
        schema_ready: asyncio.Event,
        resync_s: float = DEFAULT_RESYNC_S,
    ) -> None:
        self._conn = connection
        self._db = db
        self._schema_ready = schema_ready
        self._resync_s = resync_s
        self._wakeup = asyncio.Event()
        self._lock = asyncio.Lock()
        self._kv = BucketBinder(connection, CAMERA_REGISTRY_BUCKET)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._sync_forever(), name="camera-registry-kv")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # --- after a mutation -----------------------------------------------------------------

    async def put(
        self, store_id: str, camera_id: str, stored: dict[str, Any], updated_at: datetime
    ) -> bool:
        """Put a committed camera into KV; False (retried in the background) if NATS cannot
        take it now."""
        try:
            async with self._lock:
                await self._put(store_id, stored, version_of(updated_at))
        except Exception as exc:
            return self._failed("put", store_id, camera_id, exc)
        return True

    async def delete(self, store_id: str, camera_id: str) -> bool:
        """Delete a committed removal's key (a delete marker: module docs of kv.py)."""
        try:
            async with self._lock:
                kv = await self._kv.get()
                await kv.delete(camera_registry_key(store_id, camera_id))
        except Exception as exc:
            return self._failed("delete", store_id, camera_id, exc)
        return True

    def _failed(self, what: str, store_id: str, camera_id: str, exc: Exception) -> bool:
        log.warning(
            "camera stored but not in the registry yet (NATS); retrying",
            extra={"store": store_id, "camera": camera_id, "op": what, "error": repr(exc)},
        )
        self._wakeup.set()
        return False

    # --- reconcile ------------------------------------------------------------------------

    async def sync(self) -> dict[str, int]:
        """Make the bucket match the database (module docs); returns what it changed."""
        changed = {"put": 0, "deleted": 0}
        async with self._lock:
            kv = await self._kv.get()
            async with self._db.connection() as conn:
                rows = await reads.registered_cameras(conn)
            wanted = {camera_registry_key(r["store_id"], r["camera_id"]): r for r in rows}
            present = await self._entries(kv)
            for key, row in wanted.items():
                version = version_of(row["updated_at"])
                entry = present.get(key)
                if entry is None or entry.version != version:
                    try:
                        await self._put(row["store_id"], row["config"], version)
                    except ValidationError:
                        log.exception("registered camera is invalid; not published")
                        continue
                    changed["put"] += 1
            for key, entry in present.items():
                if key not in wanted and entry.origin == "gateway":
                    await kv.delete(key)
                    changed["deleted"] += 1
        if any(changed.values()):
            log.info("camera registry reconciled", extra=changed)
        return changed

    async def _entries(self, kv: KeyValue) -> dict[str, CameraRegistryEntry]:
        try:
            keys = await kv.keys()
        except nats.js.errors.NoKeysError:
            return {}
        entries: dict[str, CameraRegistryEntry] = {}
        for key in keys:
            try:
                found = await kv.get(key)
            except nats.js.errors.KeyNotFoundError:
                continue  # deleted since the listing
            if found.value is None:
                continue
            try:
                entries[key] = CameraRegistryEntry.model_validate_json(found.value)
            except ValidationError as exc:
                # Written by hand or by another version: the node refuses it; leave it.
                log.warning(
                    "registry key holds no valid entry; left alone",
                    extra={"key": key, "error": str(exc)[:500]},
                )
        return entries

    # --- KV -------------------------------------------------------------------------------

    async def _put(self, store_id: str, stored: dict[str, Any], version: int) -> None:
        # Stored configs keep only the keys a client gave: validated again for the full
        # config the node runs (defaults such as the role's tier filled in).
        camera = await asyncio.to_thread(CameraConfig.model_validate, stored)
        kv = await self._kv.get()
        await kv.put(
            camera_registry_key(store_id, camera.id),
            encode_camera_entry(camera, version, "gateway"),
        )

    async def _sync_forever(self) -> None:
        await resync_forever(
            self._conn,
            self._schema_ready,
            self._wakeup,
            self._resync_s,
            self.sync,
            "camera registry",
        )
