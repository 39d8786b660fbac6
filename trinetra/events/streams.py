"""JetStream streams that hold TRINETRA events, and their retention limits.

Each stream owns one subject family (see `schema`), keeps its data in the file store, and
discards the *oldest* messages when a limit is hit: for live analytics a fresh event is
worth more than an old one, and producers must never block on a full stream.
`duplicate_window` is the span within which a repeated `Nats-Msg-Id` (our `event_id`) is
dropped by the server; it must cover the publisher's longest retry, so it is minutes.

IDENTITY (`trinetra.*.*.identity`) and ALERTS (`trinetra.*.*.alerts`, per camera like every
other family, since every event names its camera) are defined below but are not in
`DEFAULT_STREAMS`: the identity service publishes them and ensures `IDENTITY_STREAMS`
itself (`EventPublisher(streams=IDENTITY_STREAMS)`); the analytics service's alert rules
publish to ALERTS too, with the same spec. `ALL_STREAMS` is every event stream, for deployment
tooling.

PUSH_JOBS and PUSH_DEADLETTER (`trinetra.<store>.push_*`) are the gateway's push mode's
work queue and its failed callbacks (PUSH_STREAMS, ensured by the gateway; not events, so
not in ALL_STREAMS, like ALERTS_DEADLETTER).

ANALYTICS (`trinetra.*.*.analytics`, `_store` as the camera token for store-level events)
is likewise published by one application only, the analytics service, which ensures
`ANALYTICS_STREAMS` itself; consumers (the gateway's ingest) bind to it by name.

Past one machine (`trinetra.events.hub`): a store's streams live in its leaf node's own
JetStream domain, and the hub cluster's streams of the same names are replicated (R3) and
`source` each store's through `$JS.<domain>.API` (`StreamSourceSpec`). The hub's streams
are marked `HUB_MANAGED` in their metadata: `ensure_stream` from an application (whose
spec is the plain, single-server one) leaves such a stream as it is, so an analytics or
gateway process at the hub never strips its sources or replicas.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    ExternalStream,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamInfo,
    StreamSource,
)
from nats.js.errors import BadRequestError

from trinetra.events.schema import (
    ALERTS_SUBJECTS,
    ANALYTICS_SUBJECTS,
    DETECTIONS_SUBJECTS,
    IDENTITY_SUBJECTS,
    STATUS_SUBJECTS,
    TRACKS_SUBJECTS,
)

log = logging.getLogger(__name__)

MINUTE: Final = 60.0
HOUR: Final = 60 * MINUTE
DAY: Final = 24 * HOUR
MiB: Final = 1024 * 1024
GiB: Final = 1024 * MiB

# Server error code for "stream name already in use with a different configuration".
STREAM_NAME_IN_USE: Final = 10058

# Stream metadata naming the tool that owns a stream's configuration (module docs).
MANAGED_BY_KEY: Final = "trinetra_managed_by"
HUB_MANAGED: Final = "hub"


@dataclass(frozen=True)
class StreamSourceSpec:
    """A stream this one copies from: `name` in JetStream domain `domain` (None: the
    same domain). Order is kept per source; Nats-Msg-Id duplicates within the target's
    duplicate window are dropped."""

    name: str
    domain: str | None = None

    def config(self) -> StreamSource:
        external = (
            None
            if self.domain is None
            else ExternalStream(api=f"$JS.{self.domain}.API", deliver="")
        )
        return StreamSource(name=self.name, external=external)


@dataclass(frozen=True)
class StreamSpec:
    """One stream's name, subjects and limits (seconds and bytes; -1 = unlimited)."""

    name: str
    subjects: tuple[str, ...]
    description: str
    max_age_s: float
    max_bytes: int
    max_msg_size: int
    duplicate_window_s: float = 2 * MINUTE
    max_msgs_per_subject: int = -1
    allow_direct: bool = False
    num_replicas: int = 1
    metadata: Mapping[str, str] = field(default_factory=dict)
    # Streams copied into this one (a hub stream's stores); () for a plain stream.
    sources: tuple[StreamSourceSpec, ...] = ()
    # Event streams keep by limits and drop the oldest; a work queue (PUSH_JOBS) keeps a
    # message until it is acked and refuses new ones when full.
    retention: RetentionPolicy = RetentionPolicy.LIMITS
    discard: DiscardPolicy = DiscardPolicy.OLD

    def config(self) -> StreamConfig:
        return StreamConfig(
            name=self.name,
            description=self.description,
            # A sourced-only stream has no subjects of its own (None: not sent).
            subjects=list(self.subjects) or None,
            sources=[source.config() for source in self.sources] or None,
            storage=StorageType.FILE,
            retention=self.retention,
            discard=self.discard,
            max_age=self.max_age_s,
            max_bytes=self.max_bytes,
            max_msg_size=self.max_msg_size,
            max_msgs=-1,
            max_msgs_per_subject=self.max_msgs_per_subject,
            duplicate_window=self.duplicate_window_s,
            allow_direct=self.allow_direct,
            num_replicas=self.num_replicas,
            metadata=dict(self.metadata) or None,
        )

    def replace(self, **changes: object) -> StreamSpec:
        """A copy with some limits changed (e.g. smaller `max_bytes` for a small disk)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


# Sizing: 8 cameras x 15 fps x ~1 KB per detections event is ~10 GB/day, so the per-frame
# stream keeps one day (the replay window for a crashed consumer), bounded by bytes first.
DETECTIONS_STREAM: Final = StreamSpec(
    name="DETECTIONS",
    subjects=(DETECTIONS_SUBJECTS,),
    description="Per-frame person detections, one subject per camera.",
    max_age_s=1 * DAY,
    max_bytes=8 * GiB,
    max_msg_size=1 * MiB,
)

# Track lifecycle is ~1000x smaller than detections and feeds journeys, so it is kept for
# a week to allow re-building journeys after an analytics outage.
TRACKS_STREAM: Final = StreamSpec(
    name="TRACKS",
    subjects=(TRACKS_SUBJECTS,),
    description="Track started/updated/ended events, one subject per camera.",
    max_age_s=7 * DAY,
    max_bytes=2 * GiB,
    max_msg_size=256 * 1024,
)

# A camera's status history: capped per camera so a flapping camera cannot evict the
# others; direct get lets the gateway read each camera's latest status cheaply.
CAMERA_STATUS_STREAM: Final = StreamSpec(
    name="CAMERA_STATUS",
    subjects=(STATUS_SUBJECTS,),
    description="Camera connection state changes, one subject per camera.",
    max_age_s=30 * DAY,
    max_bytes=256 * MiB,
    max_msg_size=64 * 1024,
    max_msgs_per_subject=10_000,
    allow_direct=True,
)

DEFAULT_STREAMS: Final = (DETECTIONS_STREAM, TRACKS_STREAM, CAMERA_STATUS_STREAM)

# Identity decisions are a few per visit, but they are what journeys and VIP alerts are
# built on, and an audit of "why was this track called X" needs them: kept 30 days.
IDENTITY_STREAM: Final = StreamSpec(
    name="IDENTITY",
    subjects=(IDENTITY_SUBJECTS,),
    description="Identity resolved/unknown/withdrawn per track, one subject per camera.",
    max_age_s=30 * DAY,
    max_bytes=1 * GiB,
    max_msg_size=64 * 1024,
)

# Alerts are rare and each may need follow-up (a false merge is a P0): kept 90 days,
# capped per camera so one noisy camera cannot evict the others' alerts.
ALERTS_STREAM: Final = StreamSpec(
    name="ALERTS",
    subjects=(ALERTS_SUBJECTS,),
    description="Alerts (false merges, identity drift, analytics rules), one subject per camera.",
    max_age_s=90 * DAY,
    max_bytes=256 * MiB,
    max_msg_size=64 * 1024,
    max_msgs_per_subject=100_000,
)

IDENTITY_STREAMS: Final = (IDENTITY_STREAM, ALERTS_STREAM)

# Analytics events are small except heatmap grids (~25 KB per camera-minute, most of the
# bytes: 64 cameras are ~2.3 GB/day), and the database is their long-term home, so a week
# covers an ingest outage. The duplicate window covers a restarted analytics service
# re-emitting what it published after its last checkpoint (seconds to minutes later);
# a replay later than that is deduplicated by event id in the database.
ANALYTICS_STREAM: Final = StreamSpec(
    name="ANALYTICS",
    subjects=(ANALYTICS_SUBJECTS,),
    description="Zone, line, queue, heatmap and visit analytics, one subject per camera.",
    max_age_s=7 * DAY,
    max_bytes=8 * GiB,
    max_msg_size=1 * MiB,
    duplicate_window_s=15 * MINUTE,
)

ANALYTICS_STREAMS: Final = (ANALYTICS_STREAM,)

# Push mode's asynchronous jobs (gateway/push/jobs.py), on `trinetra.<store>.push_jobs`
# (three tokens: no event stream's `trinetra.*.*.<family>` captures them): one message
# per job, the frame as its data, removed once the gateway's worker acked it (result
# stored, callback delivered or dead-lettered). Kept at most an hour, the life of a
# job's status; a full queue refuses new jobs rather than dropping queued ones.
PUSH_JOBS_FAMILY: Final = "push_jobs"
PUSH_JOBS_STREAM: Final = StreamSpec(
    name="PUSH_JOBS",
    subjects=(f"trinetra.*.{PUSH_JOBS_FAMILY}",),
    description="Asynchronous push-mode frames waiting for the gateway's worker.",
    max_age_s=1 * HOUR,
    max_bytes=2 * GiB,
    max_msg_size=1 * MiB,
    retention=RetentionPolicy.WORK_QUEUE,
    discard=DiscardPolicy.NEW,
)

# Job callbacks no receiver accepted (`trinetra.<store>.push_deadletter`), for an
# operator: rare by design, kept a month like ALERTS_DEADLETTER.
PUSH_DEADLETTER_FAMILY: Final = "push_deadletter"
PUSH_DEADLETTER_STREAM: Final = StreamSpec(
    name="PUSH_DEADLETTER",
    subjects=(f"trinetra.*.{PUSH_DEADLETTER_FAMILY}",),
    description="Push-mode job callbacks that failed for good, one subject per store.",
    max_age_s=30 * DAY,
    max_bytes=256 * MiB,
    max_msg_size=1 * MiB,
)

PUSH_STREAMS: Final = (PUSH_JOBS_STREAM, PUSH_DEADLETTER_STREAM)
ALL_STREAMS: Final = (*DEFAULT_STREAMS, *IDENTITY_STREAMS, *ANALYTICS_STREAMS)


async def ensure_stream(js: JetStreamContext, spec: StreamSpec) -> StreamInfo:
    """Create the stream, or update it in place when its configuration differs.

    Adding a stream whose identical configuration already exists is a no-op on the
    server, so this is safe to call on every (re)connect. A hub-managed stream is left
    as it is unless `spec` is hub-managed too (module docs).
    """
    config = spec.config()
    try:
        return await js.add_stream(config)
    except BadRequestError as exc:
        if exc.err_code != STREAM_NAME_IN_USE:
            raise
    if spec.metadata.get(MANAGED_BY_KEY) != HUB_MANAGED:
        info = await js.stream_info(spec.name)
        if (info.config.metadata or {}).get(MANAGED_BY_KEY) == HUB_MANAGED:
            log.debug("stream is managed by the hub; kept", extra={"stream": spec.name})
            return info
    log.info("updating stream to the current configuration", extra={"stream": spec.name})
    return await js.update_stream(config)


async def ensure_streams(
    js: JetStreamContext, specs: Iterable[StreamSpec] = DEFAULT_STREAMS
) -> list[StreamInfo]:
    """Create-or-update every stream in `specs`; raises on the first failure."""
    return [await ensure_stream(js, spec) for spec in specs]
