"""A process's operational HTTP endpoint: /health (JSON status of every part), /ready
(200 only when the process can do its job) and /metrics (Prometheus text).

Shared by the applications that have no web framework (the store node, the analytics
service): a deliberately small asyncio server, one request per connection. A process
that needs a few more routes (the store node's live-view offer) passes `extra_routes`,
which sees every request first and answers it or returns None.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, NamedTuple

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

__all__ = [
    "REQUEST_READ_TIMEOUT_S",
    "ExtraRoutes",
    "HealthProbe",
    "HealthServer",
    "Reply",
    "Request",
    "json_error",
    "json_reply",
]

log = logging.getLogger(__name__)

HealthProbe = Callable[[], Awaitable[dict[str, Any]]]
REQUEST_READ_TIMEOUT_S = 10.0
_MAX_HEADER_LINES = 100


class Request(NamedTuple):
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased


class Reply(NamedTuple):
    status: int
    content_type: str
    body: bytes


# (request, reader positioned at the body) -> a reply, or None: not one of these routes.
ExtraRoutes = Callable[[Request, asyncio.StreamReader], Awaitable[Reply | None]]


def json_reply(status: int, payload: dict[str, Any]) -> Reply:
    return Reply(status, "application/json", json.dumps(payload, default=str).encode())


def json_error(status: int, code: str, message: str) -> Reply:
    return json_reply(status, {"status": "error", "error": {"code": code, "message": message}})


class HealthServer:
    """`probe` returns {"ready": bool, ...details}; it is called per request."""

    def __init__(
        self,
        probe: HealthProbe,
        registry: CollectorRegistry,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        extra_routes: ExtraRoutes | None = None,
    ) -> None:
        self._probe, self._registry = probe, registry
        self._host, self._port = host, port
        self._extra_routes = extra_routes
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

    async def _route(self, request: Request, reader: asyncio.StreamReader) -> Reply:
        if self._extra_routes is not None:
            extra = await self._extra_routes(request, reader)
            if extra is not None:
                return extra
        if request.method != "GET":
            return Reply(405, "text/plain", b"only GET\n")
        if request.path == "/metrics":
            return Reply(200, CONTENT_TYPE_LATEST, generate_latest(self._registry))
        if request.path in ("/health", "/ready"):
            status = await self._probe()
            ok = request.path == "/health" or bool(status.get("ready"))
            return json_reply(200 if ok else 503, status)
        return Reply(404, "text/plain", b"routes: /health /ready /metrics\n")


async def _read_head(reader: asyncio.StreamReader) -> Request:
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
    return Request(parts[0] if parts else "", path, headers)
