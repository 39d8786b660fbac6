"""NATS KV buckets that more than one application uses: their names, keys and settings.

- ANALYTICS_CONFIG: each store's analytics configuration (zones, lines, funnels, ...).
  Key: the store id (escaped like a subject token); value: the `StoreAnalyticsConfig`
  JSON, `version` included. The gateway writes a new version on every change; the
  analytics service watches the key and applies each version live. A few versions of
  history help an operator see what changed; the database keeps them all.
- ANALYTICS_STATE: the analytics service's checkpoints (engine state and stream position
  per store and partition). Only that service reads or writes them; the name and key
  live here so that tooling (and its tests) can find them.

- CAMERA_REGISTRY: the cameras each store node runs, the source of truth for them.
  Key: `<store>.<camera>` (both escaped like subject tokens); value: a
  `CameraRegistryEntry` JSON (the CameraConfig, source credentials in clear because the
  node opens the stream with them, a version, and who wrote it). The gateway writes it
  after each camera mutation's commit (gateway/feeds/camera_registry.py); the store node
  watches its own `<store>.>` keys and starts, restarts or stops workers live
  (orchestrator/registry.py). A removed camera is a KV delete marker (never a purge), so
  the node's YAML file, which seeds only keys that never existed, does not bring it back.
  It lives where the node is: in a hub/leaf deployment that is the store's leaf (its
  JetStream domain, like TRACK_IDS), so the node keeps its last known cameras through a
  WAN cut; a gateway at the store writes it through its own `$JS.API`, and a gateway at
  the hub would write it through `$JS.<store>.API` (the store's domain).

- PUSH_FRAME_IDS: push mode's deduplication (gateway/push/dedup.py). Key:
  `<store>.<sha256 of camera and frame_id>`; value: the result id of the first request.
  Claimed with `create`, which is atomic on the server, so of concurrent requests on any
  number of gateway replicas exactly one wins; the TTL is the deduplication window
  (default 5 s, TRINETRA_PUSH__DEDUP_WINDOW_S), and a request that fails deletes its
  claim (only its own revision) so that the frame may be sent again.
- PUSH_JOBS: asynchronous push jobs' status and result (gateway/push/jobs.py). Key:
  `<store>.<job id>`; value: a `JobRecord` JSON, rewritten at each status change (the
  GraphQL subscription watches the key). TTL: TRINETRA_PUSH__JOB_TTL_S (1 h).

`ensure_bucket` is safe on every (re)connect: an identical bucket is a no-op, and one
that exists with other settings is used as it is (changing it is an operator decision).

Object store buckets (`ObjectStoreSpec`, `ensure_object_store`, the same rules):
- IDENTITY_UPLOADS: enrolment photos on their way to the identity service, for those
  too large for one NATS message (trinetra/identity/client.py). Memory storage, so a
  photo never touches the NATS server's disk; each object is deleted once the request
  is answered (by the service after reading it, by the client after the reply or its
  timeout), and the bucket's TTL removes anything a crashed process left behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final, Literal

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, ObjectStoreConfig, StorageType
from nats.js.errors import BadRequestError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore
from pydantic import Field

from trinetra.config.alerts import REVEAL_SECRETS
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.config.camera import CameraConfig
from trinetra.events.schema import subject_token
from trinetra.events.streams import STREAM_NAME_IN_USE
from trinetra.settings import ConfigModel

__all__ = [
    "ANALYTICS_CONFIG_BUCKET",
    "ANALYTICS_STATE_BUCKET",
    "CAMERA_REGISTRY_BUCKET",
    "IDENTITY_UPLOADS_BUCKET",
    "PUSH_FRAME_IDS_BUCKET",
    "PUSH_JOBS_BUCKET",
    "CameraRegistryEntry",
    "KvBucketSpec",
    "ObjectStoreSpec",
    "analytics_config_key",
    "analytics_state_key",
    "camera_registry_key",
    "camera_registry_prefix",
    "decode_analytics_config",
    "encode_analytics_config",
    "encode_camera_entry",
    "ensure_bucket",
    "ensure_object_store",
]

log = logging.getLogger(__name__)

KiB: Final = 1024
MiB: Final = 1024 * KiB


@dataclass(frozen=True)
class KvBucketSpec:
    """One bucket's name and limits (`ttl_s` None: values never expire; `replicas` 3 at
    a hub cluster, trinetra.events.hub)."""

    name: str
    description: str
    history: int
    max_value_bytes: int
    ttl_s: float | None = None
    replicas: int = 1

    def config(self) -> KeyValueConfig:
        return KeyValueConfig(
            bucket=self.name,
            description=self.description,
            history=self.history,
            ttl=self.ttl_s,
            max_value_size=self.max_value_bytes,
            storage=StorageType.FILE,
            replicas=self.replicas,
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


# One camera's configuration (a few KB even with 64 zones); history so a watcher that
# reconnects sees the latest of each key and an operator sees the last few changes.
CAMERA_REGISTRY_BUCKET: Final = KvBucketSpec(
    name="CAMERA_REGISTRY",
    description="The cameras each store node runs (CameraRegistryEntry JSON per camera).",
    history=5,
    max_value_bytes=256 * KiB,
)


# One small value per pushed frame id; the TTL is replaced by the gateway's setting.
PUSH_FRAME_IDS_BUCKET: Final = KvBucketSpec(
    name="PUSH_FRAME_IDS",
    description="Push mode deduplication: the first result id per camera and frame_id.",
    history=1,
    max_value_bytes=256,
    ttl_s=5.0,
)

# A job's record holds its result: at most max_faces faces, no embeddings or crops.
PUSH_JOBS_BUCKET: Final = KvBucketSpec(
    name="PUSH_JOBS",
    description="Asynchronous push jobs: status and result (JobRecord JSON) per job.",
    history=1,
    max_value_bytes=512 * KiB,
    ttl_s=3600.0,
)


RegistryOrigin = Literal["gateway", "seed"]


class CameraRegistryEntry(ConfigModel):
    """A CAMERA_REGISTRY value. `config` is kept as a mapping here and validated by the
    node with its own allowlist (trinetra.config.network), so a bad value is refused by
    the reader that must obey it, naming the field."""

    version: int = Field(ge=0, description="Grows with every change (microseconds).")
    origin: RegistryOrigin = Field(
        description="gateway: registered through the API; seed: from a node's YAML file."
    )
    config: dict[str, Any] = Field(description="The CameraConfig, source in clear.")


@dataclass(frozen=True)
class ObjectStoreSpec:
    """One object store bucket's name and limits."""

    name: str
    description: str
    ttl_s: float
    max_bytes: int
    storage: StorageType = StorageType.FILE

    def config(self) -> ObjectStoreConfig:
        return ObjectStoreConfig(
            bucket=self.name,
            description=self.description,
            ttl=self.ttl_s,
            max_bytes=self.max_bytes,
            storage=self.storage,
        )


