"""REST side of the live view: `POST /api/v1/live/{camera_id}/offer` with a WebRTC SDP
offer; the answer streams the camera with its tracked boxes. The overlay is fed from the
cameras' detections events on NATS."""

from __future__ import annotations

import contextlib
import logging
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.auth import AuthError, Scope
from gateway.db import reads
from gateway.live.overlay import TrackOverlay
from gateway.live.webrtc import LiveViewService, UnknownCameraError
from gateway.runtime import Gateway
from trinetra.config.camera import CameraConfig
from trinetra.events.schema import DetectionsEvent, SchemaError, decode, subject_token

log = logging.getLogger(__name__)


class Offer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sdp: str = Field(min_length=1, max_length=100_000, description="The browser's SDP offer.")
    type: Literal["offer"] = Field(description="Always 'offer'.")


class LiveView:
    """The live view service plus the NATS subscription that keeps its overlay current."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.overlay = TrackOverlay()
        self.service = LiveViewService(self.overlay)
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        if not await self.gateway.nats.wait_connected(10) or self.gateway.nats.client is None:
            log.warning("live view: NATS unreachable, boxes will not be drawn")
            return
        store = subject_token(self.gateway.settings.store_id)
        self._subscription = await self.gateway.nats.client.subscribe(
            f"trinetra.{store}.*.detections", cb=self._on_detections
        )

    async def _on_detections(self, msg: Msg) -> None:
        with contextlib.suppress(SchemaError):
            event = decode(msg.data)
            if isinstance(event, DetectionsEvent):
                self.overlay.update(event)

    async def close(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
        await self.service.close()

    async def camera(self, camera_id: str) -> CameraConfig | None:
        async with self.gateway.db.connection() as conn:
            row = await reads.camera(conn, self.gateway.settings.store_id, camera_id)
        if row is None or row["config"] is None:
            return None
        config = row["config"]
        return (
            CameraConfig.model_validate_json(config)
            if isinstance(config, str)
            else (CameraConfig.model_validate(config))
        )


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"status": "error", "error": {"code": code, "message": message}}, status_code=status
    )


def live_router(live: LiveView) -> APIRouter:
    router = APIRouter()

    @router.post("/api/v1/live/{camera_id}/offer")
    async def offer(camera_id: str, request: Request) -> JSONResponse:
        gateway = live.gateway
        try:
            principal = gateway.verifier.from_header(request.headers.get("authorization"))
            principal.require(Scope.VIEWER)
        except AuthError as exc:
            code = "FORBIDDEN" if exc.status == 403 else "UNAUTHENTICATED"
            return _error(exc.status, code, exc.message)
        try:
            body = Offer.model_validate_json(await request.body())
        except ValidationError as exc:
            return _error(422, "BAD_REQUEST", str(exc))
        config = await live.camera(camera_id)
        if config is None:
            return _error(404, "NOT_FOUND", f"camera {camera_id!r} is not registered")
        live.service.set_camera(config)
        try:
            answer = await live.service.answer(camera_id, body.sdp, body.type)
        except UnknownCameraError:
            return _error(404, "NOT_FOUND", f"camera {camera_id!r} is not registered")
        except ValueError as exc:  # aiortc refuses a malformed SDP
            return _error(422, "BAD_REQUEST", f"invalid SDP offer: {exc}")
        return JSONResponse({"sdp": answer.sdp, "type": answer.type})

    return router
