"""Push mode's refusals: each a clear 4xx naming what was wrong, with nothing half-stored
(no job in PUSH_JOBS, no record in its bucket, no dedup claim left: the same frame_id
goes through right after)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest

from gateway.config import LimitSettings, PushSettings
from tests.gateway.helpers import RunningGateway
from tests.gateway.push.helpers import (
    CALLBACK_SECRET,
    URL,
    auth,
    frame_file,
    push_gateway,
    push_settings,
)
from tests.support.media import media_bytes
from tests.support.nats_server import NatsServer
from tests.support.triton_server import LocalTriton
from trinetra.events.kv import PUSH_JOBS_BUCKET
from trinetra.events.streams import PUSH_JOBS_STREAM

pytestmark = pytest.mark.timeout(300)

LIMIT = 300_000  # bus.jpg (~140 KB) fits, biden.jpg (354 KB) does not
STORE = "push-refusals"
CALLBACK = "http://127.0.0.1:9/hook"


@pytest.fixture
async def gateway(
    database_url: str, nats_server: NatsServer, triton_server: LocalTriton
) -> AsyncIterator[RunningGateway]:
    config = push_settings(
        database_url,
        nats_server.url,
        triton_server.grpc_url,
        store_id=STORE,
        limits=LimitSettings(max_upload_bytes=LIMIT),
        push=PushSettings(callback_secret=CALLBACK_SECRET, worker=False),
    )
    async with push_gateway(config) as running:
        await queue_exists(running)
        yield running


async def queue_exists(gateway: RunningGateway) -> None:
    """The queue and the bucket exist (empty), as they do once a job was ever sent."""
    await gateway.gateway.push.jobs.jetstream()
    await gateway.gateway.push.jobs.bucket()


async def post(gateway: RunningGateway, **fields: Any) -> tuple[int, dict[str, Any]]:
    name = fields.pop("frame", "bus.jpg")
    files = frame_file(name) if isinstance(name, str) else {"frame": ("x.jpg", name, "image/jpeg")}
    data = {"camera_id": "entrance-1", "frame_id": "refused-frame", **fields}
    response = await gateway.http.post(URL, files=files, data=data, headers=auth("operator"))
    body: dict[str, Any] = response.json()
    return response.status_code, body


async def nothing_stored(nats_url: str) -> None:
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        subject = f"trinetra.{STORE}.push_jobs"
        info = await js.stream_info(PUSH_JOBS_STREAM.name, subjects_filter=subject)
        assert (info.state.subjects or {}).get(subject, 0) == 0
        kv = await js.key_value(PUSH_JOBS_BUCKET.name)
        keys = await kv.keys() if (await kv.status()).values else []
        assert not [k for k in keys if k.startswith(f"{STORE}.")], keys
    finally:
        await client.close()


REFUSALS: list[tuple[str, dict[str, Any], int, str, str]] = [
    # (what, fields, HTTP status, code, a part of the message)
    ("unknown camera", {"camera_id": "nowhere"}, 404, "NOT_FOUND", "camera 'nowhere' is not"),
    ("oversized frame", {"frame": "biden.jpg"}, 413, "PAYLOAD_TOO_LARGE", "larger than"),
    ("corrupt frame", {"frame": b"\xff\xd8 not a jpeg"}, 422, "INVALID_FRAME", "refused"),
    (
        "unknown priority",
        {"priority": "asap"},
        400,
        "BAD_REQUEST",
        "detection_options.processing.priority: Input should be 'urgent', 'high',",
    ),
    ("timeout too small", {"timeout_ms": "5"}, 400, "BAD_REQUEST", "processing.timeout_ms"),
    (
        "malformed callback",
        {"async": "true", "callback_url": "ftp:/x"},
        400,
        "INVALID_CALLBACK_URL",
        "must be http:// or https://",
    ),
    (
        "callback without a host",
        {"async": "true", "callback_url": "http://"},
        400,
        "INVALID_CALLBACK_URL",
        "has no host",
    ),
    (
        "callback with credentials",
        {"async": "true", "callback_url": "http://u:p@example.com/"},
        400,
        "INVALID_CALLBACK_URL",
        "credentials",
    ),
    (
        "callback to metadata",
        {"async": "true", "callback_url": "http://169.254.169.254/latest"},
        400,
        "INVALID_CALLBACK_URL",
        "169.254.169.254",
    ),
    (
        "callback to link-local v6",
        {"async": "true", "callback_url": "http://[fe80::1]:8080/"},
        400,
        "INVALID_CALLBACK_URL",
        "link-local",
    ),
    (
        "callback to a metadata name",
        {"async": "true", "callback_url": "http://metadata.google.internal/"},
        400,
        "INVALID_CALLBACK_URL",
        "cloud metadata",
    ),
    (
        "callback to this network",
        {"async": "true", "callback_url": "http://0.0.0.1/"},
        400,
        "INVALID_CALLBACK_URL",
        "refused network",
    ),
    (
        "callback, sync request",
        {"callback_url": CALLBACK},
        400,
        "INVALID_CALLBACK_URL",
        "needs async: true",
    ),
    (
        "face matching",
        {"match_faces": "true"},
        400,
        "BAD_REQUEST",
        "match_faces is not supported yet",
    ),
    (
        "async snapshots",
        {"async": "true", "return_snapshots": "true"},
        400,
        "BAD_REQUEST",
        "synchronous requests only",
    ),
]


async def test_each_refused_frame_leaves_nothing_behind(
    gateway: RunningGateway, nats_server: NatsServer
) -> None:
    # One gateway for the whole table: starting one per row would be most of the time.
    for what, fields, status, code, message in REFUSALS:
        frame_id = f"frame of {what}"
        got, body = await post(gateway, **{"frame_id": frame_id, **fields})
        assert got == status, (what, body)
        assert body["status"] == "error" and body["error"]["code"] == code, (what, body)
        assert message in body["error"]["message"], (what, body["error"]["message"])
        await nothing_stored(nats_server.url)
        # Its frame_id was not claimed: the same frame, sent right, is processed.
        ok, answer = await post(gateway, frame_id=frame_id)
        assert ok == 200 and answer["status"] == "success", (what, answer)


async def test_an_async_frame_must_fit_one_message(
    database_url: str, nats_server: NatsServer, triton_server: LocalTriton
) -> None:
    """Under the upload limit (8 MiB by default) but over one JetStream message."""
    config = push_settings(database_url, nats_server.url, triton_server.grpc_url, store_id=STORE)
    async with push_gateway(config) as gateway:
        await queue_exists(gateway)
        limit = gateway.gateway.push.jobs.max_frame_bytes()
        bus = media_bytes("bus.jpg")
        big = bus * (limit // len(bus) + 1)
        response = await gateway.http.post(
            URL,
            files={"frame": ("big.jpg", big, "image/jpeg")},
            data={"camera_id": "entrance-1", "frame_id": "too-big", "async": "true"},
            headers=auth("operator"),
        )
        assert response.status_code == 413, response.text
        message = response.json()["error"]["message"]
        assert f"an async frame is at most {limit} bytes" in message
        await nothing_stored(nats_server.url)
