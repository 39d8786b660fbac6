"""NATS KV buckets that more than one application uses: their names, keys and settings.

- ANALYTICS_CONFIG: each store's analytics configuration (zones, lines, funnels, ...).
  Key: the store id (escaped like a subject token); value: the `StoreAnalyticsConfig`
  JSON, `version` included. The gateway writes a new version on every change; the
  analytics service watches the key and applies each version live. A few versions of
  history help an operator see what changed; the database keeps them all.
- ANALYTICS_STATE: the analytics service's checkpoints (engine state and stream position
  per store and partition). Only that service reads or writes them; the name and key
  live here so that tooling (and its tests) can find them.

`ensure_bucket` is safe on every (re)connect: an identical bucket is a no-op, and one
that exists with other settings is used as it is (changing it is an operator decision).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BadRequestError
from nats.js.kv import KeyValue

from trinetra.config.alerts import REVEAL_SECRETS
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.events.schema import subject_token
from trinetra.events.streams import STREAM_NAME_IN_USE

__all__ = [
    "ANALYTICS_CONFIG_BUCKET",
    "ANALYTICS_STATE_BUCKET",
    "KvBucketSpec",
    "analytics_config_key",
    "analytics_state_key",
    "decode_analytics_config",
    "encode_analytics_config",
    "ensure_bucket",
]

log = logging.getLogger(__name__)

KiB: Final = 1024
MiB: Final = 1024 * KiB


@dataclass(frozen=True)
class KvBucketSpec:
    """One bucket's name and limits (`ttl_s` None: values never expire)."""

    name: str
    description: str
    history: int
    max_value_bytes: int
    ttl_s: float | None = None

    def config(self) -> KeyValueConfig:
        return KeyValueConfig(
            bucket=self.name,
            description=self.description,
            history=self.history,
            ttl=self.ttl_s,
            max_value_size=self.max_value_bytes,
            storage=StorageType.FILE,
        )


# A configuration at its size limits (256 zones of 64 vertices) is ~350 KB of JSON.
ANALYTICS_CONFIG_BUCKET: Final = KvBucketSpec(
    name="ANALYTICS_CONFIG",
    description="Analytics configuration per store (StoreAnalyticsConfig JSON).",
    history=16,
    max_value_bytes=1 * MiB,
)

# Checkpoints larger than one message are split into chunks by their writer; a value is
# at most NATS' default max_payload (1 MiB).
ANALYTICS_STATE_BUCKET: Final = KvBucketSpec(
    name="ANALYTICS_STATE",
    description="Analytics service checkpoints: engine state and stream position.",
    history=1,
    max_value_bytes=1 * MiB,
)


def analytics_config_key(store_id: str) -> str:
    """The ANALYTICS_CONFIG key of a store."""
    return subject_token(store_id)


def analytics_state_key(store_id: str, partition: int, partitions: int) -> str:
    """The ANALYTICS_STATE key of one partition (`<store>.p<i>-of-<n>`): the partition
    count is part of the key, because a checkpoint covers the cameras of one split."""
    if not 0 <= partition < partitions:
        raise ValueError(f"partition {partition} is not in 0..{partitions - 1}")
    return f"{subject_token(store_id)}.p{partition}-of-{partitions}"


def encode_analytics_config(config: StoreAnalyticsConfig) -> bytes:
    """The KV value of a configuration. The bucket is a configuration store, so webhook
    secrets are written in clear (every other dump masks them, and a masked secret does
    not validate back)."""
    return config.model_dump_json(context=dict(REVEAL_SECRETS)).encode()


def decode_analytics_config(value: bytes) -> StoreAnalyticsConfig:
    """A configuration from its KV value; raises pydantic's ValidationError (every bad
    field named) for anything that is not a valid configuration."""
    return StoreAnalyticsConfig.model_validate_json(value)


async def ensure_bucket(js: JetStreamContext, spec: KvBucketSpec) -> KeyValue:
    """Create the bucket, or bind to it when it already exists (module docs)."""
    try:
        return await js.create_key_value(spec.config())
    except BadRequestError as exc:
        if exc.err_code != STREAM_NAME_IN_USE:
            raise
    log.warning("KV bucket exists with a different configuration", extra={"bucket": spec.name})
    return await js.key_value(spec.name)
