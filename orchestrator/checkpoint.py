"""Tracker checkpoints in a NATS KV bucket, so a restarted store node knows which tracks
the previous run left open (orchestrator/tracking/restart.py ends them).

One key per camera holds the latest JSON state (history 1: only the newest matters), in
the file store. No TTL by default: a checkpoint that expired while the node was down would
leave its tracks open for good. NATS being down must not stop tracking: `save` logs,
counts and returns False; `load` returns None, and `read` raises
`CheckpointUnavailableError` for a caller that must tell "no checkpoint" from "cannot
know yet".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BadRequestError, KeyDeletedError, KeyNotFoundError
from nats.js.kv import KeyValue
from prometheus_client import CollectorRegistry, Counter

from trinetra.events.connection import NatsConnection
from trinetra.events.schema import subject_token
from trinetra.events.streams import STREAM_NAME_IN_USE

log = logging.getLogger(__name__)

DEFAULT_BUCKET: Final = "TRACKER_STATE"
_FORMAT_VERSION: Final = 1


class CheckpointUnavailableError(RuntimeError):
    """NATS could not be asked (down, or the bucket would not open or answer)."""


class CheckpointMetrics:
    """Checkpoint store metrics, on the registry it is given (private one if None)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.saves = Counter(
            "trinetra_checkpoint_saves",
            "Checkpoint saves by result (ok, error).",
            ["result"],
            registry=self.registry,
        )
        self.loads = Counter(
            "trinetra_checkpoint_loads",
            "Checkpoint loads by result (hit, miss, stale, error).",
            ["result"],
            registry=self.registry,
        )


class CheckpointStore:
    """`save(key, state)` / `load(key)` of JSON-serializable dicts in a KV bucket.

    Keys are escaped with `schema.subject_token`, so any camera id is a valid key.
    Values are stored as `{"v": 1, "saved_at": <UTC ISO>, "state": {...}}`.
    """

    def __init__(
        self,
        connection: NatsConnection,
        *,
        bucket: str = DEFAULT_BUCKET,
        ttl_s: float | None = None,
        max_value_bytes: int = 4 * 1024 * 1024,
        timeout_s: float = 2.0,
        metrics: CheckpointMetrics | None = None,
    ) -> None:
        """`ttl_s`: how long the server keeps a checkpoint after its last save (None:
        until deleted). An existing bucket keeps the TTL it was created with."""
        self._conn = connection
        self._bucket = bucket
        self._ttl_s = ttl_s
        self._max_value_bytes = max_value_bytes
        self._timeout_s = timeout_s
        self.metrics = metrics if metrics is not None else CheckpointMetrics()
        self._kv: KeyValue | None = None
        self._kv_generation = -1

    async def save(self, key: str, state: Mapping[str, Any]) -> bool:
        """Store `state` as the latest checkpoint for `key`; False if NATS is unreachable.

        Raises only for a caller bug: `state` that is not JSON-serializable.
        """
        body = {"v": _FORMAT_VERSION, "saved_at": datetime.now(UTC).isoformat(), "state": state}
        # allow_nan=False: NaN is not JSON and other readers would choke on it.
        payload = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
        kv = await self._bucket_or_none()
        if kv is None:
            self.metrics.saves.labels("error").inc()
            return False
        try:
            await kv.put(subject_token(key), payload)
        except Exception as exc:
            self.metrics.saves.labels("error").inc()
            log.warning("checkpoint save failed", extra={"key": key, "error": repr(exc)})
            return False
        self.metrics.saves.labels("ok").inc()
        return True

    async def load(self, key: str, *, max_age_s: float | None = None) -> dict[str, Any] | None:
        """The latest checkpoint for `key`, or None if there is none, it is older than
        `max_age_s`, it is unreadable, or NATS is unreachable."""
        try:
            return await self.read(key, max_age_s=max_age_s)
        except CheckpointUnavailableError:
            return None

    async def read(self, key: str, *, max_age_s: float | None = None) -> dict[str, Any] | None:
        """As `load`, but raises `CheckpointUnavailableError` when NATS cannot be asked."""
        kv = await self._bucket_or_none()
        if kv is None:
            self.metrics.loads.labels("error").inc()
            raise CheckpointUnavailableError(f"checkpoint bucket {self._bucket} unreachable")
        try:
            entry = await kv.get(subject_token(key))
        except (KeyNotFoundError, KeyDeletedError):
            self.metrics.loads.labels("miss").inc()
            return None
        except Exception as exc:
            self.metrics.loads.labels("error").inc()
            log.warning("checkpoint load failed", extra={"key": key, "error": repr(exc)})
            raise CheckpointUnavailableError(f"checkpoint load failed: {exc!r}") from exc
        try:
            body = json.loads(entry.value or b"")
            state = body["state"]
            saved_at = datetime.fromisoformat(body["saved_at"])
            if body["v"] != _FORMAT_VERSION or not isinstance(state, dict):
                raise ValueError(f"unexpected checkpoint format {body.get('v')!r}")
        except (ValueError, KeyError, TypeError) as exc:
            self.metrics.loads.labels("error").inc()
            log.warning("ignoring unreadable checkpoint", extra={"key": key, "error": repr(exc)})
            return None
        if max_age_s is not None and (datetime.now(UTC) - saved_at).total_seconds() > max_age_s:
            self.metrics.loads.labels("stale").inc()
            return None
        self.metrics.loads.labels("hit").inc()
        return state

    async def delete(self, key: str) -> bool:
        """Forget `key`'s checkpoint (e.g. camera removed); False if NATS is unreachable."""
        kv = await self._bucket_or_none()
        if kv is None:
            return False
        try:
            await kv.delete(subject_token(key))
        except Exception as exc:
            log.warning("checkpoint delete failed", extra={"key": key, "error": repr(exc)})
            return False
        return True

    async def _bucket_or_none(self) -> KeyValue | None:
        client = self._conn.client
        if client is None or not self._conn.connected:
            return None
        generation = self._conn.generation
        if self._kv is None or self._kv_generation != generation:
            js = client.jetstream(timeout=self._timeout_s)
            try:
                self._kv = await self._open_bucket(js)
            except Exception as exc:
                log.warning(
                    "checkpoint bucket unavailable",
                    extra={"bucket": self._bucket, "error": repr(exc)},
                )
                self._kv = None
                return None
            self._kv_generation = generation
        return self._kv

    async def _open_bucket(self, js: JetStreamContext) -> KeyValue:
        config = KeyValueConfig(
            bucket=self._bucket,
            description="Latest tracker state per camera.",
            history=1,
            ttl=self._ttl_s,
            max_value_size=self._max_value_bytes,
            storage=StorageType.FILE,
        )
        try:
            # Create-or-bind on every (re)connect: a server that came back empty gets the
            # bucket again; an existing identical bucket is a no-op.
            return await js.create_key_value(config)
        except BadRequestError as exc:
            if exc.err_code != STREAM_NAME_IN_USE:
                raise
        # The bucket exists with other settings (e.g. another TTL): use it as it is rather
        # than lose checkpoints; changing it is an operator decision.
        log.warning(
            "checkpoint bucket exists with a different config", extra={"bucket": self._bucket}
        )
        return await js.key_value(self._bucket)
