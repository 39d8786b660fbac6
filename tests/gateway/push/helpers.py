"""Push mode test helpers: a gateway with a real Triton and registered cameras."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

from gateway.config import GatewaySettings
from tests.gateway.helpers import RunningGateway, running_gateway, settings, token, wait_schema
from tests.support.media import media_bytes
from trinetra.inference import TritonSettings

URL = "/api/v1/detections/process-frame"
JOBS = "/api/v1/detections/jobs"
CAMERAS = ("entrance-1", "desk-1", "billing-1")
CALLBACK_SECRET = "callback-secret-of-at-least-32-characters"
REGISTER = "mutation ($c: JSON!) { registerCamera(config: $c) { id } }"


def auth(*scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(*scopes)}"}


def push_settings(
    database_url: str, nats_url: str, triton_url: str, **overrides: Any
) -> GatewaySettings:
    values: dict[str, Any] = {
        "triton": TritonSettings(url=triton_url, call_timeout_s=60),
        "health": {"identity": False},
    }
    values.update(overrides)
    return settings(database_url, nats_url, **values)


class GraphqlClient(Protocol):
    async def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        scopes: tuple[str, ...] = ("viewer",),
    ) -> dict[str, Any]: ...


async def register_cameras(gateway: GraphqlClient, cameras: Sequence[str] = CAMERAS) -> None:
    for camera in cameras:
        source = f"rtsp://127.0.0.1/{camera}"
        role = "billing" if camera.startswith("billing") else "tracking"
        config = {"id": camera, "name": camera.title(), "role": role, "source": source}
        body = await gateway.graphql(REGISTER, {"c": config}, scopes=("operator",))
        errors = body.get("errors") or []
        assert all(e["extensions"]["code"] == "CONFLICT" for e in errors), errors


@asynccontextmanager
async def push_gateway(config: GatewaySettings) -> AsyncIterator[RunningGateway]:
    """A running gateway whose Triton is ready and whose cameras are registered."""
    async with running_gateway(config) as running:
        await wait_schema(running.gateway)
        assert running.gateway.vision is not None
        await running.gateway.vision.wait_ready(timeout_s=120)
        await register_cameras(running)
        yield running


def frame_file(name: str = "bus.jpg") -> dict[str, tuple[str, bytes, str]]:
    return {"frame": (name, media_bytes(name), "image/jpeg")}