# An enrolment photo lives here from its upload until the identity service answered
# (seconds); 5 minutes at most if both ends die mid-request. 128 MiB is 16 photos at the
# gateway's 8 MiB limit in flight at once; a full bucket refuses new uploads (discard
# new), it never evicts one in use.
IDENTITY_UPLOADS_BUCKET: Final = ObjectStoreSpec(
    name="IDENTITY_UPLOADS",
    description="Enrolment photos in transit to the identity service; deleted after use.",
    ttl_s=5 * 60.0,
    max_bytes=128 * MiB,
    storage=StorageType.MEMORY,
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


def camera_registry_prefix(store_id: str) -> str:
    """The CAMERA_REGISTRY key prefix of a store (watch `<prefix>.>`)."""
    return subject_token(store_id)


def camera_registry_key(store_id: str, camera_id: str) -> str:
    """The CAMERA_REGISTRY key of one camera (`<store>.<camera>`)."""
    return f"{subject_token(store_id)}.{subject_token(camera_id)}"


def encode_camera_entry(config: CameraConfig, version: int, origin: RegistryOrigin) -> bytes:
    """The KV value of a camera: its full validated config, the source in clear."""
    entry = CameraRegistryEntry(
        version=version, origin=origin, config=config.model_dump(mode="json")
    )
    return entry.model_dump_json().encode()


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


async def ensure_object_store(js: JetStreamContext, spec: ObjectStoreSpec) -> ObjectStore:
    """Create the object store, or bind to it when it already exists (module docs)."""
    try:
        return await js.create_object_store(spec.name, spec.config())
    except BadRequestError as exc:
        if exc.err_code != STREAM_NAME_IN_USE:
            raise
    log.warning("object store exists with a different configuration", extra={"bucket": spec.name})
    return await js.object_store(spec.name)
