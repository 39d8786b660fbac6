"""Serving the app with uvicorn (HTTP/1.1 and WebSockets on one port).

Besides the usual settings, the server hands the gateway a way to abort one client's
TCP connection (gateway/api/dropping.py): a subscriber that stopped reading cannot be
sent a close frame, and ASGI itself offers no way to reset a connection.
"""

from __future__ import annotations

import asyncio

import uvicorn
from fastapi import FastAPI

from gateway.runtime import Gateway

WS_MAX_MESSAGE = 1024 * 1024


def build_server(app: FastAPI, gateway: Gateway, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        ws="websockets-sansio",
        ws_max_size=WS_MAX_MESSAGE,
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)

    def abort(client: tuple[str, int]) -> bool:
        for protocol in list(server.server_state.connections):
            if tuple(getattr(protocol, "client", None) or ()) != client:
                continue
            transport = getattr(protocol, "transport", None)
            if isinstance(transport, asyncio.BaseTransport) and hasattr(transport, "abort"):
                transport.abort()
                return True
        return False

    gateway.abort_connection = abort
    return server
