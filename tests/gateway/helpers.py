"""Helpers for the gateway tests: tokens, events, a running gateway, a GraphQL client
over HTTP and over graphql-transport-ws (raw `websockets`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from devservices.ports import free_port
from gateway.app import create_app
from gateway.auth import issue_token
from gateway.config import GatewaySettings, IngestSettings
from gateway.runtime import Gateway
from gateway.serve import build_server
from tests.support.polling import eventually
from trinetra.events.schema import (
    BoundingBox,
    CameraStatusEvent,
    DetectedPerson,
    DetectionsEvent,
    FalseMergeAlertEvent,
    IdentityResolvedEvent,
    IdentityUnknownEvent,
    TrackEndedEvent,
    TrackRef,
    TrackStartedEvent,
    TrackUpdatedEvent,
    make_track_uid,
)

SECRET = "test-secret-of-at-least-thirty-two-characters"
STORE = "blr-01"
# Recent (retention deletes old rows), on a minute boundary (per-minute rollups).
T0 = (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)
BOX = BoundingBox(x1=0.1, y1=0.2, x2=0.3, y2=0.6)


def token(
    *scopes: str,
    sub: str = "alice",
    ttl_s: float = 600,
    stores: Sequence[str] | Literal["*"] = "*",
) -> str:
    return issue_token(SECRET, sub, scopes, stores=stores, ttl_s=ttl_s)


def settings(database_url: str, nats_url: str, **overrides: Any) -> GatewaySettings:
    """Settings with test timings: quick redelivery and small batches."""
    values: dict[str, Any] = {
        "store_id": STORE,
        "database_url": database_url,
        "nats_url": nats_url,
        "jwt_secret": SECRET,
        "port": 0,
        "rollup_refresh_s": 0.5,
        "ingest": IngestSettings(
            ack_wait_s=2.0, batch_window_s=0.01, retry_backoff_s=(0.05, 0.5), stream_wait_s=0.2
        ),
        "log_json": False,
    }
    values.update(overrides)
    return GatewaySettings.model_validate(values)


# --- events -----------------------------------------------------------------------------


def track_lifecycle(
    camera: str, track_id: int, start: datetime, updates: int = 3, score: float = 0.8
) -> list[TrackStartedEvent | TrackUpdatedEvent | TrackEndedEvent]:
    """started, `updates` updates 1 s apart, ended."""
    uid = make_track_uid(STORE, camera, track_id, start)
    common = {"camera_id": camera, "store_id": STORE, "track_id": track_id, "track_uid": uid}
    events: list[TrackStartedEvent | TrackUpdatedEvent | TrackEndedEvent] = [
        TrackStartedEvent(**common, occurred_at=start, frame_seq=0, box=BOX, score=score)
    ]
    for i in range(1, updates + 1):
        events.append(
            TrackUpdatedEvent(
                **common,
                occurred_at=start + timedelta(seconds=i),
                frame_seq=i * 10,
                box=BOX,
                score=score,
                sample_every_frames=10,
            )
        )
    last = start + timedelta(seconds=updates)
    events.append(
        TrackEndedEvent(
            **common,
            occurred_at=last + timedelta(seconds=1),
            first_seen_at=start,
            last_seen_at=last,
            duration_s=(last - start).total_seconds(),
            frames_seen=updates * 10 + 1,
        )
    )
    return events


def detections(
    camera: str, start: datetime, frames: int, persons: int = 2
) -> list[DetectionsEvent]:
    return [
        DetectionsEvent(
            camera_id=camera,
            store_id=STORE,
            occurred_at=start + timedelta(seconds=i / 10),
            frame_seq=i,
            frame_width=1280,
            frame_height=720,
            persons=tuple(DetectedPerson(box=BOX, score=0.9, track_id=j) for j in range(persons)),
            face_count=0,
        )
        for i in range(frames)
    ]


def camera_status(camera: str, state: str, at: datetime, attempt: int = 0) -> CameraStatusEvent:
    return CameraStatusEvent.model_validate(
        {
            "camera_id": camera,
            "store_id": STORE,
            "occurred_at": at,
            "state": state,
            "reconnect_attempt": attempt,
            "reason": "stream lost" if state == "error" else None,
        }
    )


def identity_events(camera: str) -> list[IdentityResolvedEvent | IdentityUnknownEvent]:
    """An unknown visitor, then resolved to cust-42 (a VIP), on one track."""
    tracks = track_lifecycle(camera, 1, T0)
    uid = tracks[0].track_uid
    visit = uuid.uuid4()
    return [
        IdentityUnknownEvent(
            camera_id=camera,
            store_id=STORE,
            occurred_at=T0 + timedelta(seconds=1),
            track_id=1,
            track_uid=uid,
            visit_id=visit,
            reason="no_majority",
            observations=3,
        ),
        IdentityResolvedEvent(
            camera_id=camera,
            store_id=STORE,
            occurred_at=T0 + timedelta(seconds=2),
            track_id=1,
            track_uid=uid,
            visit_id=visit,
            customer_id="cust-42",
            confidence=0.81,
            votes=4,
            window=5,
            vip=True,
        ),
    ]


def false_merge(camera: str) -> FalseMergeAlertEvent:
    """cust-42 seen on two overlapping tracks of `camera`."""
    refs = tuple(
        TrackRef(
            camera_id=camera,
            track_id=i,
            first_seen_at=T0,
            last_seen_at=T0 + timedelta(seconds=5),
        )
        for i in (1, 2)
    )
    return FalseMergeAlertEvent(
        camera_id=camera,
        store_id=STORE,
        occurred_at=T0 + timedelta(seconds=6),
        customer_id="cust-42",
        tracks=refs,
        min_transit_s=30.0,
        gap_s=-2.0,
    )


# --- a running gateway -----------------------------------------------------------------


@dataclass
class RunningGateway:
    gateway: Gateway
    port: int
    http: httpx.AsyncClient

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    async def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        bearer: str | None = None,
        scopes: tuple[str, ...] = ("viewer",),
    ) -> dict[str, Any]:
        """POST a GraphQL request; returns the JSON body (asserting HTTP 200)."""
        auth = bearer if bearer is not None else token(*scopes)
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {auth}"},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        """`graphql` that asserts there were no errors and returns `data`."""
        body = await self.graphql(query, variables, **kw)
        assert "errors" not in body, body["errors"]
        return body["data"]


@asynccontextmanager
async def running_gateway(gateway_settings: GatewaySettings) -> AsyncIterator[RunningGateway]:
    """The real app on a real uvicorn server on a loopback port."""
    gateway = Gateway(gateway_settings)
    app = create_app(gateway_settings, gateway)
    port = free_port()
    server = build_server(app, gateway, "127.0.0.1", port)
    task = asyncio.create_task(server.serve())
    try:
        await eventually(
            lambda: server.started or task.done(), 30, interval_s=0.01, message="uvicorn started"
        )
        if task.done():
            task.result()  # it failed to start: raise why
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            yield RunningGateway(gateway, port, http)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 15)


async def wait_schema(gateway: Gateway, timeout_s: float = 20) -> None:
    await asyncio.wait_for(gateway.schema_ready.wait(), timeout_s)


# --- graphql-transport-ws --------------------------------------------------------------


class WsClient:
    """A graphql-transport-ws client on raw `websockets`."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        url: str,
        bearer: str | None,
        *,
        ack: bool = True,
        **options: Any,
    ) -> AsyncIterator[WsClient]:
        async with websockets.connect(
            url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")], **options
        ) as connection:
            client = cls(connection)
            payload = {} if bearer is None else {"Authorization": f"Bearer {bearer}"}
            await client.send({"type": "connection_init", "payload": payload})
            if ack:
                message = await client.receive()
                assert message["type"] == "connection_ack", message
            yield client

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self, timeout_s: float = 10.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.connection.recv(), timeout_s)
        message: dict[str, Any] = json.loads(raw)
        return message

    async def subscribe(
        self, query: str, variables: dict[str, Any] | None = None, op_id: str | None = None
    ) -> str:
        op_id = op_id or str(uuid.uuid4())
        await self.send(
            {
                "id": op_id,
                "type": "subscribe",
                "payload": {"query": query, "variables": variables or {}},
            }
        )
        return op_id

    async def next_data(self, timeout_s: float = 10.0) -> dict[str, Any]:
        """The payload data of the next `next` message (skipping pings)."""
        while True:
            message = await self.receive(timeout_s)
            if message["type"] == "ping":
                await self.send({"type": "pong"})
                continue
            assert message["type"] == "next", message
            assert "errors" not in message["payload"], message["payload"]
            data: dict[str, Any] = message["payload"]["data"]
            return data
