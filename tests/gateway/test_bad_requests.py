"""Bad requests are the client's: a 4xx with a message, never a 500 (the probe of issue
14 got 500 for each of these), and nothing half-stored. Each goes through the real app
on a loopback uvicorn server."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from gateway.config import LimitSettings
from tests.gateway.helpers import (
    T0,
    RunningGateway,
    WsClient,
    running_gateway,
    settings,
    token,
    wait_schema,
)
from tests.support.metrics import read_metric
from tests.support.nats_server import NatsServer

pytestmark = pytest.mark.timeout(120)

LIMIT = 256 * 1024
REGISTER = "mutation ($c: JSON!) { registerCamera(config: $c) { id } }"
TRACKS = """query ($camera: String!, $from: DateTime!, $to: DateTime!) {
  tracks(cameraId: $camera, from: $from, to: $to) { nodes { uid } } }"""
RANGE = {"from": T0.isoformat(), "to": (T0 + timedelta(hours=1)).isoformat()}
REQUESTS = "trinetra_gateway_http_requests_total"


@pytest.fixture
async def gateway(database_url: str, nats_server: NatsServer) -> AsyncIterator[RunningGateway]:
    """A small upload limit, so going over it is quick."""
    limits = LimitSettings(max_upload_bytes=LIMIT)
    async with running_gateway(settings(database_url, nats_server.url, limits=limits)) as running:
        await wait_schema(running.gateway)
        yield running


def bearer(*scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(*scopes)}"}


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert logged == [], [r.getMessage() for r in logged]


def requests_counted(gateway: RunningGateway, route: str, status: str) -> float:
    labels = {"route": route, "status": status}
    return read_metric(gateway.gateway.metrics.registry, REQUESTS, labels)


async def chunks(total: int, size: int = 16 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


@pytest.mark.parametrize("path", ["/graphql", "/api/v1/detections/process-frame"])
async def test_a_chunked_body_over_the_limit_is_a_413(
    gateway: RunningGateway, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    caplog.set_level(logging.ERROR)
    response = await gateway.http.post(
        path,
        content=chunks(4 * LIMIT),
        headers={**bearer("operator"), "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers  # chunked, no declared size
    assert response.status_code == 413, response.text
    assert response.json()["error"] == {
        "code": "PAYLOAD_TOO_LARGE",
        "message": f"request body larger than {LIMIT} bytes",
    }
    assert requests_counted(gateway, path, "4xx") == 1.0
    assert requests_counted(gateway, path, "5xx") == 0.0
    no_errors_logged(caplog)


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [200, 50_000])
async def test_deeply_nested_variables_are_a_400(
    gateway: RunningGateway, caplog: pytest.LogCaptureFixture, depth: int
) -> None:
    caplog.set_level(logging.ERROR)
    # Built by hand: json.dumps itself refuses 50,000 levels.
    variables = '{"c": ' + "[" * depth + '"leaf"' + "]" * depth + "}"
    body = '{"query": ' + json.dumps(REGISTER) + ', "variables": ' + variables + "}"
    response = await gateway.http.post(
        "/graphql",
        content=body.encode(),
        headers={**bearer("operator"), "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    max_depth = LimitSettings().max_json_depth
    assert response.text == f"request JSON nests deeper than {max_depth} levels"
    no_errors_logged(caplog)
    cameras = await gateway.data("{ cameras { id } }")
    assert cameras == {"cameras": []}  # nothing stored


@pytest.mark.parametrize(
    ("operations", "files_map", "says"),
    [
        (
            {"query": REGISTER, "variables": {"c": None}},
            {"0": ["variables.c.photo"]},
            "map path variables.c.photo: variables.c is null",
        ),
        (
            {"query": REGISTER, "variables": {"c": [1]}},
            {"0": ["variables.c.photo"]},
            "map path variables.c.photo: photo is not an index of the list at variables.c",
        ),
        (
            {"query": REGISTER, "variables": {"c": [1]}},
            {"0": ["variables.c.5"]},
            "map path variables.c.5: index 5 is outside the list at variables.c",
        ),
        (
            {"query": REGISTER, "variables": {}},
            {"0": ["variables.c.x"]},
            "map path variables.c.x: variables has no c",
        ),
        ({"query": REGISTER, "variables": {}}, ["variables.c"], "map must be an object"),
        (
            {"query": REGISTER, "variables": {}},
            {"0": "variables.c"},
            "map entry 0 must be a list of paths",
        ),
    ],
    ids=["into-null", "list-key", "list-index", "missing", "map-list", "map-entry"],
)
async def test_a_bad_multipart_map_is_a_400(
    gateway: RunningGateway,
    caplog: pytest.LogCaptureFixture,
    operations: dict[str, Any],
    files_map: Any,
    says: str,
) -> None:
    caplog.set_level(logging.ERROR)
    response = await gateway.http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps(files_map)},
        files={"0": ("photo.jpg", b"\xff\xd8\xff", "image/jpeg")},
        headers=bearer("operator"),
    )
    assert response.status_code == 400, response.text
    assert response.text == f"invalid multipart request: {says}"
    no_errors_logged(caplog)


@pytest.mark.parametrize(
    ("query", "variables", "says"),
    [
        (TRACKS, {"camera": "cam\x001", **RANGE}, "variables.camera"),
        (REGISTER, {"c": {"id": "cam-1", "name": "a\x00b"}}, "variables.c.name"),
        (REGISTER, {"c": {"id": "cam-1", "na\x00me": "x"}}, "variables.c (a key)"),
    ],
    ids=["string-variable", "json-value", "json-key"],
)
async def test_a_nul_in_a_variable_is_a_400(
    gateway: RunningGateway,
    caplog: pytest.LogCaptureFixture,
    query: str,
    variables: dict[str, Any],
    says: str,
) -> None:
    caplog.set_level(logging.ERROR)
    response = await gateway.http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=bearer("operator")
    )
    assert response.status_code == 400, response.text
    assert response.text == f"{says}: text may not contain NUL (\\u0000)"
    no_errors_logged(caplog)
    assert await gateway.data("{ cameras { id } }") == {"cameras": []}


async def test_a_nul_in_a_literal_argument_is_bad_user_input(
    gateway: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    query = """query ($from: DateTime!, $to: DateTime!) {
      tracks(cameraId: "cam\\u00001", from: $from, to: $to) { nodes { uid } } }"""
    body = await gateway.graphql(query, RANGE)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == "string arguments may not contain NUL (\\u0000)"
    no_errors_logged(caplog)


async def test_a_nul_in_a_url_is_a_400(
    gateway: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    frm, to = RANGE["from"], RANGE["to"]
    response = await gateway.http.get(
        f"/api/v1/heatmap/cam%001.png?from={frm}&to={to}".replace("+", "%2B"),
        headers=bearer("viewer"),
    )
    assert response.status_code == 400, response.text
    no_errors_logged(caplog)


async def test_the_request_counter_still_counts_by_route(gateway: RunningGateway) -> None:
    """Counting moved from a BaseHTTPMiddleware to plain ASGI: routes and statuses stay."""
    assert (await gateway.http.get("/health")).status_code == 200
    unauthorized = await gateway.http.post("/graphql", json={"query": "{ __typename }"})
    assert unauthorized.status_code == 401
    assert requests_counted(gateway, "/health", "2xx") == 1.0
    assert requests_counted(gateway, "/graphql", "4xx") == 1.0
    missing = await gateway.http.get("/no/such/page")
    assert missing.status_code == 404
    assert requests_counted(gateway, "other", "4xx") == 1.0


async def test_a_websocket_message_too_deep_to_decode_closes_as_invalid_json(
    gateway: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    depth = 50_000
    async with WsClient.connect(gateway.ws_url, token("viewer")) as client:
        payload = '{"query": "subscription { alerts { id } }", "variables": {"c": '
        await client.connection.send(
            '{"id": "1", "type": "subscribe", "payload": '
            + payload
            + "[" * depth
            + "]" * depth
            + "}}}"
        )
        with pytest.raises(ConnectionClosed) as closed:
            await client.receive()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4400
    no_errors_logged(caplog)
