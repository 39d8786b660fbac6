"""A real WebSocket camera for tests: a websockets server on the test's event loop.

Every client gets one message per frame, `messages(index)`, paced at `fps`. Knobs
reproduce what can go wrong: a stall (stop sending, keep the connection), a peer that
never answers pings (it stops reading its socket, as a hung process would), an HTTP
status instead of the upgrade, and a redirect. A stopped server starts again on the same
port, for reconnect tests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

__all__ = ["WebSocketCamera", "WebSocketCameraOptions"]

Message = bytes | str


@dataclass
class WebSocketCameraOptions:
    fps: float = 20.0
    stall_after: int = 0  # stop sending (connection held open) after N messages (0: never)
    answer_pings: bool = True
    refuse_with: int | None = None  # answer the upgrade with this HTTP status instead
    redirect_to: str | None = None  # answer the upgrade with a 302 to this URL
    path: str = "/stream"


class WebSocketCamera:
    """`async with WebSocketCamera(messages) as camera: camera.url` (module docs)."""

    def __init__(
        self,
        messages: Callable[[int], Message],
        options: WebSocketCameraOptions | None = None,
    ) -> None:
        self.messages = messages
        self.options = options or WebSocketCameraOptions()
        self.port = 0
        self.connections = 0  # upgraded connections, over the server's whole life
        self.requests = 0  # handshake requests, refused or redirected ones included
        self.sent = 0
        self._server: Server | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.options.path}"

    async def start(self) -> None:
        self._server = await serve(
            self._stream,
            "127.0.0.1",
            self.port,
            process_request=self._check_request,
            compression=None,
            max_size=None,
            ping_interval=None,  # the camera under test does the pinging
            close_timeout=1,  # a peer that stopped reading never acknowledges a close
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Close every connection (code 1001) and release the port."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    async def __aenter__(self) -> WebSocketCamera:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.requests += 1
        options = self.options
        if options.redirect_to is not None:
            return Response(302, "Found", Headers({"Location": options.redirect_to}), b"")
        if options.refuse_with is not None:
            status = HTTPStatus(options.refuse_with)
            return connection.respond(status, f"{status.phrase}\n")
        if request.path != options.path:
            return connection.respond(HTTPStatus.NOT_FOUND, "no such stream\n")
        return None

    async def _stream(self, connection: ServerConnection) -> None:
        self.connections += 1
        options = self.options
        if not options.answer_pings:
            # Pongs are sent when incoming frames are read: a peer that stops reading its
            # socket (but keeps writing) never answers a ping.
            connection.transport.pause_reading()
        loop = asyncio.get_running_loop()
        interval = 1.0 / options.fps
        next_due = loop.time()
        index = 0
        with contextlib.suppress(ConnectionClosed):
            while True:
                if options.stall_after and index >= options.stall_after:
                    await connection.wait_closed()
                    return
                await connection.send(self.messages(index))
                index += 1
                self.sent += 1
                next_due += interval
                await asyncio.sleep(max(0.0, next_due - loop.time()))
