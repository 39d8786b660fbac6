"""The store node's cameras, live from the CAMERA_REGISTRY bucket (trinetra/events/kv.py).

The gateway writes a camera's key after each camera mutation (gateway/feeds/
camera_registry.py); the node watches its store's keys and applies each change with no
restart (`StoreNode.apply_camera`):

- a new key, or `enabled: true` again, starts the camera;
- a changed config restarts it (its open tracks end, reason camera_stopped);
- the same config again (a re-put, a renewed watch's replay) changes nothing;
- `enabled: false`, a delete marker or a purge stops it.

Every (re)watch first replays the newest value of every key, then marks the end of the
replay; the node then runs exactly the replayed cameras (`StoreNode.run_cameras`), so a
change made while NATS was away applies once it returns. A watch made before a reconnect
is renewed (the server may have lost its consumer).

What the node refuses, with a log line naming the key and a count, while the camera keeps
running as it was: a value that is not a `CameraRegistryEntry`, a config that does not
validate under the node's own network policy (the error names the field), a config whose
id is not its key's.

The camera file seeds the bucket (`seed_cameras`): each of its cameras is written (origin
`seed`) when its key never existed, and rewritten when the key is still the file's
(origin seed) and the file changed. A key the API wrote (origin gateway) or deleted wins
over the file: once a camera is managed through the API, the API is its source of truth.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Final

import nats.errors
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import ValidationError

from trinetra.config.camera import CameraConfig
from trinetra.config.network import NetworkPolicy
from trinetra.events.connection import NatsConnection
from trinetra.events.kv import (
    CAMERA_REGISTRY_BUCKET,
    CameraRegistryEntry,
    camera_registry_key,
    camera_registry_prefix,
    encode_camera_entry,
    ensure_bucket,
)

__all__ = ["CameraRegistry", "seed_cameras"]

log = logging.getLogger(__name__)

# How long a watch waits for an update before checking that its connection is the same.
_WATCH_POLL_S: Final = 1.0
_RETRY_S: Final = 1.0

# A camera id and its config, or None: the camera must not run.
ApplyCamera = Callable[[str, CameraConfig | None], Awaitable[None]]
# The cameras that must run, and those to leave as they are (their entry was refused).
RunCameras = Callable[[Mapping[str, CameraConfig], set[str]], Awaitable[None]]


async def seed_cameras(kv: KeyValue, store_id: str, cameras: Sequence[CameraConfig]) -> int:
    """Write the camera file's cameras where the file still owns the key (module docs);
    returns how many keys were written."""
    written = 0
    for camera in cameras:
        key = camera_registry_key(store_id, camera.id)
        value = encode_camera_entry(camera, time.time_ns() // 1000, "seed")
        try:
            entry = await kv.get(key)
        except KeyNotFoundError as exc:
            if exc.op is not None:  # a delete marker (nats-py reports it so: `op`)
                continue  # removed through the API: the file does not bring it back
            try:
                await kv.create(key, value)
                written += 1
            except KeyWrongLastSequenceError:
                pass  # written meanwhile (by the API): that one wins
            continue
        try:
            current = CameraRegistryEntry.model_validate_json(entry.value or b"")
        except ValidationError:
            continue  # not the file's to fix; the watch refuses it with the reason
        if current.origin == "seed" and current.config != camera.model_dump(mode="json"):
            try:
                await kv.update(key, value, last=entry.revision)
                written += 1
            except KeyWrongLastSequenceError:
                pass
    return written


class CameraRegistry:
    """Follows the store's keys and hands the node what must run (module docs)."""

    def __init__(
        self,
        connection: NatsConnection,
        store_id: str,
        seeds: Sequence[CameraConfig],
        policy: NetworkPolicy,
        apply_camera: ApplyCamera,
        run_cameras: RunCameras,
        on_refused: Callable[[], None] | None = None,
    ) -> None:
        self._conn = connection
        self._store_id = store_id
        self._seeds = list(seeds)
        self._policy = policy
        self._apply_camera = apply_camera
        self._run_cameras = run_cameras
        self._on_refused = on_refused
        self._prefix = camera_registry_prefix(store_id) + "."
        # Set once a watch's replay has been applied: the node runs the registry's cameras.
        self.synced = asyncio.Event()

    async def run(self) -> None:
        """Seed, watch and apply until cancelled, renewing the watch when it breaks."""
        while True:
            if not await self._conn.wait_connected(30.0):
                continue
            client = self._conn.client
            if client is None:  # closing
                await asyncio.sleep(_RETRY_S)
                continue
            generation = self._conn.generation
            try:
                kv = await ensure_bucket(client.jetstream(timeout=5.0), CAMERA_REGISTRY_BUCKET)
                # On every (re)watch: a server that lost its data gets the file's back.
                written = await seed_cameras(kv, self._store_id, self._seeds)
                if written:
                    log.info("camera file seeded the registry", extra={"cameras": written})
                watcher = await kv.watch(self._prefix + ">")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("cannot watch the camera registry", extra={"error": repr(exc)})
                await asyncio.sleep(_RETRY_S)
                continue
            try:
                await self._follow(watcher, generation)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("camera registry watch broke; renewing", extra={"error": repr(exc)})
                await asyncio.sleep(_RETRY_S)
            finally:
                try:
                    await watcher.stop()  # type: ignore[no-untyped-call]
                except Exception as exc:
                    log.debug("stopping a broken watch failed", extra={"error": repr(exc)})

    async def _follow(self, watcher: KeyValue.KeyWatcher, generation: int) -> None:
        replay: dict[str, CameraConfig] | None = {}  # None once the replay has ended
        refused: set[str] = set()  # in the replay: cameras to leave as they run
        while True:
            try:
                entry = await watcher.updates(timeout=_WATCH_POLL_S)  # type: ignore[no-untyped-call]
            except nats.errors.TimeoutError:
                if self._conn.generation != generation:
                    return  # reconnected: a new watch replays every key
                continue
            if entry is None:  # the end of the replay
                if replay is not None:
                    await self._run_cameras(replay, refused)
                    replay = None
                    self.synced.set()
                continue
            camera_id = entry.key[len(self._prefix) :]
            config: CameraConfig | None = None  # DEL or PURGE: stop it
            if entry.operation is None:
                parsed = await self._parse(camera_id, entry.value or b"")
                if isinstance(parsed, str):
                    self._refuse(entry.key, parsed)
                    if replay is not None:
                        replay.pop(camera_id, None)
                        refused.add(camera_id)
                    continue
                config = parsed if parsed.enabled else None
            if replay is None:
                await self._apply_camera(camera_id, config)
                continue
            refused.discard(camera_id)
            if config is None:
                replay.pop(camera_id, None)
            else:
                replay[camera_id] = config

    async def _parse(self, camera_id: str, value: bytes) -> CameraConfig | str:
        """The key's camera, or why it is refused."""
        try:
            entry = CameraRegistryEntry.model_validate_json(value)
            config = await asyncio.to_thread(
                CameraConfig.model_validate,
                entry.config,
                context={"network_policy": self._policy},
            )
        except ValidationError as exc:
            return str(exc)
        if config.id != camera_id:
            return f"the config's id {config.id!r} is not the key's"
        return config

    def _refuse(self, key: str, why: str) -> None:
        log.error(
            "ignoring invalid camera registry entry; the camera stays as it runs",
            extra={"key": key, "error": why[:2000]},
        )
        if self._on_refused is not None:
            self._on_refused()
