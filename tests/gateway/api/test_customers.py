"""Enrolment and erasure mutations over NATS request/reply to the identity service.

The service end is a responder speaking the identity service's own protocol
(trinetra/identity/protocol.py) on real NATS: what is under test is the gateway's
side (scopes, upload, audit, error mapping, the database redaction)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from gateway.db.writes import customer_hash
from tests.gateway.helpers import (
    STORE,
    T0,
    RunningGateway,
    false_merge,
    identity_events,
    token,
)
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually
from trinetra.events.publisher import EventPublisher
from trinetra.identity.protocol import (
    EnrollRequest,
    EnrollResult,
    EraseRequest,
    EraseResult,
    error_reply,
    ok_reply,
    service_subject,
)

pytestmark = pytest.mark.timeout(120)

ENROLL = """mutation($customer: String!, $photo: Upload!, $reason: String!) {
  enrollCustomer(customerId: $customer, photo: $photo, reason: $reason, vip: true) {
    customerId slot embeddings
  }
}"""
ERASE = """mutation($customer: String!, $reason: String!) {
  eraseCustomer(customerId: $customer, reason: $reason) {
    customerId embeddingsRemoved identityEventsRedacted alertsRedacted
  }
}"""


class IdentityResponder:
    """Answers enroll/erase like the identity service would, recording requests."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.client: NATS | None = None

    async def start(self, url: str) -> None:
        self.client = await nats.connect(url)
        await self.client.subscribe(service_subject(STORE, "enroll"), cb=self._enroll)
        await self.client.subscribe(service_subject(STORE, "erase"), cb=self._erase)
        await self.client.flush()

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def _enroll(self, msg: Msg) -> None:
        request = EnrollRequest.model_validate_json(msg.data)
        self.requests.append(request)
        if request.photo_bytes() == b"a photo of a wall":
            await msg.respond(error_reply("no_face", "no face found in the photo"))
            return
        result = EnrollResult(
            customer_id=request.customer_id, slot=0, enrolled_at=datetime.now(UTC), embeddings=1
        )
        await msg.respond(ok_reply(result))

    async def _erase(self, msg: Msg) -> None:
        request = EraseRequest.model_validate_json(msg.data)
        self.requests.append(request)
        result = EraseResult(
            customer_id=request.customer_id,
            embeddings_removed=2,
            was_active=True,
            tracks_withdrawn=1,
        )
        await msg.respond(ok_reply(result))


@pytest.fixture
async def identity_service(nats_server: NatsServer) -> AsyncIterator[IdentityResponder]:
    responder = IdentityResponder()
    await responder.start(nats_server.url)
    yield responder
    await responder.stop()


async def upload(
    gateway: RunningGateway, photo: bytes, customer: str, scopes: tuple[str, ...]
) -> dict[str, Any]:
    """A GraphQL multipart request (the graphql-multipart-request spec)."""
    operations = {
        "query": ENROLL,
        "variables": {"customer": customer, "photo": None, "reason": "signed up at the desk"},
    }
    response = await gateway.http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.photo"]})},
        files={"0": ("face.jpg", photo, "image/jpeg")},
        headers={"Authorization": f"Bearer {token(*scopes, sub='dpo')}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_enrol_a_customer_from_a_photo(
    gateway: RunningGateway, identity_service: IdentityResponder
) -> None:
    photo = b"\xff\xd8 pretend jpeg bytes"
    denied = await upload(gateway, photo, "cust-7", ("operator",))
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert identity_service.requests == []

    enrolled = await upload(gateway, photo, "cust-7", ("privacy_officer",))
    assert enrolled["data"]["enrollCustomer"] == {
        "customerId": "cust-7",
        "slot": 0,
        "embeddings": 1,
    }
    request = identity_service.requests[-1]
    assert request.photo_bytes() == photo and request.vip is True
    assert (request.actor, request.reason) == ("gateway:dpo", "signed up at the desk")

    no_face = await upload(gateway, b"a photo of a wall", "cust-8", ("privacy_officer",))
    error = no_face["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "reason": "no_face"}
    assert error["message"] == "no face found in the photo"

    bad_id = await upload(gateway, photo, " cust-9", ("privacy_officer",))
    assert bad_id["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    await identity_service.stop()
    down = await upload(gateway, photo, "cust-10", ("privacy_officer",))
    assert down["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
    assert "identity service unavailable" in down["errors"][0]["message"]

    async with gateway.gateway.db.connection() as conn:
        audit = await conn.fetch("SELECT actor, action, target, details FROM audit_log ORDER BY id")
    assert [(r["action"], r["details"]["outcome"]) for r in audit] == [
        ("customer.enroll", "ok"),
        ("customer.enroll", "no_face"),
        ("customer.enroll", "unavailable"),
    ]
    assert audit[0]["target"] == f"customer-sha256:{customer_hash('cust-7').hex()}"
    assert "cust-7" not in str([dict(r) for r in audit])


async def test_erase_a_customer_everywhere(
    gateway: RunningGateway, identity_service: IdentityResponder, publisher: EventPublisher
) -> None:
    dsn = gateway.gateway.settings.database_url.get_secret_value()
    for event in [*identity_events("cam-1"), false_merge("cam-1")]:
        publisher.publish(event)
    assert await publisher.flush(10)

    async def stored(sql: str) -> int:
        conn = await asyncpg.connect(dsn)
        try:
            return int(await conn.fetchval(sql))
        finally:
            await conn.close()

    await eventually(lambda: stored("SELECT count(*) FROM alerts"))
    await eventually(
        lambda: stored("SELECT count(*) FROM identity_events WHERE customer_id IS NOT NULL")
    )

    operator = await gateway.graphql(
        ERASE, {"customer": "cust-42", "reason": "GDPR art. 17"}, scopes=("operator",)
    )
    assert operator["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    erased = await gateway.data(
        ERASE,
        {"customer": "cust-42", "reason": "GDPR art. 17 request #99"},
        scopes=("privacy_officer",),
    )
    assert erased["eraseCustomer"] == {
        "customerId": "cust-42",
        "embeddingsRemoved": 2,
        "identityEventsRedacted": 1,
        "alertsRedacted": 1,
    }
    assert await stored("SELECT count(*) FROM identity_events WHERE customer_id = 'cust-42'") == 0
    assert await stored("SELECT count(*) FROM identity_events WHERE erased") == 1
    assert await stored("SELECT count(*) FROM alerts WHERE customer_id IS NOT NULL") == 0

    # An event about the customer from before the erasure, ingested late (a replay):
    # stored without the id.
    late = identity_events("cam-3")[1].model_copy(update={"occurred_at": T0 + timedelta(minutes=5)})
    late = type(late).model_validate(late.model_dump(exclude={"event_id"}))
    publisher.publish(late)
    assert await publisher.flush(10)
    await eventually(
        lambda: stored("SELECT count(*) FROM identity_events WHERE camera_id = 'cam-3'")
    )
    assert await stored("SELECT count(*) FROM identity_events WHERE customer_id IS NOT NULL") == 0
    assert await stored("SELECT count(*) FROM identity_events WHERE erased") == 2
