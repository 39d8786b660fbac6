"""The gateway's Prometheus metrics, on its own registry (served at /metrics)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Where FastAPI keeps the route it selected inside an included router (its own key in the
# ASGI scope), and what the label says for a request no route matched.
_FASTAPI_SCOPE_KEY = "fastapi"
_SELECTED_ROUTE_KEY = "effective_route_context"
UNMATCHED_ROUTE = "other"


def route_label(scope: Mapping[str, Any]) -> str:
    """The matched route's full path template, e.g. `/api/v1/live/{camera}/offer` (a
    bounded label value, unlike the path), or `other` when no route matched.

    A route of a router included with a prefix knows only its own part of the path
    (`""` for the GraphQL router mounted at `/graphql`); FastAPI records the prefixed
    template in the route context it selected, so that one is taken first.
    """
    fastapi_scope = scope.get(_FASTAPI_SCOPE_KEY)
    selected = (
        fastapi_scope.get(_SELECTED_ROUTE_KEY) if isinstance(fastapi_scope, Mapping) else None
    )
    for candidate in (getattr(selected, "path_format", None), _route_path(scope)):
        if isinstance(candidate, str) and candidate:
            return candidate
    return UNMATCHED_ROUTE


def _route_path(scope: Mapping[str, Any]) -> object:
    return getattr(scope.get("route"), "path", None)


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        # ingest
        self.ingest_fetched = Counter(
            "trinetra_gateway_ingest_fetched",
            "Messages fetched from JetStream.",
            ["stream"],
            registry=r,
        )
        self.ingest_stored = Counter(
            "trinetra_gateway_ingest_stored",
            "Events newly stored in the database.",
            ["stream"],
            registry=r,
        )
        self.ingest_duplicates = Counter(
            "trinetra_gateway_ingest_duplicates",
            "Redelivered events already stored (not stored again).",
            ["stream"],
            registry=r,
        )
        self.ingest_rejected = Counter(
            "trinetra_gateway_ingest_rejected",
            "Messages refused by the event schema or the database (kept in rejected_events).",
            ["stream"],
            registry=r,
        )
        self.ingest_write_errors = Counter(
            "trinetra_gateway_ingest_write_errors",
            "Failed batch writes, retried: transient (database away) or other.",
            ["stream", "kind"],
            registry=r,
        )
        self.ingest_ack_errors = Counter(
            "trinetra_gateway_ingest_ack_errors",
            "Batches whose acks could not be sent (they are redelivered and deduplicated).",
            ["stream"],
            registry=r,
        )
        self.ingest_paused = Gauge(
            "trinetra_gateway_ingest_paused",
            "1 while a stream's consumption waits for the database.",
            ["stream"],
            registry=r,
        )
        self.ingest_lag_seconds = Gauge(
            "trinetra_gateway_ingest_lag_seconds",
            "Now minus published_at of the newest event of the last stored batch.",
            ["stream"],
            registry=r,
        )
        self.ingest_outstanding = Gauge(
            "trinetra_gateway_ingest_outstanding",
            "Messages of a stream its ingest consumer has not stored yet (pending + unacked; "
            "JetStream consumer info, read by the health probe).",
            ["stream"],
            registry=r,
        )
        self.ingest_oldest_unstored_seconds = Gauge(
            "trinetra_gateway_ingest_oldest_unstored_seconds",
            "Age of a stream's oldest message not stored yet (0: none; health probe).",
            ["stream"],
            registry=r,
        )
        self.ingest_batch_seconds = Histogram(
            "trinetra_gateway_ingest_batch_seconds",
            "Time to store one batch (one transaction).",
            ["stream"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        # live subscriptions
        self.live_subscribers = Gauge(
            "trinetra_gateway_live_subscribers",
            "Open GraphQL subscriptions.",
            ["topic"],
            registry=r,
        )
        self.live_delivered = Counter(
            "trinetra_gateway_live_delivered",
            "Events queued to subscribers.",
            ["topic"],
            registry=r,
        )
        self.live_dropped_clients = Counter(
            "trinetra_gateway_live_dropped_clients",
            "Subscribers disconnected for falling behind (their queue overflowed).",
            ["topic"],
            registry=r,
        )
        self.live_bad_messages = Counter(
            "trinetra_gateway_live_bad_messages",
            "Bus messages the schema refused (not forwarded).",
            ["topic"],
            registry=r,
        )
        # API
        self.requests = Counter(
            "trinetra_gateway_http_requests",
            "HTTP requests by route template (`other` when none matched) and status class.",
            ["route", "status"],
            registry=r,
        )
        self.graphql_errors = Counter(
            "trinetra_gateway_graphql_errors",
            "GraphQL errors by code (UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT, ...).",
            ["code"],
            registry=r,
        )
        self.auth_failures = Counter(
            "trinetra_gateway_auth_failures",
            "Requests refused for a missing, invalid or expired token, or a missing scope.",
            ["reason"],
            registry=r,
        )
        self.frames_processed = Counter(
            "trinetra_gateway_frames_processed",
            "process-frame requests by outcome (success, duplicate, accepted, or the "
            "error code in lower case).",
            ["outcome"],
            registry=r,
        )
        # push mode (gateway/push/)
        self.push_queue_seconds = Histogram(
            "trinetra_gateway_push_queue_seconds",
            "Time a pushed frame waited for a Triton slot, by priority.",
            ["priority"],
            buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.push_jobs = Counter(
            "trinetra_gateway_push_jobs",
            "Async push jobs finished by this gateway's worker, by outcome (completed, failed).",
            ["outcome"],
            registry=r,
        )
        self.push_callbacks = Counter(
            "trinetra_gateway_push_callbacks",
            "Async job callbacks by outcome (delivered, dead_letter) and attempts by "
            "result (attempt_2xx, attempt_5xx, attempt_error, attempt_refused, ...).",
            ["outcome"],
            registry=r,
        )
        self.rollup_refresh_seconds = Histogram(
            "trinetra_gateway_rollup_refresh_seconds",
            "Plain PostgreSQL: time to refresh the per-minute rollups.",
            registry=r,
        )
        # system health (gateway/health_probes.py)
        self.component_up = Gauge(
            "trinetra_gateway_component_up",
            "1 while a part of the system (triton, node:<store>, identity, analytics:<i>/<n>, "
            "ingest) is ok or degraded, 0 while it is down; absent while unknown.",
            ["component"],
            registry=r,
        )
        self.retention_deleted = Counter(
            "trinetra_gateway_retention_deleted",
            "Rows deleted by retention, by table.",
            ["table"],
            registry=r,
        )
