"""HTTP MJPEG source: a multipart/x-mixed-replace stream of JPEG images.

Read with the standard library's http.client (streaming, in the camera's reader thread)
and parsed here: each part is a JPEG, delimited by the boundary from the Content-Type
header, with a Content-Length when the camera sends one (most do) or else found by
scanning for the next boundary line. Parts that do not decode are counted rejects, not
failures. An `X-Timestamp` part header (epoch seconds, sent by some cameras) becomes the
frame's capture time.

The open timeout covers connect + response headers; then the socket gets the read
timeout, so a camera that stops sending fails the read within it. `interrupt()` shuts
the socket down from another thread, which makes a blocked read return at once.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import socket
import threading
from urllib.parse import unquote, urlsplit

from orchestrator.cameras.source import EndOfStream, SourceError, SourceFrame
from orchestrator.frames.validation import decode_jpeg
from trinetra.config.secrets import mask_source

__all__ = ["MjpegSource", "parse_boundary"]

MAX_LINE = 64 * 1024  # header lines and, without Content-Length, JPEG chunks between LFs
MAX_PART_BYTES = 32 * 1024 * 1024  # a 4K JPEG is ~2-5 MB: anything larger is garbage
MAX_SKIP_BYTES = 8 * 1024 * 1024  # preamble/garbage tolerated before a boundary
MAX_PART_HEADERS = 64


def parse_boundary(content_type: str) -> str | None:
    """The multipart boundary of a multipart/x-mixed-replace Content-Type, or None."""
    media_type, _, params = content_type.partition(";")
    if media_type.strip().lower() != "multipart/x-mixed-replace":
        return None
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "boundary":
            boundary = value.strip().strip('"')
            # Some cameras put the leading dashes into the parameter itself.
            if boundary.startswith("--"):
                boundary = boundary[2:]
            return boundary or None
    return None


class MjpegSource:
    """An HTTP(S) MJPEG camera (FrameSource)."""

    def __init__(
        self,
        url: str,
        *,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 10.0,
        display_url: str | None = None,
        user_agent: str = "trinetra-orchestrator",
    ) -> None:
        self._url = url
        self._display = display_url if display_url is not None else mask_source(url)
        self._open_timeout_s = open_timeout_s
        self._read_timeout_s = read_timeout_s
        self._user_agent = user_agent
        self._conn: http.client.HTTPConnection | None = None
        self._response: http.client.HTTPResponse | None = None
        self._sock: socket.socket | None = None
        self._sock_lock = threading.Lock()
        self._boundary = b""
        self._end = b""
        self._at_part = False  # the previous part ended on our boundary line

    def open(self) -> None:
        parts = urlsplit(self._url)
        if parts.hostname is None:
            raise SourceError(f"{self._display} has no host")
        connection_class = (
            http.client.HTTPSConnection
            if parts.scheme.lower() == "https"
            else http.client.HTTPConnection
        )
        conn = connection_class(parts.hostname, parts.port, timeout=self._open_timeout_s)
        headers = {
            "User-Agent": self._user_agent,
            "Accept": "multipart/x-mixed-replace, */*",
        }
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            token = base64.b64encode(credentials.encode()).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        path = parts.path or "/"
        if parts.query:
            path = f"{path}?{parts.query}"
        try:
            conn.connect()
            with self._sock_lock:
                self._sock = conn.sock
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise SourceError(f"cannot open {self._display}: {exc or type(exc).__name__}") from exc
        self._conn, self._response = conn, response
        if response.status != 200:
            self.close()
            raise SourceError(f"{self._display} answered HTTP {response.status} {response.reason}")
        boundary = parse_boundary(response.getheader("Content-Type", ""))
        if boundary is None:
            content_type = response.getheader("Content-Type", "none")
            self.close()
            raise SourceError(
                f"{self._display} is not an MJPEG stream (Content-Type: {content_type})"
            )
        self._boundary = b"--" + boundary.encode("latin-1")
        self._end = self._boundary + b"--"
        self._at_part = False
        with self._sock_lock:
            if self._sock is not None:
                self._sock.settimeout(self._read_timeout_s)

    def _readline(self) -> bytes:
        assert self._response is not None
        line = self._response.readline(MAX_LINE)
        if not line:
            raise SourceError(f"stream from {self._display} ended")
        return line

    def _seek_boundary(self) -> None:
        skipped = 0
        while True:
            line = self._readline()
            stripped = line.strip()
            if stripped == self._boundary:
                return
            if stripped == self._end:
                raise EndOfStream(f"{self._display} closed the multipart stream")
            skipped += len(line)
            if skipped > MAX_SKIP_BYTES:
                raise SourceError(f"{self._display}: no multipart boundary found")

    def _read_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for _ in range(MAX_PART_HEADERS):
            line = self._readline().strip()
            if not line:
                return headers
            name, sep, value = line.decode("latin-1").partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        raise SourceError(f"{self._display}: part has too many headers")

    def _read_body(self, headers: dict[str, str]) -> bytes:
        assert self._response is not None
        length_text = headers.get("content-length")
        if length_text is not None:
            try:
                length = int(length_text)
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_PART_BYTES:
                raise SourceError(f"{self._display}: bad part Content-Length {length_text!r}")
            body = self._response.read(length)
            if len(body) < length:
                raise SourceError(f"stream from {self._display} ended inside a part")
            self._at_part = False
            return body
        # No length: the body runs until the next boundary line.
        chunks: list[bytes] = []
        size = 0
        while True:
            line = self._readline()
            stripped = line.strip()
            if stripped == self._boundary or stripped == self._end:
                if stripped == self._end:
                    raise EndOfStream(f"{self._display} closed the multipart stream")
                self._at_part = True
                break
            chunks.append(line)
            size += len(line)
            if size > MAX_PART_BYTES:
                raise SourceError(f"{self._display}: part larger than {MAX_PART_BYTES} bytes")
        body = b"".join(chunks)
        # The CRLF before the boundary belongs to the delimiter, not to the JPEG.
        if body.endswith(b"\r\n"):
            body = body[:-2]
        elif body.endswith(b"\n"):
            body = body[:-1]
        return body

    def read(self) -> SourceFrame:
        if self._response is None:
            raise SourceError("read before open")
        try:
            if not self._at_part:
                self._seek_boundary()
            headers = self._read_headers()
            body = self._read_body(headers)
        except SourceError:
            raise
        except TimeoutError as exc:
            raise SourceError(
                f"no data from {self._display} for {self._read_timeout_s:.1f} s"
            ) from exc
        except (OSError, ValueError, http.client.HTTPException) as exc:
            # ValueError: reading a response whose socket another thread shut down.
            raise SourceError(f"stream from {self._display} failed: {exc!r}") from exc
        capture_ts: float | None = None
        stamp = headers.get("x-timestamp")
        if stamp is not None:
            try:
                capture_ts = float(stamp)
            except ValueError:
                capture_ts = None
        return SourceFrame(decode_jpeg(body), capture_ts)

    def close(self) -> None:
        response, self._response = self._response, None
        conn, self._conn = self._conn, None
        with self._sock_lock:
            self._sock = None
        if response is not None:
            response.close()
        if conn is not None:
            conn.close()

    def interrupt(self) -> None:
        with self._sock_lock:
            sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)
