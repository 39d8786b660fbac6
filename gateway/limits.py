"""Request body size limit, enforced before the body is read.

A declared Content-Length over the limit is answered 413 without handing anything to the
app; a body without one (chunked) is counted as it streams and cut off with 413 when it
passes the limit. Before answering, the rest of the body is read and discarded (never
stored) up to `drain_bytes`, so an ordinary client that is still sending gets the 413
instead of a reset connection; beyond that the connection is simply closed. Only bodies
count: WebSocket messages are bounded by the server's own frame size limit.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class PayloadTooLargeError(Exception):
    """Raised inside the app when a streamed body passes the limit."""


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, drain_bytes: int = 64 * 1024 * 1024) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.drain_bytes = drain_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._drain(receive, 0)
            await self._reject(send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except PayloadTooLargeError:
            if not started:
                await self._drain(receive, received)
                await self._reject(send)

    async def _drain(self, receive: Receive, already: int) -> None:
        total = already
        while total <= self.drain_bytes:
            message = await receive()
            if message["type"] != "http.request":
                return
            total += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    async def _reject(self, send: Send) -> None:
        body = json.dumps(
            {
                "status": "error",
                "error": {
                    "code": "PAYLOAD_TOO_LARGE",
                    "message": f"request body larger than {self.max_bytes} bytes",
                },
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
