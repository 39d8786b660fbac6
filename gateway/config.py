"""The gateway's settings, from the environment (prefix TRINETRA_, nested with `__`):

    TRINETRA_DATABASE_URL, TRINETRA_NATS_URL, TRINETRA_JWT_SECRET, TRINETRA_STORE_ID,
    TRINETRA_PORT, TRINETRA_TRITON__URL, TRINETRA_INGEST__BATCH_SIZE, ...

Unknown keys inside a section are errors (`TRINETRA_INGEST__BATCH_SZIE` fails at start
instead of silently keeping the default): the sections are trinetra.settings.ConfigModel,
the whole is trinetra.settings.Settings.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from trinetra.inference import TritonSettings
from trinetra.retry import BackoffConfig
from trinetra.settings import ConfigModel, Settings

MiB = 1024 * 1024


class IngestSettings(ConfigModel):
    enabled: bool = Field(True, description="Consume the JetStream streams into the database.")
    streams: tuple[str, ...] = Field(
        ("TRACKS", "DETECTIONS", "CAMERA_STATUS", "IDENTITY", "ALERTS", "ANALYTICS"),
        description="Streams to consume; one missing on the server is waited for.",
    )
    durable_prefix: str = Field(
        "trinetra-gateway",
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Durable consumer name prefix (<prefix>-<stream>); replicas share it.",
    )
    batch_size: int = Field(500, ge=1, le=10_000, description="Messages per fetch and commit.")
    fetch_timeout_s: float = Field(
        1.0, gt=0, le=30, description="Expiry of one pull request to the server."
    )
    batch_window_s: float = Field(
        0.05,
        ge=0,
        le=5,
        description="After the first message of a batch, wait this long for more before "
        "writing (micro-batching when events trickle in).",
    )
    prefetch_batches: int = Field(
        2, ge=1, le=16, description="Decoded batches waiting for the writer (bounded)."
    )
    ack_wait_s: float = Field(
        30.0,
        gt=0,
        description="Server redelivers a message not acked within this; the consumer keeps "
        "held messages alive while the database is down.",
    )
    max_ack_pending: int = Field(
        20_000, ge=1, description="Unacked messages the server lets this consumer hold."
    )
    retry_backoff_s: tuple[float, float] = Field(
        (0.2, 5.0),
        description="Database retry delay: bound of the first and cap of any, seconds "
        "(full jitter, trinetra.retry).",
    )
    stream_wait_s: float = Field(
        2.0, gt=0, description="Poll interval while a stream does not exist yet."
    )

    @field_validator("retry_backoff_s")
    @classmethod
    def _ordered_backoff(cls, value: tuple[float, float]) -> tuple[float, float]:
        # Checked here so a bad pair fails at start, not at the first database outage.
        first, largest = value
        if not 0 < first <= largest:
            raise ValueError("need 0 < first <= largest")
        return value


class LiveSettings(ConfigModel):
    subscriber_queue: int = Field(
        256,
        ge=1,
        le=100_000,
        description="Events buffered per subscription; a client that falls this far "
        "behind is disconnected (close code 4008).",
    )
    max_subscriptions_per_connection: int = Field(
        20, ge=1, le=1000, description="Subscriptions one WebSocket may hold."
    )
    close_grace_s: float = Field(
        10.0,
        gt=0,
        le=300,
        description="How long a dropped client's close frame (4008 and the reason) may "
        "wait behind data it has not read yet before its connection is aborted instead.",
    )


class RetentionSettings(ConfigModel):
    """Retention, applied by the gateway on both dialects (gateway/db/maintenance.py):
    rows deleted on plain PostgreSQL, whole chunks dropped on TimescaleDB, whose chunks of
    personal data span a day, so a row outlives its days by at most one day there."""

    detections_days: int = Field(30, ge=1, description="Per-frame detections.")
    track_events_days: int = Field(90, ge=1, description="Track events and tracks.")
    identity_events_days: int = Field(30, ge=1, description="Identity decisions.")
    camera_status_days: int = Field(30, ge=1, description="Camera status history.")
    rollup_days: int = Field(400, ge=1, description="Per-minute camera rollups.")
    alerts_days: int = Field(365, ge=1, description="Alerts (acknowledged or not).")
    interval_s: float = Field(3600.0, gt=0, description="How often retention runs.")


class LimitSettings(ConfigModel):
    max_upload_bytes: int = Field(
        8 * MiB, ge=1024, description="Largest request body (frames, photos): else 413."
    )
    max_query_depth: int = Field(8, ge=2, le=50, description="Deepest GraphQL selection.")
    max_query_tokens: int = Field(2000, ge=100, description="Largest GraphQL document.")
    max_aliases: int = Field(30, ge=1, description="Aliases per GraphQL document.")
    max_query_cost: int = Field(
        30_000,
        ge=100,
        description="Largest static cost of a GraphQL document (gateway/api/cost.py: each "
        "field 1, times the page size of the lists around it, plus what validating repeated "
        "fields costs): else QUERY_TOO_COSTLY. A full page (500) of detections is ~27,000.",
    )
    max_page_size: int = Field(500, ge=1, le=10_000, description="Largest `first`.")
    max_json_depth: int = Field(
        32,
        ge=4,
        le=500,
        description="Deepest nesting of a GraphQL request's JSON (objects and lists), "
        "variables included: else 400.",
    )
    max_range_days: float = Field(31.0, gt=0, description="Longest time range one query may scan.")


class HealthSettings(ConfigModel):
    """The component report of /health (gateway/health_probes.py): every probe runs in the
    background each `interval_s`, bounded by `timeout_s`; requests read the last results."""

    interval_s: float = Field(5.0, gt=0, le=300, description="Time between two probes of a part.")
    timeout_s: float = Field(
        2.0, gt=0, le=60, description="Longest a probe may take; past it the part is down."
    )
    triton: bool = Field(
        True, description="Probe the gateway's own Triton (`triton`, used by process-frame)."
    )
    identity: bool = Field(
        True,
        description="An identity service serves `store_id`: ask its health subject over NATS.",
    )
    analytics_urls: tuple[str, ...] = Field(
        (),
        description="Base URL of each analytics service partition's operational HTTP server "
        '(its health_port), e.g. ["http://analytics:9110"]; empty: not configured.',
    )
    ingest_lag_degraded: int = Field(
        10_000,
        ge=1,
        description="Messages a stream's ingest consumer may have outstanding (num_pending + "
        "num_ack_pending) before ingest counts as degraded; in flight normally stays under "
        "ingest.batch_size x (ingest.prefetch_batches + 1).",
    )
    analytics_lag_degraded: int = Field(
        10_000,
        ge=1,
        description="Detections an analytics partition's consumer may have undelivered "
        "before the partition counts as degraded.",
    )
    ingest_age_degraded_s: float = Field(
        60.0,
        gt=0,
        description="Age of a stream's oldest event not stored yet above which ingest "
        "counts as degraded.",
    )
    stalled_s: float = Field(
        30.0,
        gt=0,
        description="A consumer (ingest, an analytics partition) with messages waiting and "
        "no delivery for this long has no working reader: down.",
    )


class PushSettings(ConfigModel):
    """Push mode (`POST /api/v1/detections/process-frame`, gateway/push/): deduplication,
    the priority queue in front of Triton, asynchronous jobs and their callbacks."""

    dedup_window_s: float = Field(
        5.0,
        gt=0,
        le=3600,
        description="A frame_id seen again for the same camera within this is a duplicate "
        "(the TTL of the NATS KV bucket PUSH_FRAME_IDS; every replica must agree).",
    )
    max_concurrent: int = Field(
        4, ge=1, le=256, description="Pushed frames in Triton at once (sync and async)."
    )
    max_queued: int = Field(
        64,
        ge=1,
        le=10_000,
        description="Frames waiting for a slot; a full queue refuses a new frame (503 "
        "QUEUE_FULL) unless it outranks the lowest waiting one, which is refused instead.",
    )
    default_timeout_ms: int = Field(
        30_000,
        ge=100,
        le=600_000,
        description="Queue wait plus inference of a sync frame without timeout_ms.",
    )
    callback_secret: SecretStr | None = Field(
        None,
        min_length=32,
        description="HMAC-SHA256 key of async callbacks (X-Trinetra-Signature, 32+ "
        "characters); unset: requests with a callback_url are refused.",
    )
    callback_allowlist: tuple[str, ...] = Field(
        ("0.0.0.0/0", "::/0"),
        description="Networks callback hosts may resolve to; link-local, cloud metadata and "
        "0.0.0.0/8 are refused whatever it says (trinetra.config.network webhook rules).",
    )
    callback_max_attempts: int = Field(
        6, ge=1, le=20, description="Callback attempts before the job's callback is dead-lettered."
    )
    callback_timeout_s: float = Field(5.0, gt=0, le=30, description="One callback attempt.")
    callback_backoff: BackoffConfig = Field(
        default=BackoffConfig(initial_s=0.5, max_s=30.0),
        description="Waits between callback attempts (exponential, full jitter).",
    )
    job_ttl_s: float = Field(
        3600.0, ge=60, description="How long a job's status and result are kept (KV TTL)."
    )
    job_ack_wait_s: float = Field(
        30.0,
        gt=0,
        description="A job its worker neither finished nor reported in progress for this "
        "long (a killed gateway) is handed to another worker.",
    )
    worker: bool = Field(True, description="Run the async job worker in this gateway.")


class GatewaySettings(Settings):
    """The gateway process's settings (module docs)."""

    store_id: str = Field(
        "store-1",
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Default store of queries and camera registration; identity requests "
        "go to this store's identity service.",
    )
    database_url: SecretStr = Field(
        SecretStr("postgresql://postgres@127.0.0.1:5432/trinetra"),
        description="PostgreSQL/TimescaleDB DSN (may hold a password: never logged).",
    )
    db_pool_size: int = Field(10, ge=2, le=200, description="Most database connections.")
    db_statement_timeout_s: float = Field(
        15.0, gt=0, description="Longest database call before it is abandoned."
    )
    migrate_on_start: bool = Field(
        True,
        description="Apply pending migrations at start (advisory-locked, so replicas may "
        "all do it); set false where `python -m gateway.migrate` runs as a deploy step.",
    )
    nats_url: str = Field("nats://127.0.0.1:4222", description="NATS server(s), comma separated.")
    jwt_secret: SecretStr = Field(
        min_length=32, description="HS256 key that signs bearer tokens (32+ characters)."
    )
    jwt_issuer: str | None = Field(None, description="Required `iss` claim, when set.")
    jwt_audience: str | None = Field(None, description="Required `aud` claim, when set.")
    jwt_leeway_s: float = Field(30.0, ge=0, le=300, description="Clock skew allowed on exp.")
    host: str = Field("127.0.0.1", description="Address the HTTP server binds.")
    port: int = Field(8080, ge=0, le=65535, description="Port the HTTP server binds.")
    triton: TritonSettings = Field(
        default_factory=TritonSettings, description="Triton access for process-frame."
    )
    node_urls: dict[str, str] = Field(
        default_factory=dict,
        description="Base URL of each store's store node operational HTTP server (its "
        'TRINETRA_HEALTH_PORT), keyed by store id, e.g. {"blr-01": "http://10.0.0.5:9108"}: '
        "live view offers are forwarded there, and /health reports each one's /health.",
    )
    identity_timeout_s: float = Field(
        30.0, gt=0, description="Deadline of identity service requests (enrol runs models)."
    )
    rollup_refresh_s: float = Field(
        10.0, gt=0, description="Plain PostgreSQL only: how often per-minute rollups refresh."
    )
    ingest: IngestSettings = Field(default_factory=IngestSettings, description="Bus ingest.")
    live: LiveSettings = Field(default_factory=LiveSettings, description="Subscriptions.")
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings, description="Data retention."
    )
    limits: LimitSettings = Field(default_factory=LimitSettings, description="Request limits.")
    push: PushSettings = Field(default_factory=PushSettings, description="Push mode (frames).")
    health: HealthSettings = Field(
        default_factory=HealthSettings, description="What /health reports, how often."
    )
    graphiql: bool = Field(False, description="Serve the GraphiQL IDE at /graphql.")
    log_json: bool = Field(True, description="Structured JSON logs (one object per line).")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Root log level."
    )

    @property
    def nats_servers(self) -> list[str]:
        return [url.strip() for url in self.nats_url.split(",") if url.strip()]
