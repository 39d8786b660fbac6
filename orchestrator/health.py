"""The orchestrator's operational HTTP endpoint: /health (JSON status of every part),
/ready (200 only when Triton and NATS are usable), /metrics (Prometheus text) and, when
the node serves the live view, `POST /live/{camera_id}/offer` (a WebRTC offer in, the
answer out; see orchestrator/live/offer.py).

A deliberately small asyncio server: the orchestrator has no web framework, and these
few routes do not need one. One request per connection; a request body is read only for
the offer route, only with a Content-Length, and only up to `max_body_bytes`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, NamedTuple
from urllib.parse import unquote

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

HealthProbe = Callable[[], Awaitable[dict[str, Any]]]
# (camera id, request body) -> (status, JSON body): the live view's offer handler.
OfferHandler = Callable[[str, bytes], Awaitable[tuple[int, dict[str, Any]]]]

# An SDP offer is a few KiB; the gateway refuses offers over 100k characters.
MAX_BODY_BYTES = 256 * 1024
# Read and discard a refused body up to this size, so the client sees the 413 (closing
# on unread data resets the connection); anything larger is cut off.
_DRAIN_LIMIT_BYTES = 4 * MAX_BODY_BYTES
_MAX_HEADER_LINES = 100
REQUEST_READ_TIMEOUT_S = 10.0
_OFFER_PATH = re.compile(r"^/live/([^/]+)/offer$")


class _Request(NamedTuple):
    method: str
    path: str
    headers: dict[str, str]


class _Reply(NamedTuple):
    status: int
    content_type: str
    body: bytes


def _json(status: int, payload: dict[str, Any]) -> _Reply:
    return _Reply(status, "application/json", json.dumps(payload, default=str).encode())


def _json_error(status: int, code: str, message: str) -> _Reply:
    return _json(status, {"status": "error", "error": {"code": code, "message": message}})


class HealthServer:
    """`probe` returns {"ready": bool, ...details}; it is called per request.
    `live_offers`, when given, answers `POST /live/{camera_id}/offer`."""

    def __init__(
        self,
        probe: HealthProbe,
        registry: CollectorRegistry,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        live_offers: OfferHandler | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self._probe, self._registry = probe, registry
        self._host, self._port = host, port
        self._live_offers = live_offers
        self._max_body_bytes = max_body_bytes
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self._host, self._port)

    async def close(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(REQUEST_READ_TIMEOUT_S):
                request = await _read_head(reader)
            reply = await self._route(request, reader)
            writer.write(
                f"HTTP/1.1 {reply.status} {HTTPStatus(reply.status).phrase}\r\n"
                f"Content-Type: {reply.content_type}\r\n"
                f"Content-Length: {len(reply.body)}\r\nConnection: close\r\n\r\n".encode()
                + reply.body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, ValueError, asyncio.IncompleteReadError) as error:
            # ValueError: a line over the reader's limit, or an unparsable request head.
            log.debug("operational request failed", extra={"error": repr(error)})
        finally:
            writer.close()

    async def _route(self, request: _Request, reader: asyncio.StreamReader) -> _Reply:
        offer = _OFFER_PATH.match(request.path)
        if offer is not None and self._live_offers is not None:
            if request.method != "POST":
                return _json_error(405, "METHOD_NOT_ALLOWED", "only POST")
            return await self._offer(unquote(offer.group(1)), request, reader)
        if request.method != "GET":
            return _Reply(405, "text/plain", b"only GET\n")
        if request.path == "/metrics":
            return _Reply(200, CONTENT_TYPE_LATEST, generate_latest(self._registry))
        if request.path in ("/health", "/ready"):
            status = await self._probe()
            ok = request.path == "/health" or bool(status.get("ready"))
            return _json(200 if ok else 503, status)
        return _Reply(404, "text/plain", b"routes: /health /ready /metrics\n")

    async def _offer(
        self, camera_id: str, request: _Request, reader: asyncio.StreamReader
    ) -> _Reply:
        assert self._live_offers is not None
        length_text = request.headers.get("content-length")
        if length_text is None:
            return _json_error(411, "LENGTH_REQUIRED", "a Content-Length is required")
        if not length_text.isdigit():
            return _json_error(400, "BAD_REQUEST", "invalid Content-Length")
        length = int(length_text)
        if length > self._max_body_bytes:
            if length <= _DRAIN_LIMIT_BYTES:
                async with asyncio.timeout(REQUEST_READ_TIMEOUT_S):
                    await reader.readexactly(length)
            return _json_error(
                413, "PAYLOAD_TOO_LARGE", f"the body is over {self._max_body_bytes} bytes"
            )
        async with asyncio.timeout(REQUEST_READ_TIMEOUT_S):
            body = await reader.readexactly(length)
        try:
            status, payload = await self._live_offers(camera_id, body)
        except Exception:
            log.exception("live offer failed", extra={"camera": camera_id})
            return _json_error(500, "INTERNAL", "the live view could not be started")
        return _json(status, payload)


async def _read_head(reader: asyncio.StreamReader) -> _Request:
    """The request line and headers (names lower-cased)."""
    parts = (await reader.readline()).decode("latin-1").split()
    headers: dict[str, str] = {}
    for _ in range(_MAX_HEADER_LINES):
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    else:
        raise ValueError("too many header lines")
    path = parts[1].split("?")[0] if len(parts) >= 2 else ""
    return _Request(parts[0] if parts else "", path, headers)
