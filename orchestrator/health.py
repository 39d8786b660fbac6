"""The orchestrator's operational HTTP endpoint: /health (JSON status of every part),
/ready (200 only when Triton and NATS are usable), /metrics (Prometheus text) and, when
the node serves the live view, `POST /live/{camera_id}/offer` (a WebRTC offer in, the
answer out; see orchestrator/live/offer.py) and `GET /live/{camera_id}/snapshot.jpg`
(one raw frame; orchestrator/live/snapshot.py).

The server itself is the one every framework-less application shares
(`trinetra.health`); this module adds the live routes. A request body is read only for
the offer route, only with a Content-Length, and only up to `max_body_bytes`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from prometheus_client import CollectorRegistry

from trinetra.health import (
    REQUEST_READ_TIMEOUT_S,
    HealthProbe,
    Reply,
    Request,
    json_error,
    json_reply,
)
from trinetra.health import HealthServer as _OperationalServer

__all__ = ["MAX_BODY_BYTES", "HealthProbe", "HealthServer", "OfferHandler", "SnapshotHandler"]

log = logging.getLogger(__name__)

# (camera id, request body) -> (status, JSON body): the live view's offer handler.
OfferHandler = Callable[[str, bytes], Awaitable[tuple[int, dict[str, Any]]]]
# camera id -> (status, content type, body): one frame of the camera.
SnapshotHandler = Callable[[str], Awaitable[tuple[int, str, bytes]]]

# An SDP offer is a few KiB; the gateway refuses offers over 100k characters.
MAX_BODY_BYTES = 256 * 1024
# Read and discard a refused body up to this size, so the client sees the 413 (closing
# on unread data resets the connection); anything larger is cut off.
_DRAIN_LIMIT_BYTES = 4 * MAX_BODY_BYTES
_OFFER_PATH = re.compile(r"^/live/([^/]+)/offer$")
_SNAPSHOT_PATH = re.compile(r"^/live/([^/]+)/snapshot\.jpg$")


class HealthServer(_OperationalServer):
    """`probe` returns {"ready": bool, ...details}; it is called per request.
    `live_offers`, when given, answers `POST /live/{camera_id}/offer`; `live_snapshots`
    `GET /live/{camera_id}/snapshot.jpg`."""

    def __init__(
        self,
        probe: HealthProbe,
        registry: CollectorRegistry,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        live_offers: OfferHandler | None = None,
        live_snapshots: SnapshotHandler | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        live = live_offers is not None or live_snapshots is not None
        super().__init__(probe, registry, host, port, extra_routes=self._live if live else None)
        self._live_offers = live_offers
        self._live_snapshots = live_snapshots
        self._max_body_bytes = max_body_bytes

    async def _live(self, request: Request, reader: asyncio.StreamReader) -> Reply | None:
        snapshot = _SNAPSHOT_PATH.match(request.path)
        if snapshot is not None and self._live_snapshots is not None:
            return await self._snapshot(unquote(snapshot.group(1)), request)
        offer = _OFFER_PATH.match(request.path)
        if offer is None or self._live_offers is None:
            return None
        if request.method != "POST":
            return json_error(405, "METHOD_NOT_ALLOWED", "only POST")
        return await self._offer(unquote(offer.group(1)), request, reader)

    async def _snapshot(self, camera_id: str, request: Request) -> Reply:
        assert self._live_snapshots is not None
        if request.method != "GET":
            return json_error(405, "METHOD_NOT_ALLOWED", "only GET")
        try:
            return Reply(*await self._live_snapshots(camera_id))
        except Exception:
            log.exception("live snapshot failed", extra={"camera": camera_id})
            return json_error(500, "INTERNAL", "the snapshot could not be taken")

    async def _offer(self, camera_id: str, request: Request, reader: asyncio.StreamReader) -> Reply:
        assert self._live_offers is not None
        length_text = request.headers.get("content-length")
        if length_text is None:
            return json_error(411, "LENGTH_REQUIRED", "a Content-Length is required")
        if not length_text.isdigit():
            return json_error(400, "BAD_REQUEST", "invalid Content-Length")
        length = int(length_text)
        if length > self._max_body_bytes:
            if length <= _DRAIN_LIMIT_BYTES:
                async with asyncio.timeout(REQUEST_READ_TIMEOUT_S):
                    await reader.readexactly(length)
            return json_error(
                413, "PAYLOAD_TOO_LARGE", f"the body is over {self._max_body_bytes} bytes"
            )
        async with asyncio.timeout(REQUEST_READ_TIMEOUT_S):
            body = await reader.readexactly(length)
        try:
            status, payload = await self._live_offers(camera_id, body)
        except Exception:
            log.exception("live offer failed", extra={"camera": camera_id})
            return json_error(500, "INTERNAL", "the live view could not be started")
        return json_reply(status, payload)
