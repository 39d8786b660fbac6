"""The orchestrator's operational HTTP endpoint: /health (JSON status of every part),
/ready (200 only when Triton and NATS are usable) and /metrics (Prometheus text).

A deliberately small asyncio server: the orchestrator has no web framework, and these
three read-only routes do not need one.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

HealthProbe = Callable[[], Awaitable[dict[str, Any]]]


class HealthServer:
    """`probe` returns {"ready": bool, ...details}; it is called per request."""

    def __init__(
        self,
        probe: HealthProbe,
        registry: CollectorRegistry,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._probe, self._registry = probe, registry
        self._host, self._port = host, port
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
            request_line = (await asyncio.wait_for(reader.readline(), 5)).decode("latin-1")
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass  # headers are not needed
            parts = request_line.split()
            path = parts[1].split("?")[0] if len(parts) >= 2 else ""
            status, content_type, body = await self._route(parts[0] if parts else "", path)
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError) as error:
            log.debug("health request failed: %s", error)
        finally:
            writer.close()

    async def _route(self, method: str, path: str) -> tuple[str, str, bytes]:
        if method != "GET":
            return "405 Method Not Allowed", "text/plain", b"only GET\n"
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE_LATEST, generate_latest(self._registry)
        if path in ("/health", "/ready"):
            status = await self._probe()
            ok = path == "/health" or bool(status.get("ready"))
            code = "200 OK" if ok else "503 Service Unavailable"
            return code, "application/json", json.dumps(status, default=str).encode()
        return "404 Not Found", "text/plain", b"routes: /health /ready /metrics\n"
