"""The `auditLog` query (gateway/api/audit_query.py) over real PostgreSQL: privacy
officers only, one store's entries (its cameras, and the customers its identity service
enrolled, by hash), filters by action and by customer id, and cursor pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.gateway.api.test_customers import ERASE, IdentityResponder, identity_service, upload
from tests.gateway.helpers import STORE, RunningGateway, token

pytestmark = pytest.mark.timeout(120)

__all__ = ["identity_service"]  # the identity responder fixture, shared with test_customers

AUDIT = """query ($from: DateTime!, $to: DateTime!, $action: String, $customer: String,
                  $first: Int!, $after: String, $store: String) {
  auditLog(from: $from, to: $to, action: $action, customerId: $customer, first: $first,
           after: $after, storeId: $store) {
    nodes { id at actor scopes action target reason details }
    pageInfo { endCursor hasNextPage }
  }
}"""
OTHER_STORE = "pune-02"
SOURCE = "rtsp://10.0.0.5/1"


async def register(gateway: RunningGateway, camera_id: str, store: str) -> None:
    await gateway.data(
        "mutation ($c: JSON!, $s: String) { registerCamera(config: $c, storeId: $s) { id } }",
        {
            "c": {"id": camera_id, "name": camera_id, "role": "entrance", "source": SOURCE},
            "s": store,
        },
        scopes=("operator",),
    )


async def audit_log(
    gateway: RunningGateway, bearer: str | None = None, **variables: Any
) -> dict[str, Any]:
    """The auditLog answer (data or errors) for the last hour, a privacy officer's by default."""
    now = datetime.now(UTC)
    values = {"from": (now - timedelta(hours=1)).isoformat(), "to": now.isoformat(), "first": 50}
    return await gateway.graphql(
        AUDIT, {**values, **variables}, bearer=bearer or token("privacy_officer")
    )


async def test_the_audit_trail_of_a_store(
    gateway: RunningGateway, identity_service: IdentityResponder
) -> None:
    for camera_id in ("door-1", "door-2", "till-1"):
        await register(gateway, camera_id, STORE)
    await register(gateway, "door-9", OTHER_STORE)
    await gateway.data(
        'mutation { setCameraEnabled(cameraId: "till-1", enabled: false, reason: "refit") { id } }',
        scopes=("operator",),
    )
    enrolled = await upload(gateway, b"\xff\xd8 a jpeg", "cust-7", ("privacy_officer",))
    assert "errors" not in enrolled, enrolled
    await gateway.data(
        ERASE,
        {"customer": "cust-7", "reason": "asked to be forgotten"},
        scopes=("privacy_officer",),
    )
    enrolled = await upload(gateway, b"\xff\xd8 another", "cust-8", ("privacy_officer",))
    assert "errors" not in enrolled, enrolled

    # Operators and viewers see no audit trail.
    for scopes in (("operator",), ("viewer",)):
        denied = await audit_log(gateway, bearer=token(*scopes))
        assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN", denied
    only_other = await audit_log(gateway, bearer=token("privacy_officer", stores=[OTHER_STORE]))
    assert only_other["errors"][0]["extensions"] == {"code": "FORBIDDEN", "reason": "store"}

    # The store's entries, newest first; the other store's camera is not among them.
    body = await audit_log(gateway)
    assert "errors" not in body, body
    entries = body["data"]["auditLog"]["nodes"]
    assert [(e["action"], e["target"].split("-sha256:")[0]) for e in entries] == [
        ("customer.enroll", "customer"),
        ("customer.erase", "customer"),
        ("customer.enroll", "customer"),
        ("camera.disable", f"camera:{STORE}/till-1"),
        ("camera.register", f"camera:{STORE}/till-1"),
        ("camera.register", f"camera:{STORE}/door-2"),
        ("camera.register", f"camera:{STORE}/door-1"),
    ]
    disabled = entries[3]
    assert (disabled["actor"], disabled["scopes"], disabled["reason"]) == (
        "alice",
        ["operator", "viewer"],  # operator implies viewer
        "refit",
    )
    assert disabled["details"] == {"enabled": False}
    assert "cust-7" not in str(entries) and "cust-8" not in str(entries)
    ats = [datetime.fromisoformat(e["at"]) for e in entries]
    assert ats == sorted(ats, reverse=True)

    # The other store's trail has its camera, and no customer of this gateway's store.
    other = await audit_log(gateway, store=OTHER_STORE)
    assert [(e["action"], e["target"]) for e in other["data"]["auditLog"]["nodes"]] == [
        ("camera.register", f"camera:{OTHER_STORE}/door-9")
    ]

    # Filters: by action prefix, and by a customer's id (their hash).
    customers = await audit_log(gateway, action="customer.")
    assert [e["action"] for e in customers["data"]["auditLog"]["nodes"]] == [
        "customer.enroll",
        "customer.erase",
        "customer.enroll",
    ]
    one = await audit_log(gateway, customer="cust-7")
    trail = one["data"]["auditLog"]["nodes"]
    assert [(e["action"], e["details"]["outcome"]) for e in trail] == [
        ("customer.erase", "ok"),
        ("customer.enroll", "ok"),
    ]
    assert trail[0]["target"] == entries[1]["target"] != entries[0]["target"]
    assert (await audit_log(gateway, customer="cust-unknown"))["data"]["auditLog"]["nodes"] == []

    # Pages of 3: every entry once, in order, then no next page.
    seen: list[str] = []
    after = None
    while True:
        page = (await audit_log(gateway, first=3, after=after))["data"]["auditLog"]
        seen += [e["id"] for e in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [e["id"] for e in entries]
    bad = await audit_log(gateway, after="not-a-cursor")
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
