"""Cutting off a WebSocket client that fell behind.

The close frame (4008 and the reason) is queued behind whatever the client has not read
yet. A client that is alive reads through that backlog and gets the frame; one that
stopped reading never will, and the server's writes to it stay blocked, so after a grace
(TRINETRA_LIVE__CLOSE_GRACE_S) its TCP connection is reset through the `abort` hook of
the server that owns it (gateway/serve.py, for uvicorn: ASGI itself cannot reset one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

from starlette.websockets import WebSocket, WebSocketState

log = logging.getLogger(__name__)

SLOW_CONSUMER_CLOSE_CODE: Final = 4008

# (host, port) of a client -> True if its connection was found and aborted.
Aborter = Callable[[tuple[str, int]], bool]

_tasks: set[asyncio.Task[None]] = set()


def schedule_drop(socket: WebSocket, reason: str, abort: Aborter | None, grace_s: float) -> None:
    """Drop the client in the background (the caller may be the blocked sender)."""
    task = asyncio.create_task(drop(socket, reason, abort, grace_s), name="drop-slow-client")
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def drop(socket: WebSocket, reason: str, abort: Aborter | None, grace_s: float) -> None:
    log.info("dropping a slow subscriber: %s", reason)
    if socket.application_state != WebSocketState.DISCONNECTED:
        with contextlib.suppress(TimeoutError, RuntimeError, OSError):
            # WebSocket close reasons are limited to 123 bytes.
            closing = socket.close(code=SLOW_CONSUMER_CLOSE_CODE, reason=reason[:123])
            await asyncio.wait_for(closing, grace_s)
            return
    client = socket.client
    if abort is not None and client is not None and abort((client.host, client.port)):
        log.info("aborted the connection of a stalled client %s:%s", client.host, client.port)
