"""The alert_rules and webhooks sections: every rule kind, references to the store's zones
and lines, webhook URLs refused at configuration time (SSRF), write-only secrets."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from pydantic import ValidationError

from tests.analytics.alerts.rules.helpers import config
from trinetra.config import alerts as alert_config
from trinetra.config import analytics as analytics_config
from trinetra.config.alerts import (
    REVEAL_SECRETS,
    SECRET_MASK,
    AlertRuleKind,
    WebhookEndpoint,
)
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.config.network import webhook_policy
from trinetra.events.schema import AlertRaisedEvent, AlertRuleKindName, AlertSeverityName
from trinetra.vocabulary import AlertSeverity

SECRET = "s3cret-s3cret-s3cret"

EVERY_KIND: list[dict[str, Any]] = [
    {"kind": "queue_length", "id": "a", "name": "A", "zone_id": "queue", "min_length": 4},
    {"kind": "queue_wait", "id": "b", "name": "B", "zone_id": "queue", "min_wait_s": 90},
    {"kind": "zone_over_capacity", "id": "c", "name": "C", "zone_id": "floor"},
    {"kind": "loitering", "id": "d", "name": "D", "zone_id": "floor", "min_dwell_s": 300},
    {"kind": "staff_only_presence", "id": "e", "name": "E", "zone_id": "back",
     "allowed_hours": {"start": "22:00", "end": "06:00", "timezone": "Europe/Berlin"}},
    {"kind": "vip_arrival", "id": "f", "name": "F"},
    {"kind": "camera_offline", "id": "g", "name": "G", "offline_for_s": 30},
    {"kind": "footfall_anomaly", "id": "h", "name": "H", "line_id": "door",
     "timezone": "Asia/Kolkata"},
]  # fmt: skip


def webhook(url: str, **extra: Any) -> dict[str, Any]:
    return {"id": "hook", "url": url, "secret": SECRET, **extra}


def store(**sections: Any) -> dict[str, Any]:
    return {**config().model_dump(mode="json"), **sections}


def test_every_rule_kind_validates_and_the_kinds_match_the_event_schema() -> None:
    validated = config(*EVERY_KIND)
    assert [rule.kind for rule in validated.alert_rules] == [k.value for k in AlertRuleKind]
    assert set(get_args(AlertRuleKindName)) == {k.value for k in AlertRuleKind}
    assert set(get_args(AlertSeverityName)) == {s.value for s in AlertSeverity}
    assert get_args(AlertRaisedEvent.model_fields["rule_kind"].annotation) == get_args(
        AlertRuleKindName
    )
    assert alert_config.SLUG_PATTERN == analytics_config.SLUG_PATTERN


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"kind": "queue_length", "zone_id": "nowhere", "min_length": 2},
         r"alert_rules\[0\] \(r\): zone_id 'nowhere' is not a zone of this store"),
        ({"kind": "queue_wait", "zone_id": "floor", "min_wait_s": 2},
         "is a area zone; a queue_wait rule needs a queue zone"),
        ({"kind": "staff_only_presence", "zone_id": "floor"}, "needs a staff_only zone"),
        ({"kind": "zone_over_capacity", "zone_id": "queue"},
         "capacity is not set and zone 'queue' has no capacity"),
        ({"kind": "footfall_anomaly", "line_id": "window"}, "line_id 'window' is not a line"),
        ({"kind": "footfall_anomaly", "line_id": "door", "min_history_weeks": 5},
         r"min_history_weeks \(5\) must be <= baseline_weeks \(4\)"),
        ({"kind": "footfall_anomaly", "line_id": "door", "timezone": "Mars/Olympus"},
         "unknown time zone 'Mars/Olympus'"),
        ({"kind": "loitering", "zone_id": "floor", "min_dwell_s": 0}, "greater than 0"),
        ({"kind": "queue_length", "zone_id": "queue", "min_length": 2, "for_s": 5, "typo": 1},
         "typo"),
        ({"kind": "tailgating"}, "does not match any of the expected tags"),
    ],
)  # fmt: skip
def test_bad_rules_are_refused_with_the_rule_and_field_named(
    rule: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        config({"id": "r", "name": "R", **rule})


def test_rule_and_webhook_ids_are_unique_and_cameras_known() -> None:
    rule = EVERY_KIND[0]
    with pytest.raises(ValidationError, match="duplicate rule ids: a"):
        config(rule, rule)
    with pytest.raises(ValidationError, match="duplicate endpoint ids: hook"):
        StoreAnalyticsConfig.model_validate(
            store(webhooks=[webhook("http://10.0.0.5/"), webhook("http://10.0.0.6/")])
        )
    with pytest.raises(ValidationError, match="camera_ids names unknown camera 'cam-z'"):
        StoreAnalyticsConfig.model_validate(
            store(
                camera_ids=["cam-a", "cam-b"],
                alert_rules=[{"kind": "camera_offline", "id": "g", "name": "G",
                              "camera_ids": ["cam-z"]}],
            )
        )  # fmt: skip


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://169.254.10.1/", "link-local"),
        ("http://[fe80::1]:8080/hook", "link-local"),
        ("http://[fd00:ec2::254]/", r"refused network fd00:ec2::254/128"),
        ("http://100.100.100.200/", r"refused network 100\.100\.100\.200/32"),
        ("http://168.63.129.16/", "refused network"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
        ("http://[64:ff9b::a9fe:a9fe]/", r"embeds 169\.254\.169\.254"),
        ("http://0.0.0.0:9000/", "not a unicast address"),
        ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata service"),
        ("http://Metadata.Google.Internal./", "cloud metadata service"),
        ("ftp://10.0.0.5/", "must be http:// or https://"),
        ("http://user:pw@10.0.0.5/", "must not carry credentials"),
        ("http:///path", "no host"),
        ("http://10.0.0.5:99999/", "invalid port"),
    ],
)
def test_webhook_urls_into_link_local_or_metadata_are_refused_naming_the_field(
    url: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        StoreAnalyticsConfig.model_validate(store(webhooks=[webhook(url)]))
    assert [tuple(e["loc"]) for e in caught.value.errors()] == [("webhooks", 0, "url")]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/alerts",  # on-premise receivers by default
        "http://localhost/alerts",
        "https://10.20.0.5/hooks/trinetra",
        "https://[fd12::5]/alerts",
        "https://hooks.example.com/services/T000/B000",
        "https://203.0.113.7/alerts",
    ],
)
def test_loopback_private_and_public_receivers_are_allowed(url: str) -> None:
    validated = StoreAnalyticsConfig.model_validate(store(webhooks=[webhook(url)]))
    assert validated.webhooks[0].url == url


def test_the_webhook_allowlist_is_configurable_and_never_reaches_metadata() -> None:
    on_premise = {"webhook_policy": webhook_policy(["10.0.0.0/8"])}
    WebhookEndpoint.model_validate(webhook("http://10.1.2.3/"), context=on_premise)
    with pytest.raises(ValidationError, match="outside the webhook allowlist"):
        WebhookEndpoint.model_validate(webhook("http://127.0.0.1/"), context=on_premise)
    everything = {"webhook_policy": webhook_policy(["169.254.0.0/16", "0.0.0.0/0"])}
    WebhookEndpoint.model_validate(webhook("http://169.254.10.1/"), context=everything)
    with pytest.raises(ValidationError, match="refused network"):
        WebhookEndpoint.model_validate(webhook("http://169.254.169.254/"), context=everything)


def test_the_secret_is_write_only() -> None:
    endpoint = WebhookEndpoint.model_validate(webhook("http://10.0.0.5/"))
    assert SECRET not in repr(endpoint) and SECRET not in str(endpoint)
    assert endpoint.model_dump()["secret"] == SECRET_MASK
    assert SECRET not in endpoint.model_dump_json()
    stored = endpoint.model_dump_json(context=REVEAL_SECRETS)
    assert WebhookEndpoint.model_validate_json(stored).secret.get_secret_value() == SECRET
    # A masked dump cannot be saved back by mistake: the mask is not a valid secret.
    with pytest.raises(ValidationError, match="secret"):
        WebhookEndpoint.model_validate_json(endpoint.model_dump_json())
    whole = StoreAnalyticsConfig.model_validate(store(webhooks=[webhook("http://10.0.0.5/")]))
    assert SECRET not in whole.model_dump_json()
    assert SECRET in whole.model_dump_json(context=REVEAL_SECRETS)
    with pytest.raises(ValidationError, match=r"secret\n.*at least 16"):
        WebhookEndpoint.model_validate({**webhook("http://10.0.0.5/"), "secret": "short"})


def test_webhook_filters() -> None:
    endpoint = WebhookEndpoint.model_validate(
        webhook("http://10.0.0.5/", severities=["critical"], rule_kinds=["queue_length"],
                send_resolved=False)
    )  # fmt: skip
    assert endpoint.accepts("queue_length", "critical", resolved=False)
    assert not endpoint.accepts("queue_length", "critical", resolved=True)
    assert not endpoint.accepts("queue_length", "warning", resolved=False)
    assert not endpoint.accepts("loitering", "critical", resolved=False)
    everything = WebhookEndpoint.model_validate(webhook("http://10.0.0.5/"))
    assert everything.accepts("loitering", "info", resolved=True)
    assert not WebhookEndpoint.model_validate(webhook("http://10.0.0.5/", enabled=False)).accepts(
        "loitering", "info", resolved=False
    )
