"""GraphQL against the running gateway: queries over ingested events, mutations, auth,
scopes, audit and limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from gateway.auth import issue_token
from tests.gateway.helpers import (
    T0,
    RunningGateway,
    camera_status,
    detections,
    false_merge,
    identity_events,
    token,
    track_lifecycle,
)
from tests.support.polling import eventually
from trinetra.events.publisher import EventPublisher

pytestmark = pytest.mark.timeout(120)

RANGE = {"from": (T0 - timedelta(hours=1)).isoformat(), "to": (T0 + timedelta(hours=1)).isoformat()}

CAMERAS = "{ cameras { id registered name status statusReason reconnectAttempt } }"
TRACKS = """
query($camera: String!, $from: DateTime!, $to: DateTime!, $first: Int!, $after: String) {
  tracks(cameraId: $camera, from: $from, to: $to, first: $first, after: $after) {
    nodes { uid trackId firstSeenAt lastSeenAt samples ended durationS endReason lastBox { x1 } }
    pageInfo { endCursor hasNextPage }
  }
}"""
DETECTIONS = """
query($camera: String!, $from: DateTime!, $to: DateTime!, $first: Int!, $after: String) {
  detections(cameraId: $camera, from: $from, to: $to, first: $first, after: $after) {
    nodes { id frameSeq personCount persons { score trackId box { x1 y2 } } }
    pageInfo { endCursor hasNextPage }
  }
}"""


async def rows(gateway: RunningGateway, sql: str, *args: Any) -> list[asyncpg.Record]:
    async with gateway.gateway.db.connection() as conn:
        result: list[asyncpg.Record] = await conn.fetch(sql, *args)
        return result


async def count(gateway: RunningGateway, table: str) -> int:
    return int((await rows(gateway, f"SELECT count(*) AS n FROM {table}"))[0]["n"])


async def test_ingested_events_are_queryable(
    gateway: RunningGateway, publisher: EventPublisher
) -> None:
    tracks = track_lifecycle("cam-1", 7, T0) + track_lifecycle(
        "cam-1", 8, T0 + timedelta(seconds=30)
    )
    frames = detections("cam-1", T0, 25, persons=3)
    statuses = [
        camera_status("cam-1", "connecting", T0),
        camera_status("cam-1", "live", T0 + timedelta(seconds=1)),
    ]
    for event in [*tracks, *frames, *statuses, *identity_events("cam-1"), false_merge("cam-1")]:
        publisher.publish(event)
    assert await publisher.flush(10)

    async def stored() -> bool:
        counts = [
            await count(gateway, t)
            for t in (
                "track_events",
                "detections",
                "camera_status_events",
                "identity_events",
                "alerts",
            )
        ]
        return counts == [len(tracks), len(frames), 2, 2, 1]

    await eventually(stored)

    cameras = (await gateway.data(CAMERAS))["cameras"]
    assert cameras == [
        {
            "id": "cam-1",
            "registered": False,
            "name": None,
            "status": "LIVE",
            "statusReason": None,
            "reconnectAttempt": 0,
        }
    ]

    # tracks: newest first, two pages of one
    page1 = (await gateway.data(TRACKS, {"camera": "cam-1", **RANGE, "first": 1}))["tracks"]
    assert page1["pageInfo"]["hasNextPage"] is True
    assert [n["trackId"] for n in page1["nodes"]] == [8]
    page2 = (
        await gateway.data(
            TRACKS,
            {"camera": "cam-1", **RANGE, "first": 1, "after": page1["pageInfo"]["endCursor"]},
        )
    )["tracks"]
    assert [n["trackId"] for n in page2["nodes"]] == [7]
    assert page2["pageInfo"] == {"endCursor": None, "hasNextPage": False}
    track = page2["nodes"][0]
    assert track["samples"] == 4 and track["ended"] is True and track["durationS"] == 3.0
    assert track["endReason"] == "lost" and track["lastBox"] == {"x1": 0.1}

    # detections: 25 frames in pages of 10
    seen: list[int] = []
    after = None
    while True:
        page = (
            await gateway.data(
                DETECTIONS, {"camera": "cam-1", **RANGE, "first": 10, "after": after}
            )
        )["detections"]
        seen += [n["frameSeq"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == list(range(24, -1, -1))
    first = (await gateway.data(DETECTIONS, {"camera": "cam-1", **RANGE, "first": 1}))[
        "detections"
    ]["nodes"][0]
    assert first["personCount"] == 3
    assert first["persons"][2] == {"score": 0.9, "trackId": 2, "box": {"x1": 0.1, "y2": 0.6}}

    # occupancy (plain PostgreSQL: refreshed by the gateway every 0.5 s here)
    occupancy_query = """query($from: DateTime!, $to: DateTime!) {
      occupancy(from: $from, to: $to, cameraIds: ["cam-1"]) {
        cameraId bucket frames detections avgPersons maxPersons
      }
    }"""

    async def minute() -> Any:
        points = (await gateway.data(occupancy_query, RANGE))["occupancy"]
        return points if points and points[0]["frames"] == 25 else None

    points = await eventually(minute)
    assert points == [
        {
            "cameraId": "cam-1",
            "bucket": T0.isoformat(),
            "frames": 25,
            "detections": 75,
            "avgPersons": 3.0,
            "maxPersons": 3,
        }
    ]

    # alerts, and acknowledging one (operator)
    alerts_query = """query($from: DateTime!, $to: DateTime!) {
      alerts(from: $from, to: $to) { nodes { id kind severity acknowledged details } } }"""
    alert = (await gateway.data(alerts_query, RANGE))["alerts"]["nodes"][0]
    assert alert["kind"] == "alert.false_merge" and alert["severity"] == "critical"
    assert "cust-42" not in str(alert["details"])
    ack = """mutation($id: UUID!) { acknowledgeAlert(id: $id, note: "checked the footage") {
      acknowledged acknowledgedBy ackNote } }"""
    refused = await gateway.graphql(ack, {"id": alert["id"]}, scopes=("viewer",))
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    acked = (await gateway.data(ack, {"id": alert["id"]}, scopes=("operator",)))["acknowledgeAlert"]
    assert acked == {
        "acknowledged": True,
        "acknowledgedBy": "alice",
        "ackNote": "checked the footage",
    }


async def test_identity_reads_are_scoped_and_audited(
    gateway: RunningGateway, publisher: EventPublisher
) -> None:
    for event in [*identity_events("cam-2"), false_merge("cam-2")]:
        publisher.publish(event)
    assert await publisher.flush(10)
    await eventually(lambda: count(gateway, "identity_events"))
    await eventually(lambda: count(gateway, "alerts"))
    query = """query($from: DateTime!, $to: DateTime!, $reason: String!) {
      identities(reason: $reason, from: $from, to: $to) { nodes { kind visitId vip %s } } }"""

    async def identities_count() -> int:
        body = await gateway.graphql(
            query % "", {**RANGE, "reason": "queue study"}, scopes=("operator",)
        )
        return len(body["data"]["identities"]["nodes"])

    await eventually(lambda: identities_count())

    # viewers may not read identity events at all
    viewer = await gateway.graphql(query % "", {**RANGE, "reason": "curious"}, scopes=("viewer",))
    assert viewer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert viewer["errors"][0]["message"] == "requires scope operator or privacy_officer"
    # operators may, but not the customer ids
    operator = await gateway.graphql(
        query % "customerId", {**RANGE, "reason": "queue study"}, scopes=("operator",)
    )
    assert [n["customerId"] for n in operator["data"]["identities"]["nodes"]] == [None, None]
    assert {e["message"] for e in operator["errors"]} == {
        "customerId requires scope privacy_officer"
    }
    # privacy officers see them
    officer = await gateway.data(
        query % "customerId",
        {**RANGE, "reason": "subject access request #12"},
        bearer=token("privacy_officer", sub="dpo"),
    )
    assert [n["customerId"] for n in officer["identities"]["nodes"]] == ["cust-42", None]
    # a reason is required
    blank = await gateway.graphql(query % "", {**RANGE, "reason": " "}, scopes=("operator",))
    assert blank["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # the alert's customer id: privacy officers, with a reason, audited
    alert_query = """query($from: DateTime!, $to: DateTime!) {
      alerts(from: $from, to: $to) { nodes { kind customerId(reason: "false merge review") } } }"""
    denied = await gateway.graphql(alert_query, RANGE, scopes=("operator",))
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    seen = await gateway.data(alert_query, RANGE, bearer=token("privacy_officer", sub="dpo"))
    assert seen["alerts"]["nodes"] == [{"kind": "alert.false_merge", "customerId": "cust-42"}]

    audit = await rows(
        gateway, "SELECT actor, scopes, action, reason, details FROM audit_log ORDER BY id"
    )
    reads = [(r["actor"], r["action"], r["reason"]) for r in audit]
    assert ("alice", "identity.read", "queue study") in reads
    assert ("dpo", "identity.read", "subject access request #12") in reads
    assert ("dpo", "alert.customer_id.read", "false merge review") in reads
    assert ("alice", "identity.read", "curious") not in reads  # refused before reading
    officer_entry = next(r for r in audit if r["actor"] == "dpo" and r["action"] == "identity.read")
    assert officer_entry["scopes"] == ["privacy_officer", "viewer"]
    assert officer_entry["details"]["customer_ids_visible"] is True
    assert officer_entry["details"]["rows"] == 2
    # the log is append-only
    async with gateway.gateway.db.connection() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM audit_log")


async def test_register_and_update_a_camera(gateway: RunningGateway) -> None:
    register = """mutation($config: JSON!) { registerCamera(config: $config) {
      id registered name role config status } }"""
    config = {
        "id": "entrance-1",
        "name": "Main entrance",
        "role": "entrance",
        "source": "rtsp://admin:hunter2@192.168.1.20:554/stream1",
    }
    viewer = await gateway.graphql(register, {"config": config}, scopes=("viewer",))
    assert viewer["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    typo = await gateway.graphql(
        register, {"config": {**config, "target_fsp": 5}}, scopes=("operator",)
    )
    error = typo["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"] == [
        {"field": "target_fsp", "message": "Extra inputs are not permitted"}
    ]
    assert "target_fsp" in error["message"]

    camera = (await gateway.data(register, {"config": config}, scopes=("operator",)))[
        "registerCamera"
    ]
    assert camera["registered"] is True and camera["name"] == "Main entrance"
    assert camera["config"]["source"] == "rtsp://admin:***@192.168.1.20:554/stream1"
    assert "hunter2" not in str(camera)
    again = await gateway.graphql(register, {"config": config}, scopes=("operator",))
    assert again["errors"][0]["extensions"]["code"] == "CONFLICT"

    update = """mutation($id: String!, $patch: JSON!) { updateCamera(id: $id, patch: $patch) {
      name config } }"""
    bad = await gateway.graphql(
        update, {"id": "entrance-1", "patch": {"target_fps": 99}}, scopes=("operator",)
    )
    assert "target_fps" in bad["errors"][0]["message"]
    updated = (
        await gateway.data(
            update,
            {"id": "entrance-1", "patch": {"name": "Front door", "target_fps": 5}},
            scopes=("operator",),
        )
    )["updateCamera"]
    assert updated["name"] == "Front door" and updated["config"]["target_fps"] == 5
    missing = await gateway.graphql(
        update, {"id": "nope", "patch": {"name": "x"}}, scopes=("operator",)
    )
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    stored = await rows(gateway, "SELECT config FROM cameras WHERE camera_id = 'entrance-1'")
    assert stored[0]["config"]["name"] == "Front door"
    actions = [r["action"] for r in await rows(gateway, "SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["camera.register", "camera.update"]


async def test_requests_without_a_valid_token_are_refused(gateway: RunningGateway) -> None:
    query = {"query": "{ cameras { id } }"}
    missing = await gateway.http.post("/graphql", json=query)
    assert missing.status_code == 401 and missing.json()["detail"] == "missing bearer token"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    garbage = await gateway.http.post(
        "/graphql", json=query, headers={"Authorization": "Bearer not.a.jwt"}
    )
    assert garbage.status_code == 401 and garbage.json()["detail"].startswith("invalid token")
    forged = issue_token("another-secret-of-at-least-32-characters!!", "mallory", ["operator"])
    wrong_key = await gateway.http.post(
        "/graphql", json=query, headers={"Authorization": f"Bearer {forged}"}
    )
    assert wrong_key.status_code == 401
    assert wrong_key.json()["detail"] == "invalid token: Signature verification failed"
    expired = await gateway.http.post(
        "/graphql", json=query, headers={"Authorization": f"Bearer {token('viewer', ttl_s=-120)}"}
    )
    assert expired.status_code == 401 and expired.json()["detail"] == "token expired"
    no_scope = await gateway.graphql("{ cameras { id } }", scopes=("billing",))
    assert no_scope["errors"][0]["message"] == "requires scope viewer"
    assert no_scope["data"] is None


async def test_malformed_too_deep_and_too_large_queries_are_refused(
    gateway: RunningGateway,
) -> None:
    syntax = await gateway.http.post(
        "/graphql",
        json={"query": "{ cameras { id "},
        headers={"Authorization": f"Bearer {token('viewer')}"},
    )
    assert syntax.status_code == 200
    assert syntax.json()["errors"][0]["message"].startswith("Syntax Error")
    unknown = await gateway.graphql("{ cameras { idd } }")
    assert "Cannot query field 'idd'" in unknown["errors"][0]["message"]
    span = 'from: "2026-01-01T00:00:00Z", to: "2026-01-01T01:00:00Z"'
    deep = f'{{ tracks(cameraId: "c", {span}) {{ nodes {{ lastBox {{ x1 }} }} }} }}'
    assert "errors" not in await gateway.graphql(deep)  # depth 4 is fine
    # Nothing in the schema nests 9 deep, so such a query is also invalid; the depth
    # limiter reports it among the validation errors, before anything executes.
    too_deep = "query Deep { cameras { id " + "{ a " * 9 + "}" * 9 + " } }"
    refused = await gateway.graphql(too_deep)
    messages = [e["message"] for e in refused["errors"]]
    assert "'Deep' exceeds maximum operation depth of 8" in messages
    aliases = "{ " + " ".join(f"a{i}: cameras {{ id }}" for i in range(40)) + " }"
    assert "aliases" in (await gateway.graphql(aliases))["errors"][0]["message"]
    backwards = 'from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z"'
    bad_range = await gateway.graphql(
        f'{{ tracks(cameraId: "c", {backwards}) {{ nodes {{ uid }} }} }}'
    )
    assert bad_range["errors"][0]["message"] == "to must be after from"
    bad_cursor = await gateway.graphql(
        f'{{ tracks(cameraId: "c", {span}, after: "zzz") {{ nodes {{ uid }} }} }}'
    )
    assert bad_cursor["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    huge = b"x" * (gateway.gateway.settings.limits.max_upload_bytes + 1)
    too_large = await gateway.http.post(
        "/graphql",
        content=huge,
        headers={"Authorization": f"Bearer {token('viewer')}", "Content-Type": "application/json"},
    )
    assert too_large.status_code == 413
    assert too_large.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
