"""WebSocket source: a `ws://` or `wss://` camera that sends one encoded image per message.

Browser-based cameras and gateways push frames this way. `websocket.encoding`:

    binary   each binary message is one JPEG or PNG image;
    base64   each text message is one image in base64, optionally as a data URL
             (`data:image/jpeg;base64,...`, what a browser canvas produces).

A message of the other kind, or one that does not decode to an image, is an undecodable
frame (counted, never fatal). A message over `websocket.max_message_bytes` makes the
library close the connection with code 1009: the camera goes to error and reconnects
with the worker's backoff, like any lost stream. So does a heartbeat that fails: a ping
is sent every `ping_interval_s`, and a pong not back within `ping_timeout_s` ends the
connection even while messages still arrive (a peer that stopped reading is broken).

Read with the websockets library's threading client, in the camera's reader thread. The
TCP connection is opened here and handed to it, which makes the library refuse HTTP
redirects: a camera URL passed the SSRF allowlist (trinetra.config.network), a redirect
target did not. No proxy from the environment is used either. Credentials in the URL
(`ws://user:pass@host/...`) are sent as HTTP Basic auth. Compression is off: JPEG and PNG
do not deflate, so permessage-deflate would only cost CPU.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import socket
import ssl
import threading
import time
from urllib.parse import urlsplit

from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.frames import CloseCode
from websockets.sync.client import ClientConnection, connect

from orchestrator.cameras.source import SourceError, SourceFrame
from orchestrator.frames.validation import decode_jpeg
from trinetra.config.camera import WebSocketEncoding
from trinetra.config.secrets import mask_source

__all__ = ["WebSocketSource", "decode_base64_image"]

# The library's own log lines (handshake, keepalive) under this module's name.
_protocol_log = logging.getLogger(f"{__name__}.protocol")

# Waiting for the server's close frame when closing: a camera that does not answer must
# not hold the reader thread (and so a reconnect) for the library's 10 s default.
CLOSE_TIMEOUT_S = 1.0


def decode_base64_image(text: str) -> bytes | None:
    """The image bytes of a base64 text message (data URL prefix allowed), or None."""
    if text.startswith("data:"):
        header, comma, text = text.partition(",")
        if not comma or not header.endswith(";base64"):
            return None
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


class WebSocketSource:
    """A WebSocket camera (FrameSource; module docs)."""

    def __init__(
        self,
        url: str,
        *,
        encoding: WebSocketEncoding = WebSocketEncoding.BINARY,
        ping_interval_s: float = 30.0,
        ping_timeout_s: float = 20.0,
        max_message_bytes: int = 5 * 1024 * 1024,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 10.0,
        display_url: str | None = None,
        user_agent: str = "trinetra-orchestrator",
    ) -> None:
        self._url = url
        self._display = display_url if display_url is not None else mask_source(url)
        self._encoding = encoding
        self._ping_interval_s = ping_interval_s
        self._ping_timeout_s = ping_timeout_s
        self._max_message_bytes = max_message_bytes
        self._open_timeout_s = open_timeout_s
        self._read_timeout_s = read_timeout_s
        self._user_agent = user_agent
        self._connection: ClientConnection | None = None
        self._sock: socket.socket | None = None
        self._sock_lock = threading.Lock()

    def open(self) -> None:
        parts = urlsplit(self._url)
        if parts.hostname is None:
            raise SourceError(f"{self._display} has no host")
        secure = parts.scheme.lower() == "wss"
        port = parts.port or (443 if secure else 80)
        started = time.monotonic()
        try:
            sock = socket.create_connection((parts.hostname, port), timeout=self._open_timeout_s)
        except OSError as exc:
            raise SourceError(f"cannot open {self._display}: {exc or type(exc).__name__}") from exc
        with self._sock_lock:
            self._sock = sock
        # One budget for connect + TLS + upgrade, as the worker's watchdog expects.
        handshake_timeout_s = max(self._open_timeout_s - (time.monotonic() - started), 0.1)
        try:
            connection = connect(
                self._url,
                sock=sock,  # our connection: redirects are refused (module docs)
                open_timeout=handshake_timeout_s,
                ping_interval=self._ping_interval_s,
                ping_timeout=self._ping_timeout_s,
                close_timeout=CLOSE_TIMEOUT_S,
                max_size=self._max_message_bytes,
                compression=None,
                user_agent_header=self._user_agent,
                logger=_protocol_log,
                legacy=True,  # a connection object of our own to keep, not a context
            )
        except InvalidStatus as exc:
            self.close()
            status = exc.response.status_code
            raise SourceError(f"{self._display} refused the WebSocket: HTTP {status}") from exc
        except ValueError as exc:
            # What the library raises for a redirect it will not follow on our socket.
            self.close()
            if isinstance(exc.__cause__, InvalidStatus):
                status = exc.__cause__.response.status_code
                raise SourceError(
                    f"{self._display} redirected (HTTP {status}); redirects are not followed"
                ) from exc
            raise SourceError(f"cannot open {self._display}: {exc}") from exc
        except (OSError, TimeoutError, ssl.SSLError, WebSocketException) as exc:
            self.close()
            raise SourceError(f"cannot open {self._display}: {exc or type(exc).__name__}") from exc
        self._connection = connection

    def read(self) -> SourceFrame:
        connection = self._connection
        if connection is None:
            raise SourceError("read before open")
        try:
            message = connection.recv(timeout=self._read_timeout_s)
        except TimeoutError as exc:
            raise SourceError(
                f"no message from {self._display} for {self._read_timeout_s:.1f} s"
            ) from exc
        except ConnectionClosed as exc:
            raise SourceError(self._closed_reason(exc)) from exc
        if isinstance(message, bytes):
            image = message if self._encoding is WebSocketEncoding.BINARY else None
        else:
            image = (
                decode_base64_image(message) if self._encoding is WebSocketEncoding.BASE64 else None
            )
        return SourceFrame(None if image is None else decode_jpeg(image), None)

    def _closed_reason(self, exc: ConnectionClosed) -> str:
        sent = exc.sent
        if sent is not None and sent.code == CloseCode.MESSAGE_TOO_BIG:
            return (
                f"{self._display} sent a message over max_message_bytes "
                f"({self._max_message_bytes} bytes)"
            )
        if sent is not None and sent.code == CloseCode.INTERNAL_ERROR and "ping" in sent.reason:
            return (
                f"{self._display} did not answer the heartbeat ping within "
                f"{self._ping_timeout_s:g} s"
            )
        received = exc.rcvd
        if received is not None:
            detail = f" ({received.reason})" if received.reason else ""
            return f"{self._display} closed the WebSocket: code {received.code}{detail}"
        return f"stream from {self._display} ended (connection lost)"

    def close(self) -> None:
        connection, self._connection = self._connection, None
        with self._sock_lock:
            sock, self._sock = self._sock, None
        if connection is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                connection.close()
        if sock is not None:
            sock.close()

    def interrupt(self) -> None:
        with self._sock_lock:
            sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)
