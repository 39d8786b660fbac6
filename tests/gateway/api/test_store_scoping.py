"""Store scoping: a token sees only the stores its `stores` claim names.

Every operation of the schema (enumerated from it, so a new operation without a case here
fails) is tried by a token for another store against this gateway's store, with storeId
omitted (the gateway's store) and named: all refused with FORBIDDEN naming the store
(a lookup by an id that names no store answers NOT_FOUND), and nothing stored. The same
operation then works for a token of the store, and for the other token on its own store.
Subscriptions likewise, including a refused token asking for exactly what an allowed one
already holds (identical subscriptions share one execution). Then the REST routes and the
live view, and tokens without a usable claim. Real gateway, PostgreSQL and NATS.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from graphql import GraphQLObjectType, build_schema
from websockets.exceptions import ConnectionClosed

from gateway.api.schema import GatewaySchema
from gateway.auth import ALGORITHM, AuthError, TokenVerifier
from gateway.config import LimitSettings
from gateway.metrics import GatewayMetrics
from gateway.push.jobs import JobError, JobRecord
from gateway.push.models import Priority
from tests.gateway.analytics_helpers import (
    analytics_gateway,
    analytics_publisher,
    crossing,
    occupancy_change,
    queue_snapshot,
    scalar,
)
from tests.gateway.api.test_customers import IdentityResponder
from tests.gateway.helpers import (
    SECRET,
    STORE,
    T0,
    RunningGateway,
    WsClient,
    camera_status,
    false_merge,
    token,
    track_lifecycle,
)
from tests.support.metrics import read_metric
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually
from trinetra.events.publisher import EventPublisher

pytestmark = pytest.mark.timeout(180)

OURS = STORE  # the gateway's store
THEIRS = "mum-02"
SCOPES = ("viewer", "operator", "privacy_officer")  # scopes are never the reason here
SCHEMA = build_schema(GatewaySchema(GatewayMetrics(), LimitSettings()).as_str())


def ours() -> str:
    return token(*SCOPES, sub="ours", stores=[OURS])


def theirs() -> str:
    return token(*SCOPES, sub="theirs", stores=[THEIRS])


@dataclass(frozen=True)
class Case:
    args: dict[str, Any] = field(default_factory=dict)  # argument values, storeId aside
    by_id: bool = False  # found by an id naming no store: another store's is NOT_FOUND


CAMERA = {
    "id": "cam-s",
    "name": "Side door",
    "role": "entrance",
    "source": "rtsp://127.0.0.1:8554/side",
}
ZONE = {
    "id": "z1",
    "camera_id": "cam-a",
    "name": "Front",
    "kind": "area",
    "polygon": [[0.1, 0.1], [0.6, 0.1], [0.6, 0.7], [0.1, 0.7]],
    "capacity": 5,
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
WEBHOOK = {"id": "ops", "url": "http://10.0.0.8:9000/alerts", "secret": "a-secret-of-some-length"}
WHY = {"reason": "store scoping test"}

# Queries and mutations, in the order they run: puts before the reads that need them,
# deletes last. `from`/`to` are filled in wherever an operation takes them.
OPERATIONS: dict[str, Case] = {
    "registerCamera": Case({"config": CAMERA}),
    "updateCamera": Case({"id": "cam-s", "patch": {"name": "Side entrance"}}),
    "putZone": Case({"zone": ZONE}),
    "putLine": Case({"line": LINE}),
    "putFunnel": Case({"funnel": FUNNEL}),
    "putAlertRule": Case({"rule": RULE}),
    "putWebhook": Case({"webhook": WEBHOOK}),
    "cameras": Case(),
    "camera": Case({"id": "cam-s"}),
    "detections": Case({"cameraId": "cam-1"}),
    "tracks": Case({"cameraId": "cam-1"}),
    "alerts": Case(),
    "identities": Case(WHY),
    "occupancy": Case(),
    "auditLog": Case(),
    "analyticsConfig": Case(),
    "analyticsConfigHistory": Case(),
    "footfall": Case(),
    "footfallTotals": Case(),
    "uniqueVisits": Case(),
    "zoneOccupancy": Case(),
    "zoneOccupancySeries": Case(),
    "currentOccupancy": Case(),
    "dwell": Case(),
    "queues": Case(),
    "heatmap": Case({"cameraId": "cam-1"}),
    "visits": Case(),
    "journeyFlows": Case(),
    "funnel": Case({"funnelId": "f1"}),
    "systemHealth": Case(),
    "detectionJob": Case({"id": "job_none"}),  # none: null, in either store
    "acknowledgeAlert": Case({"note": "seen"}, by_id=True),  # its id once ingested
    "enrollCustomer": Case({"customerId": "cust-7", "photo": None, **WHY}),
    "eraseCustomer": Case({"customerId": "cust-7", **WHY}),
    "deleteWebhook": Case({"webhookId": "ops"}),
    "deleteAlertRule": Case({"ruleId": "crowd"}),
    "deleteFunnel": Case({"funnelId": "f1"}),
    "deleteLine": Case({"lineId": "door"}),
    "deleteZone": Case({"zoneId": "z1"}),
    "replaceAnalyticsConfig": Case({"config": {}}),  # expectedVersion: the store's current
    "setCameraEnabled": Case({"cameraId": "cam-s", "enabled": False, **WHY}),
    "deleteCamera": Case({"cameraId": "cam-s", **WHY}),  # last: the others need the camera
}
SUBSCRIPTIONS = (
    "trackEvents",
    "alerts",
    "cameraStatus",
    "zoneOccupancy",
    "queueState",
    "footfallCounters",
)
# Subscriptions to one record rather than a live feed (their own test, below).
RECORD_SUBSCRIPTIONS = ("detectionJob",)


def operation_names(root: GraphQLObjectType | None) -> set[str]:
    assert root is not None
    return set(root.fields)


def test_every_operation_of_the_schema_has_a_case() -> None:
    """A new operation must join this test (and so get its store check)."""
    assert set(OPERATIONS) == operation_names(SCHEMA.query_type) | operation_names(
        SCHEMA.mutation_type
    )
    assert {*SUBSCRIPTIONS, *RECORD_SUBSCRIPTIONS} == operation_names(SCHEMA.subscription_type)


def root_of(kind: str) -> GraphQLObjectType:
    root = {
        "query": SCHEMA.query_type,
        "mutation": SCHEMA.mutation_type,
        "subscription": SCHEMA.subscription_type,
    }[kind]
    assert root is not None
    return root


def kind_of(name: str) -> str:
    return "query" if name in root_of("query").fields else "mutation"


def document(kind: str, name: str, values: dict[str, Any]) -> str:
    """`kind { name(arg: $arg ...) { __typename } }` for the arguments in `values`."""
    args = root_of(kind).fields[name].args
    used = [a for a in args if a in values]
    assert set(values) <= set(args), (name, set(values) - set(args))
    head = kind + (f"({', '.join(f'${a}: {args[a].type}' for a in used)})" if used else "")
    call = name + (f"({', '.join(f'{a}: ${a}' for a in used)})" if used else "")
    return f"{head} {{ {call} {{ __typename }} }}"


def takes_store(kind: str, name: str) -> bool:
    return "storeId" in root_of(kind).fields[name].args


async def call(
    gateway: RunningGateway, kind: str, name: str, values: dict[str, Any], bearer: str
) -> dict[str, Any]:
    query = document(kind, name, values)
    headers = {"Authorization": f"Bearer {bearer}"}
    if "photo" in values:  # an Upload: the graphql-multipart-request spec
        operations = {"query": query, "variables": values}
        response = await gateway.http.post(
            "/graphql",
            data={
                "operations": json.dumps(operations),
                "map": json.dumps({"0": ["variables.photo"]}),
            },
            files={"0": ("face.jpg", b"a photo of a face", "image/jpeg")},
            headers=headers,
        )
    else:
        response = await gateway.http.post(
            "/graphql", json={"query": query, "variables": values}, headers=headers
        )
    assert response.status_code == 200, (name, response.text)
    body: dict[str, Any] = response.json()
    return body


def refusal(body: dict[str, Any]) -> tuple[str, str | None, str]:
    """(code, reason, message) of the one error of a refused operation."""
    errors = body.get("errors")
    assert errors and len(errors) == 1, body
    extensions = errors[0].get("extensions", {})
    return extensions.get("code"), extensions.get("reason"), errors[0]["message"]


def forbidden(name: str, body: dict[str, Any], store: str) -> None:
    code, reason, message = refusal(body)
    assert (code, reason) == ("FORBIDDEN", "store"), (name, body)
    assert repr(store) in message, (name, message)


@pytest.fixture
async def identity_service(nats_server: NatsServer) -> AsyncIterator[IdentityResponder]:
    responder = IdentityResponder()
    await responder.start(nats_server.url)
    yield responder
    await responder.stop()


async def stored(gateway: RunningGateway, identity: IdentityResponder) -> tuple[Any, ...]:
    """What a refused operation must not have changed."""
    async with gateway.gateway.db.connection() as conn:
        row = await conn.fetchrow(
            """SELECT (SELECT count(*) FROM cameras) AS cameras,
                      (SELECT count(*) FROM analytics_config_versions) AS versions,
                      (SELECT count(*) FROM audit_log) AS audits,
                      (SELECT count(*) FROM alerts WHERE acknowledged_at IS NOT NULL) AS acks
            """
        )
    assert row is not None
    return (*row.values(), len(identity.requests))


async def test_every_query_and_mutation_stays_in_the_tokens_stores(
    gateway: RunningGateway, publisher: EventPublisher, identity_service: IdentityResponder
) -> None:
    publisher.publish(false_merge("cam-1"))
    alert_id = await eventually(
        lambda: scalar(gateway, "SELECT event_id FROM alerts WHERE store_id = $1", OURS),
        message="the alert stored",
    )
    span = {
        "from": (T0 - timedelta(hours=1)).isoformat(),
        "to": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    }

    async def values(kind: str, name: str, store: str | None) -> dict[str, Any]:
        args = OPERATIONS[name].args
        taken = root_of(kind).fields[name].args
        out = {k: v for k, v in span.items() if k in taken} | args
        if name == "acknowledgeAlert":
            out["id"] = str(alert_id)
        if name == "replaceAnalyticsConfig":
            current = await scalar(
                gateway,
                "SELECT coalesce(max(version), 0) FROM analytics_config_versions "
                "WHERE store_id = $1",
                store or OURS,
            )
            out["expectedVersion"] = int(current)
        if store is not None:
            out["storeId"] = store
        return out

    for name, case in OPERATIONS.items():
        kind = kind_of(name)
        scoped = takes_store(kind, name)
        before = await stored(gateway, identity_service)

        # Refused: their token on our store (by default and by name), ours on theirs.
        body = await call(gateway, kind, name, await values(kind, name, None), theirs())
        if case.by_id:
            code, _, message = refusal(body)
            assert code == "NOT_FOUND", (name, body)
            assert "no alert" in message
        else:
            forbidden(name, body, OURS)
        if scoped:
            for bearer, store in ((theirs(), OURS), (ours(), THEIRS)):
                body = await call(gateway, kind, name, await values(kind, name, store), bearer)
                forbidden(name, body, store)
        assert await stored(gateway, identity_service) == before, f"{name}: stored when refused"

        # Works: our token on our store, theirs on its own.
        body = await call(gateway, kind, name, await values(kind, name, None), ours())
        assert "errors" not in body, (name, body["errors"])
        if scoped:
            mine = await call(gateway, kind, name, await values(kind, name, THEIRS), theirs())
            assert "errors" not in mine, (name, "on its own store", mine["errors"])

    # Each store kept its own: both registered cam-s, and each deleted its own.
    audited = await scalar(
        gateway,
        "SELECT count(DISTINCT target) FROM audit_log WHERE action = 'camera.register'",
    )
    assert audited == 2


async def test_every_subscription_stays_in_the_tokens_stores(
    database_url: str, nats_server: NatsServer
) -> None:
    async with (
        analytics_gateway(database_url, nats_server.url) as gateway,
        analytics_publisher(nats_server.url) as publisher,
        # Viewers, the same subject: only the stores tell their shared groups apart.
        WsClient.connect(gateway.ws_url, token("viewer", stores=[OURS])) as mine,
        WsClient.connect(gateway.ws_url, token("viewer", stores=[THEIRS])) as other,
    ):
        await eventually(lambda: gateway.gateway.hub.ready)
        for name in SUBSCRIPTIONS:
            await mine.subscribe(document("subscription", name, {}), op_id=name)
            await mine.subscribe(
                document("subscription", name, {"storeId": THEIRS}),
                {"storeId": THEIRS},
                op_id=f"{name}@{THEIRS}",
            )
        registry = gateway.gateway.metrics.registry
        wanted = {"tracks": 1, "alerts": 1, "status": 1, "analytics": 3}
        await eventually(
            lambda: all(
                read_metric(registry, "trinetra_gateway_live_subscribers", {"topic": t}) >= n
                for t, n in wanted.items()
            ),
            message="our subscriptions live",
        )
        # Exactly what ours holds (its shared group), and our store by name.
        for name in SUBSCRIPTIONS:
            await other.subscribe(document("subscription", name, {}), op_id=name)
            await other.subscribe(
                document("subscription", name, {"storeId": OURS}),
                {"storeId": OURS},
                op_id=f"{name}@{OURS}",
            )
        refused = await errors_of(other, 2 * len(SUBSCRIPTIONS))
        assert set(refused) == {*SUBSCRIPTIONS, *(f"{n}@{OURS}" for n in SUBSCRIPTIONS)}
        for op_id, error in refused.items():
            assert error["extensions"] == {"code": "FORBIDDEN", "reason": "store"}, op_id
            assert repr(OURS) in error["message"], op_id

        now = datetime.now(UTC)
        for event in (
            *track_lifecycle("cam-1", 5, now, updates=0),
            false_merge("cam-1"),
            camera_status("cam-1", "error", now),
            occupancy_change("cam-a", "z1", now, 2, 1),
            queue_snapshot("cam-a", "q1", now, 3, 45.0),
            crossing("cam-a", "door", 1, now),
        ):
            publisher.publish(event)
        delivered: set[str] = set()
        theirs_refused: dict[str, dict[str, Any]] = {}
        while delivered != set(SUBSCRIPTIONS) or len(theirs_refused) < len(SUBSCRIPTIONS):
            message = await mine.receive()
            op_id = message.get("id", "")
            if message["type"] == "next" and "errors" not in message["payload"]:
                assert op_id in SUBSCRIPTIONS, message
                delivered.add(op_id)
            elif message["type"] in ("next", "error"):
                theirs_refused[op_id] = _errors(message)[0]
        for op_id, error in theirs_refused.items():
            assert op_id.endswith(f"@{THEIRS}") and repr(THEIRS) in error["message"], op_id
        # Nothing of our store reached the refused token.
        extra = await errors_of(other, 1, timeout_s=0.5, allow_none=True)
        assert extra == {}


async def test_a_job_subscription_stays_in_the_tokens_stores(gateway: RunningGateway) -> None:
    """A job of each store in PUSH_JOBS (written as the worker writes it): each token
    follows its own store's, and is refused the other's before anything is read."""
    now = datetime.now(UTC)
    for store in (OURS, THEIRS):
        await gateway.gateway.push.jobs.put(
            JobRecord(
                job_id="job_s",
                store_id=store,
                camera_id="cam-1",
                frame_id=None,
                priority=Priority.NORMAL,
                status="failed",
                created_at=now,
                updated_at=now,
                error=JobError(code="INVALID_FRAME", message="the frame was refused"),
            )
        )
    name = "detectionJob"
    async with (
        WsClient.connect(gateway.ws_url, ours()) as mine,
        WsClient.connect(gateway.ws_url, theirs()) as other,
    ):
        await mine.subscribe(document("subscription", name, {"id": "job_s"}), {"id": "job_s"})
        assert (await mine.next_data())[name] == {"__typename": "DetectionJob"}
        for client, store in ((mine, THEIRS), (other, OURS)):
            values = {"id": "job_s", "storeId": store}
            await client.subscribe(document("subscription", name, values), values, op_id=store)
            (error,) = (await errors_of(client, 1)).values()
            assert error["extensions"] == {"code": "FORBIDDEN", "reason": "store"}
            assert repr(store) in error["message"]
        await other.subscribe(document("subscription", name, {"id": "job_s"}), {"id": "job_s"})
        (error,) = (await errors_of(other, 1)).values()
        assert error["extensions"] == {"code": "FORBIDDEN", "reason": "store"}
        own = {"id": "job_s", "storeId": THEIRS}
        await other.subscribe(document("subscription", name, own), own, op_id="own")
        message = await other.receive()
        while message.get("id") != "own":  # the refused ones' `complete`
            message = await other.receive()
        assert message["type"] == "next", message
        assert message["payload"] == {"data": {name: {"__typename": "DetectionJob"}}}


def _errors(message: dict[str, Any]) -> list[dict[str, Any]]:
    payload = message["payload"]
    errors: list[dict[str, Any]] = payload if message["type"] == "error" else payload["errors"]
    return errors


async def errors_of(
    client: WsClient, count: int, *, timeout_s: float = 10.0, allow_none: bool = False
) -> dict[str, dict[str, Any]]:
    """The first error of each of `count` operations; a data message fails the test."""
    found: dict[str, dict[str, Any]] = {}
    while len(found) < count:
        try:
            message = await client.receive(timeout_s)
        except TimeoutError:
            if allow_none:
                return found
            raise AssertionError(
                f"only {sorted(found)} refused within {timeout_s} s: the others were taken "
                "in (e.g. by an allowed token's shared subscription)"
            ) from None
        if message["type"] in ("ping", "complete"):
            continue
        assert message["type"] in ("next", "error"), message
        errors = _errors(message)
        assert errors, f"data reached a token without the store: {message}"
        found[message["id"]] = errors[0]
    return found


async def test_rest_routes_and_the_live_view_stay_in_the_tokens_stores(
    gateway: RunningGateway,
) -> None:
    assert (await gateway.http.get("/health")).status_code == 200  # public
    span = {
        "from": (T0 - timedelta(hours=1)).isoformat(),
        "to": datetime.now(UTC).isoformat(),
    }
    frame = {"camera_id": "cam-1", "frame_data": base64.b64encode(b"\xff\xd8 jpeg").decode()}
    offer = {"sdp": "v=0", "type": "offer"}

    async def heatmap(bearer: str) -> Any:
        return await gateway.http.get(
            "/api/v1/heatmap/cam-1.png",
            params=span,
            headers={"Authorization": f"Bearer {bearer}"},
        )

    async def process_frame(bearer: str) -> Any:
        return await gateway.http.post(
            "/api/v1/detections/process-frame",
            json=frame,
            headers={"Authorization": f"Bearer {bearer}"},
        )

    async def live_offer(bearer: str) -> Any:
        return await gateway.http.post(
            "/api/v1/live/cam-1/offer", json=offer, headers={"Authorization": f"Bearer {bearer}"}
        )

    async def detection_job(bearer: str) -> Any:
        return await gateway.http.get(
            "/api/v1/detections/jobs/job_none", headers={"Authorization": f"Bearer {bearer}"}
        )

    for route in (heatmap, process_frame, live_offer, detection_job):
        response = await route(theirs())
        assert response.status_code == 403, (route.__name__, response.text)
        error = response.json()["error"]
        assert error["code"] == "FORBIDDEN" and repr(OURS) in error["message"], route.__name__

    # Past the store check with our token: a heatmap; no camera cam-1 registered to
    # push a frame of or to relay to; no such job.
    drawn = await heatmap(ours())
    assert drawn.status_code == 200 and drawn.headers["content-type"] == "image/png"
    inferred = await process_frame(ours())
    assert inferred.json()["error"]["code"] == "NOT_FOUND", inferred.text
    assert "camera 'cam-1' is not registered" in inferred.json()["error"]["message"]
    job = await detection_job(ours())
    assert job.status_code == 404 and job.json()["error"]["code"] == "NOT_FOUND", job.text
    relayed = await live_offer(ours())
    assert relayed.status_code == 404 and relayed.json()["error"]["code"] == "NOT_FOUND"


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sub": "alice",
        "scope": "viewer",
        "exp": int(datetime.now(UTC).timestamp()) + 600,
        "stores": [OURS],
    }
    return {k: v for k, v in (base | changes).items() if v is not None}


def signed(**changes: Any) -> str:
    return jwt.encode(claims(**changes), SECRET, algorithm=ALGORITHM)


@pytest.mark.parametrize(
    ("stores", "message"),
    [
        (None, "no stores claim"),
        ("blr-01", "must be a list of store ids"),
        ([], "must be a list of store ids"),
        (["*"], "stores holds '*'"),
        ([OURS, 7], "stores holds 7"),
        (["blr 01"], "stores holds 'blr 01'"),
    ],
)
def test_a_token_without_a_usable_stores_claim_is_refused(stores: Any, message: str) -> None:
    with pytest.raises(AuthError, match=message) as refused:
        TokenVerifier(SECRET).verify(signed(stores=stores))
    assert refused.value.status == 401


def test_the_stores_claim_grants_what_it_names() -> None:
    verifier = TokenVerifier(SECRET)
    some = verifier.verify(signed(stores=[OURS, THEIRS]))
    assert (
        some.stores == frozenset({OURS, THEIRS}) and some.may_see(THEIRS) and not some.may_see("x")
    )
    with pytest.raises(AuthError, match="does not grant store 'x'") as refused:
        some.require_store("x")
    assert (refused.value.status, refused.value.reason) == (403, "store")
    every = verifier.verify(signed(stores="*"))
    assert every.stores == "*" and every.may_see("any-store")


async def test_without_the_claim_http_and_websocket_refuse_naming_it(
    gateway: RunningGateway,
) -> None:
    bearer = signed(stores=None)
    response = await gateway.http.post(
        "/graphql",
        json={"query": "{ cameras { id } }"},
        headers={"Authorization": f"Bearer {bearer}"},
    )
    assert response.status_code == 401 and "no stores claim" in response.json()["detail"]
    async with WsClient.connect(gateway.ws_url, bearer, ack=False) as client:
        with pytest.raises(ConnectionClosed) as closed:
            await client.receive()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401 and "no stores claim" in closed.value.rcvd.reason
