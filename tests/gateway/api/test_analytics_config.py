"""The analytics configuration through GraphQL: each change one new version with its
audit entry, validated with the contract models (bad input named by field, nothing
stored), published to the NATS KV bucket the analytics service watches, secrets
write-only, optimistic concurrency for whole replacements, and a NATS outage that loses
nothing. Real gateway, PostgreSQL and NATS."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest

from gateway.api.analytics_changes import MAX_DOCUMENT_BYTES
from tests.gateway.analytics_helpers import analytics_gateway, scalar
from tests.gateway.helpers import STORE, RunningGateway
from tests.support.nats_server import NatsServer, NatsServerFactory
from tests.support.polling import eventually
from trinetra.config.alerts import SECRET_MASK
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.events.kv import ANALYTICS_CONFIG_BUCKET, analytics_config_key

pytestmark = pytest.mark.timeout(180)

CONFIG_FIELDS = """version updatedBy zones { id cameraId name kind polygon capacity }
    lines { id cameraId kind points inSide countsStoreEntry }
    funnels { id name stages { name kind zoneIds zoneKind } }
    alertRules { id kind severity settings } webhooks { id url hasSecret } document"""


def zone(zone_id: str = "z1", **changes: Any) -> dict[str, Any]:
    return {
        "id": zone_id,
        "camera_id": "cam-a",
        "name": "Front",
        "kind": "area",
        "polygon": [[0.1, 0.1], [0.6, 0.1], [0.6, 0.7], [0.1, 0.7]],
        **changes,
    }


LINE = {
    "id": "door",
    "camera_id": "cam-a",
    "name": "Door",
    "a": [0.7, 0.18],
    "b": [0.7, 0.82],
    "in_side": "left",
    "counts_store_entry": True,
}
FUNNEL = {
    "id": "f1",
    "name": "in to front",
    "stages": [{"kind": "store_entry"}, {"kind": "zone", "zone_ids": ["z1"]}],
}
RULE = {"id": "crowd", "name": "Crowded front", "kind": "zone_over_capacity", "zone_id": "z1"}
SECRET = "a-shared-secret-of-some-length"
WEBHOOK = {"id": "ops", "url": "http://10.0.0.8:9000/alerts", "secret": SECRET}

PUT = {
    "zone": 'mutation ($v: JSON!) { putZone(zone: $v, reason: "first zone") { %s } }',
    "line": "mutation ($v: JSON!) { putLine(line: $v) { %s } }",
    "funnel": "mutation ($v: JSON!) { putFunnel(funnel: $v) { %s } }",
    "rule": "mutation ($v: JSON!) { putAlertRule(rule: $v) { %s } }",
    "webhook": "mutation ($v: JSON!) { putWebhook(webhook: $v) { %s } }",
}
DELETE = {
    "zone": "mutation ($id: String!) { deleteZone(zoneId: $id) { %s } }",
    "line": "mutation ($id: String!) { deleteLine(lineId: $id) { %s } }",
    "funnel": "mutation ($id: String!) { deleteFunnel(funnelId: $id) { %s } }",
    "rule": "mutation ($id: String!) { deleteAlertRule(ruleId: $id) { %s } }",
    "webhook": "mutation ($id: String!) { deleteWebhook(webhookId: $id) { %s } }",
}


@pytest.fixture
async def gateway(database_url: str, nats_server: NatsServer) -> AsyncIterator[RunningGateway]:
    async with analytics_gateway(database_url, nats_server.url) as running:
        yield running


async def put(gateway: RunningGateway, what: str, value: object) -> dict[str, Any]:
    body = await gateway.graphql(PUT[what] % CONFIG_FIELDS, {"v": value}, scopes=("operator",))
    return body


async def ok_put(gateway: RunningGateway, what: str, value: object) -> dict[str, Any]:
    body = await put(gateway, what, value)
    assert "errors" not in body, body["errors"]
    config: dict[str, Any] = next(iter(body["data"].values()))
    return config


async def kv_config(nats_url: str) -> StoreAnalyticsConfig | None:
    nc = await nats.connect(nats_url)
    try:
        kv = await nc.jetstream().key_value(ANALYTICS_CONFIG_BUCKET.name)
        entry = await kv.get(analytics_config_key(STORE))
        assert entry.value is not None
        return StoreAnalyticsConfig.model_validate_json(entry.value)
    except Exception:
        return None
    finally:
        await nc.close()


async def published_version(nats_url: str, version: int) -> None:
    async def there() -> bool:
        config = await kv_config(nats_url)
        return config is not None and config.version == version

    await eventually(there, 20, message=f"version {version} in NATS KV")


async def versions(gateway: RunningGateway) -> int:
    return int(await scalar(gateway, "SELECT count(*) FROM analytics_config_versions"))


async def audits(gateway: RunningGateway) -> int:
    return int(
        await scalar(gateway, "SELECT count(*) FROM audit_log WHERE action LIKE 'analytics%'")
    )


async def test_every_change_is_a_version_audited_and_published(
    gateway: RunningGateway, nats_server: NatsServer
) -> None:
    empty = await gateway.data("{ analyticsConfig { version zones { id } document } }")
    assert empty["analyticsConfig"] == {
        "version": 0,
        "zones": [],
        "document": {"store_id": STORE, "version": 0},
    }

    first = await ok_put(gateway, "zone", zone())
    assert first["version"] == 1 and first["updatedBy"] == "alice"
    assert first["zones"] == [
        {
            "id": "z1",
            "cameraId": "cam-a",
            "name": "Front",
            "kind": "area",
            "polygon": [[0.1, 0.1], [0.6, 0.1], [0.6, 0.7], [0.1, 0.7]],
            "capacity": None,
        }
    ]
    await published_version(nats_server.url, 1)

    changed = await ok_put(gateway, "zone", zone(capacity=12, name="Front area"))
    assert changed["version"] == 2 and changed["zones"][0]["capacity"] == 12
    line = await ok_put(gateway, "line", LINE)
    assert line["lines"] == [
        {
            "id": "door",
            "cameraId": "cam-a",
            "kind": "store_entry",
            "points": [[0.7, 0.18], [0.7, 0.82]],
            "inSide": "left",
            "countsStoreEntry": True,
        }
    ]
    funnel = await ok_put(gateway, "funnel", FUNNEL)
    assert funnel["funnels"] == [
        {
            "id": "f1",
            "name": "in to front",
            "stages": [
                {"name": "store entry", "kind": "store_entry", "zoneIds": None, "zoneKind": None},
                {"name": "z1", "kind": "zone", "zoneIds": ["z1"], "zoneKind": None},
            ],
        }
    ]
    rule = await ok_put(gateway, "rule", RULE)
    assert [(r["id"], r["kind"], r["severity"]) for r in rule["alertRules"]] == [
        ("crowd", "zone_over_capacity", "warning")
    ]
    hook = await ok_put(gateway, "webhook", WEBHOOK)
    assert hook["version"] == 6
    assert hook["webhooks"] == [
        {"id": "ops", "url": "http://10.0.0.8:9000/alerts", "hasSecret": True}
    ]
    # The secret is write-only: never in the API's answers, its history or its audit...
    assert SECRET not in json.dumps(hook)
    assert hook["document"]["webhooks"][0]["secret"] == SECRET_MASK
    # ...but in KV, where the alert sender signs with it.
    await published_version(nats_server.url, 6)
    stored = await kv_config(nats_server.url)
    assert stored is not None and stored.webhooks[0].secret.get_secret_value() == SECRET
    assert [z.capacity for z in stored.zones] == [12]

    # An update without the secret keeps it.
    kept = await ok_put(
        gateway, "webhook", {**WEBHOOK, "secret": SECRET_MASK, "url": "http://10.0.0.9/a"}
    )
    assert kept["webhooks"][0]["url"] == "http://10.0.0.9/a"
    await published_version(nats_server.url, 7)
    stored = await kv_config(nats_server.url)
    assert stored is not None and stored.webhooks[0].secret.get_secret_value() == SECRET

    history = await gateway.data(
        "{ analyticsConfigHistory(first: 3) { version actor action reason diff } }"
    )
    entries = history["analyticsConfigHistory"]
    assert [e["version"] for e in entries] == [7, 6, 5]
    assert entries[0]["action"] == "analytics_config.put_webhook"
    assert entries[0]["diff"]["webhooks"]["changed"]["ops"]["fields"] == ["url"]
    assert SECRET not in json.dumps(history)
    earliest = await gateway.data(
        "{ analyticsConfigHistory(first: 2, beforeVersion: 3) { version action reason diff } }"
    )
    oldest = earliest["analyticsConfigHistory"][1]
    assert (oldest["version"], oldest["action"], oldest["reason"]) == (
        1,
        "analytics_config.put_zone",
        "first zone",
    )
    assert oldest["diff"]["zones"]["added"]["z1"]["polygon"] == zone()["polygon"]
    assert oldest["diff"]["zones"]["removed"] == [] and oldest["diff"]["zones"]["changed"] == {}
    assert earliest["analyticsConfigHistory"][0]["diff"]["zones"]["changed"]["z1"]["fields"] == [
        "capacity",
        "name",
    ]

    # Deletes, each a version; the audit has one entry per version.
    for what, item_id in (
        ("webhook", "ops"),
        ("rule", "crowd"),
        ("funnel", "f1"),
        ("line", "door"),
        ("zone", "z1"),
    ):
        body = await gateway.graphql(
            DELETE[what] % "version", {"id": item_id}, scopes=("operator",)
        )
        assert "errors" not in body, body
    assert await versions(gateway) == 12 and await audits(gateway) == 12
    final = await gateway.data("{ analyticsConfig { version zones { id } lines { id } } }")
    assert final["analyticsConfig"] == {"version": 12, "zones": [], "lines": []}
    await published_version(nats_server.url, 12)
    audit = await gateway.gateway.db.pool.fetchrow(
        "SELECT actor, target, reason, details FROM audit_log WHERE details->>'version' = '1'"
    )
    assert audit is not None and audit["actor"] == "alice" and audit["reason"] == "first zone"
    assert audit["target"] == f"analytics-config:{STORE}"


CIRCLE_70 = [
    [0.5 + 0.4 * math.cos(i / 70 * 2 * math.pi), 0.5 + 0.4 * math.sin(i / 70 * 2 * math.pi)]
    for i in range(70)
]
POLYGON_ERRORS = [
    ("self-intersecting", [[0.1, 0.1], [0.6, 0.6], [0.6, 0.1], [0.1, 0.6]], "self-intersecting"),
    ("out of frame", [[0.1, 0.1], [1.2, 0.1], [0.6, 0.7]], "outside the frame"),
    ("too many vertices", CIRCLE_70, "at most 64 vertices"),
]


async def test_bad_input_is_refused_by_field_and_nothing_is_stored(
    gateway: RunningGateway, nats_server: NatsServer
) -> None:
    await ok_put(gateway, "zone", zone())
    before_versions, before_audits = await versions(gateway), await audits(gateway)

    async def refused(what: str, value: object, field: str, words: str) -> None:
        body = await put(gateway, what, value)
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert error["extensions"]["field"] == field, error
        assert words in error["message"], error
        assert await versions(gateway) == before_versions
        assert await audits(gateway) == before_audits

    for _, polygon, words in POLYGON_ERRORS:
        await refused("zone", zone("z2", polygon=polygon), "zone.polygon", words)
    await refused("zone", zone("z2", kind="moat"), "zone.kind", "")
    await refused(
        "funnel",
        {**FUNNEL, "stages": [{"kind": "store_entry"}, {"kind": "zone", "zone_ids": ["ghost"]}]},
        "funnel",
        "unknown zone ghost",
    )
    for url in ("http://169.254.169.254/latest", "http://[fe80::1]/hook", "http://169.254.10.1/"):
        await refused("webhook", {**WEBHOOK, "url": url}, "webhook.url", "")
    await refused("webhook", {"id": "new", "url": "http://10.0.0.8/"}, "webhook.secret", "")
    await refused("zone", [1, 2], "zone", "JSON object")
    await refused("zone", {"camera_id": "cam-a"}, "zone.id", "needs an id")
    huge = zone("z3", name="x" * (MAX_DOCUMENT_BYTES + 1))
    await refused("zone", huge, "zone", "bytes of JSON")

    missing = await gateway.graphql(
        DELETE["line"] % "version", {"id": "nope"}, scopes=("operator",)
    )
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    forbidden = await gateway.graphql(
        PUT["zone"] % "version", {"v": zone("z9")}, scopes=("viewer",)
    )
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await versions(gateway) == before_versions


async def test_replacing_the_whole_configuration_is_optimistic(gateway: RunningGateway) -> None:
    replace = (
        "mutation ($c: JSON!, $v: Int!) { replaceAnalyticsConfig(config: $c, expectedVersion: $v)"
        " { version zones { id } webhooks { id hasSecret } document } }"
    )
    first = await gateway.data(
        replace, {"c": {"zones": [zone()], "webhooks": [WEBHOOK]}, "v": 0}, scopes=("operator",)
    )
    document = first["replaceAnalyticsConfig"]["document"]
    assert first["replaceAnalyticsConfig"]["version"] == 1
    # Edit what the API showed (masked secret included) and send it back.
    document["zones"].append(zone("z2"))
    second = await gateway.data(replace, {"c": document, "v": 1}, scopes=("operator",))
    assert [z["id"] for z in second["replaceAnalyticsConfig"]["zones"]] == ["z1", "z2"]
    assert second["replaceAnalyticsConfig"]["webhooks"] == [{"id": "ops", "hasSecret": True}]
    stored = await scalar(
        gateway,
        "SELECT config->'webhooks'->0->>'secret' FROM analytics_config_versions WHERE version = 2",
    )
    assert stored == SECRET
    stale = await gateway.graphql(replace, {"c": document, "v": 1}, scopes=("operator",))
    assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert stale["errors"][0]["extensions"]["version"] == 2
    assert await versions(gateway) == 2


async def test_a_change_made_while_nats_is_down_is_published_when_it_is_back(
    database_url: str, nats_server_factory: NatsServerFactory
) -> None:
    server = nats_server_factory()
    async with analytics_gateway(database_url, server.url) as running:
        await ok_put(running, "zone", zone())
        await published_version(server.url, 1)
        server.stop()
        # Stored and answered all the same: the stored version wins...
        changed = await ok_put(running, "zone", zone(capacity=3))
        assert changed["version"] == 2
        server.start()
        # ...and reaches KV once NATS is back, without another change.
        await published_version(server.url, 2)
        published = await scalar(
            running, "SELECT version FROM analytics_config_published WHERE store_id = $1", STORE
        )
        assert published == 2


async def test_a_configuration_seeded_in_kv_is_imported(
    database_url: str, nats_server: NatsServer
) -> None:
    """The analytics service seeds KV from its YAML file when the key is empty: the
    gateway adopts that as the first stored version instead of hiding it."""
    seeded = StoreAnalyticsConfig.model_validate(
        {"store_id": STORE, "version": 4, "zones": [zone()]}
    )
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    kv = await js.create_key_value(ANALYTICS_CONFIG_BUCKET.config())
    await kv.put(analytics_config_key(STORE), seeded.model_dump_json().encode())
    await nc.close()
    async with analytics_gateway(database_url, nats_server.url) as running:

        async def imported() -> bool:
            body = await running.graphql("{ analyticsConfig { version zones { id } } }")
            return bool(
                body.get("data", {}).get("analyticsConfig")
                == {
                    "version": 4,
                    "zones": [{"id": "z1"}],
                }
            )

        await eventually(imported, 20, message="the seeded configuration imported")
        nxt = await ok_put(running, "line", LINE)
        assert nxt["version"] == 5
