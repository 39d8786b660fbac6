"""Raw socket source: a TCP client reading image frames from `tcp://host:port`.

For cameras and encoders with a proprietary streaming port: the orchestrator connects,
sends nothing, and reads one of two framings (`socket.framing`; parsers and their
resynchronisation rules in orchestrator.cameras.framing):

    jpeg_markers      JPEG images back to back, each from SOI (FF D8) to EOI (FF D9),
                      found by walking the JPEG's segments; bytes between images are
                      skipped.
    length_prefixed   per frame: a 4-byte big-endian payload length, then the payload,
                      exactly one JPEG or PNG image.

Frames that arrive broken (truncated, over `socket.max_frame_bytes`, not an image) are
counted as undecodable frames; noise between frames is skipped; neither ends the
connection. The connection is lost (SourceError, reconnect with backoff) when the peer
closes it, when no byte arrives for the read timeout, or when bytes arrive but no frame
completes for that long (a stream of noise).

TCP keepalive (on by default) probes an idle connection after 10 s, every 5 s, and gives
up after 3 unanswered probes: a camera that lost power mid-stream is noticed even where
the read timeout is long. `interrupt()` shuts the socket down from another thread.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from urllib.parse import urlsplit

from orchestrator.cameras.framing import (
    BrokenFrame,
    FrameParser,
    JpegMarkerParser,
    LengthPrefixedParser,
)
from orchestrator.cameras.source import SourceError, SourceFrame
from orchestrator.frames.validation import decode_jpeg
from trinetra.config.camera import SocketFraming
from trinetra.config.secrets import mask_source

__all__ = ["KEEPALIVE_COUNT", "KEEPALIVE_IDLE_S", "KEEPALIVE_INTERVAL_S", "TcpSource"]

KEEPALIVE_IDLE_S = 10
KEEPALIVE_INTERVAL_S = 5
KEEPALIVE_COUNT = 3
READ_CHUNK_BYTES = 256 * 1024


def enable_keepalive(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    # The timings are Linux (and macOS) options; elsewhere the system defaults apply.
    for option, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE_S),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL_S),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
    ):
        if hasattr(socket, option):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


class TcpSource:
    """A camera streaming frames over a raw TCP connection (FrameSource; module docs)."""

    def __init__(
        self,
        url: str,
        *,
        framing: SocketFraming = SocketFraming.JPEG_MARKERS,
        max_frame_bytes: int = 8 * 1024 * 1024,
        keepalive: bool = True,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 10.0,
        display_url: str | None = None,
    ) -> None:
        self._url = url
        self._display = display_url if display_url is not None else mask_source(url)
        self._framing = framing
        self._max_frame_bytes = max_frame_bytes
        self._keepalive = keepalive
        self._open_timeout_s = open_timeout_s
        self._read_timeout_s = read_timeout_s
        self._sock: socket.socket | None = None
        self._sock_lock = threading.Lock()
        self._parser: FrameParser = self._new_parser()
        self._chunk = bytearray(READ_CHUNK_BYTES)
        self.broken_frames = 0

    def _new_parser(self) -> FrameParser:
        if self._framing is SocketFraming.LENGTH_PREFIXED:
            return LengthPrefixedParser(self._max_frame_bytes)
        return JpegMarkerParser(self._max_frame_bytes)

    @property
    def skipped_bytes(self) -> int:
        """Bytes received that were not part of a good frame (noise, broken frames)."""
        return self._parser.skipped_bytes

    @property
    def connected_socket(self) -> socket.socket | None:
        """The connected socket (None when closed), for inspection."""
        return self._sock

    def open(self) -> None:
        parts = urlsplit(self._url)
        if parts.hostname is None or parts.port is None:
            raise SourceError(f"{self._display} needs a host and a port")
        try:
            sock = socket.create_connection(
                (parts.hostname, parts.port), timeout=self._open_timeout_s
            )
        except OSError as exc:
            raise SourceError(f"cannot open {self._display}: {exc or type(exc).__name__}") from exc
        try:
            if self._keepalive:
                enable_keepalive(sock)
            sock.settimeout(self._read_timeout_s)
        except OSError as exc:
            sock.close()
            raise SourceError(f"cannot set up {self._display}: {exc}") from exc
        self._parser = self._new_parser()  # a new connection starts at a frame boundary
        with self._sock_lock:
            self._sock = sock

    def read(self) -> SourceFrame:
        sock = self._sock
        if sock is None:
            raise SourceError("read before open")
        deadline = time.monotonic() + self._read_timeout_s
        received_total = 0  # during this read: tells a silent peer from a stream of noise
        while True:
            frame = self._parser.next_frame()
            if isinstance(frame, BrokenFrame):
                self.broken_frames += 1
                return SourceFrame(None, None)
            if frame is not None:
                return SourceFrame(decode_jpeg(frame), None)
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                sock.settimeout(remaining)
                received = sock.recv_into(self._chunk)
            except TimeoutError as exc:
                what = f"no frame in {received_total} bytes" if received_total else "no data"
                raise SourceError(
                    f"{what} from {self._display} for {self._read_timeout_s:.1f} s"
                ) from exc
            except OSError as exc:
                raise SourceError(f"stream from {self._display} failed: {exc!r}") from exc
            if received == 0:
                raise SourceError(f"{self._display} closed the connection")
            received_total += received
            self._parser.feed(memoryview(self._chunk)[:received])

    def close(self) -> None:
        with self._sock_lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def interrupt(self) -> None:
        with self._sock_lock:
            sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)
