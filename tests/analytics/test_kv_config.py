"""The store configuration's KV value (trinetra.events.kv): what the gateway writes is
what the analytics service reads, webhook secrets included."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from tests.analytics.scenarios import STORE, store_config
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.events.kv import (
    analytics_config_key,
    analytics_state_key,
    decode_analytics_config,
    encode_analytics_config,
)


def test_the_kv_value_round_trips_with_its_secrets() -> None:
    secret = "k" * 40
    config = StoreAnalyticsConfig.model_validate(
        store_config(["cam-a"]).model_dump(mode="json")
        | {"webhooks": [{"id": "ops", "url": "https://hooks.example.com/a", "secret": secret}]}
    )
    value = encode_analytics_config(config)
    assert secret.encode() in value
    decoded = decode_analytics_config(value)
    assert decoded == config
    assert decoded.webhooks[0].secret.get_secret_value() == secret


def test_an_invalid_value_names_the_field() -> None:
    body = store_config(["cam-a"]).model_dump(mode="json")
    body["zones"][0]["polygon"] = [[0.1, 0.1], [0.5, 0.5], [0.5, 0.1], [0.1, 0.5]]
    with pytest.raises(ValidationError, match="self-intersecting"):
        decode_analytics_config(json.dumps(body).encode())


def test_keys() -> None:
    assert analytics_config_key(STORE) == "store-1"
    assert analytics_config_key("blr.01") == "blr=2E01"  # one KV token, no dots
    assert analytics_state_key(STORE, 1, 4) == "store-1.p1-of-4"
    with pytest.raises(ValueError):
        analytics_state_key(STORE, 4, 4)
