"""The alerting component's Prometheus metrics, on the registry it is given (the analytics
service's, to be exposed with everything else; a private one when None)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["AlertingMetrics"]


class AlertingMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.inputs = Counter(
            "trinetra_alert_inputs", "Events read by the rule engine.", ["stream"], registry=r
        )
        self.alerts = Counter(
            "trinetra_alerts",
            "Alert events the rule engine emitted.",
            ["rule_kind", "kind"],
            registry=r,
        )
        self.open_alerts = Gauge("trinetra_alerts_open", "Alerts open now.", registry=r)
        self.undecodable = Counter(
            "trinetra_alert_inputs_refused",
            "Messages the event schema refused (skipped).",
            ["stream"],
            registry=r,
        )
        self.checkpoints = Counter(
            "trinetra_alert_checkpoints",
            "Rule engine checkpoints by result (ok, error).",
            ["result"],
            registry=r,
        )
        self.deliveries = Counter(
            "trinetra_webhook_deliveries",
            "Webhook deliveries by final outcome (delivered, dead_letter, filtered).",
            ["endpoint", "outcome"],
            registry=r,
        )
        self.attempts = Counter(
            "trinetra_webhook_attempts",
            "Webhook HTTP attempts by result (2xx, 4xx, 5xx, error, refused).",
            ["endpoint", "result"],
            registry=r,
        )
        self.latency = Histogram(
            "trinetra_webhook_latency_seconds",
            "From an alert's publication to its receiver's 2xx, seconds.",
            ["endpoint"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0),
            registry=r,
        )
