"""REST side of the live view: `POST /api/v1/live/{camera_id}/offer` with a WebRTC SDP
offer (viewer scope, a token granting the gateway's store). The gateway checks the caller
and the request, then relays the offer to the store node of its store (`node_urls`),
which answers and streams the camera's analysed frames with their boxes; the node's
answer or error comes back as is.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.auth import AuthError, Scope
from gateway.db import reads
from gateway.live.relay import NodeRelay, NodeUnreachableError
from gateway.runtime import Gateway

# Node errors relayed as they are (their bodies carry the gateway's error shape).
RELAYED_ERRORS = frozenset({400, 404, 413, 503})


class Offer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sdp: str = Field(min_length=1, max_length=100_000, description="The browser's SDP offer.")
    type: Literal["offer"] = Field(description="Always 'offer'.")


class LiveView:
    """The relay to the store nodes, plus the camera registry check."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.relay = NodeRelay(gateway.settings.node_urls)

    async def close(self) -> None:
        await self.relay.close()

    async def registered(self, camera_id: str) -> bool:
        async with self.gateway.db.connection() as conn:
            row = await reads.camera(conn, self.gateway.settings.store_id, camera_id)
        return row is not None


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
            principal.require_store(gateway.settings.store_id)  # the cameras it relays
        except AuthError as exc:
            code = "FORBIDDEN" if exc.status == 403 else "UNAUTHENTICATED"
            return _error(exc.status, code, exc.message)
        try:
            body = Offer.model_validate_json(await request.body())
        except ValidationError as exc:
            return _error(422, "BAD_REQUEST", str(exc))
        if not await live.registered(camera_id):
            return _error(404, "NOT_FOUND", f"camera {camera_id!r} is not registered")
        store_id = gateway.settings.store_id
        node_url = live.relay.node_url(store_id)
        if node_url is None:
            return _error(503, "UNAVAILABLE", f"no store node is configured for store {store_id!r}")
        try:
            reply = await live.relay.offer(node_url, camera_id, body.sdp)
        except NodeUnreachableError:
            return _error(
                503, "UNAVAILABLE", f"the store node of store {store_id!r} is unreachable"
            )
        payload = reply.payload
        if reply.status == 200 and payload is not None:
            sdp, kind = payload.get("sdp"), payload.get("type")
            if isinstance(sdp, str) and isinstance(kind, str):
                return JSONResponse({"sdp": sdp, "type": kind})
        if reply.status in RELAYED_ERRORS and payload is not None and "error" in payload:
            return JSONResponse(payload, status_code=reply.status)
        return _error(502, "BAD_GATEWAY", "the store node gave an unexpected answer")

    return router
