"""A small real HTTP MJPEG camera for tests: stdlib http.server on loopback, in a thread.

Serves `multipart/x-mixed-replace` JPEG parts made from real video frames, paced at `fps`.
Knobs reproduce what real cameras do: parts with or without Content-Length, an
X-Timestamp header, corrupt parts every N frames, and a stall (stop sending, keep the
connection open).

It follows the harness's lifecycle (devservices/lifecycle.py) without a child process:
`start()` is idempotent, and a stopped server starts again on the same port.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
from numpy.typing import NDArray

from devservices.lifecycle import LocalService, ServiceStartError

BOUNDARY = "trinetraframe"


@dataclass
class MjpegOptions:
    fps: float = 10.0
    content_length: bool = True
    timestamps: bool = True
    corrupt_every: int = 0  # every Nth part is garbage bytes (0: never)
    stall_after: int = 0  # stop sending (connection held open) after N parts (0: never)
    path: str = "/video"


def encode_frames(frames: Sequence[NDArray[np.uint8]], quality: int = 80) -> list[bytes]:
    encoded: list[bytes] = []
    for frame in frames:
        ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        encoded.append(data.tobytes())
    return encoded


class MjpegServer(LocalService):
    """`with MjpegServer(jpegs) as server: server.url` (module docs). The port is bound
    at construction (the OS picks it unless `port` is given), so the URL is known before
    `start()`."""

    name = "mjpeg"

    def __init__(
        self, jpegs: Sequence[bytes], options: MjpegOptions | None = None, *, port: int = 0
    ) -> None:
        super().__init__()
        self.jpegs = list(jpegs)
        self.options = options or MjpegOptions()
        self.stopping = threading.Event()
        self.parts_sent = 0
        self.connections = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output clean

            def do_GET(self) -> None:
                opts = server.options
                if self.path == "/snapshot.jpg":  # a still image, not a stream
                    body = server.jpegs[0]
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if self.path != opts.path:
                    self.send_error(404, "no such stream")
                    return
                server.connections += 1
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                interval = 1.0 / opts.fps
                next_due = time.monotonic()
                index = 0
                try:
                    while not server.stopping.is_set():
                        if opts.stall_after and index >= opts.stall_after:
                            server.stopping.wait(0.05)
                            continue
                        jpeg = server.jpegs[index % len(server.jpegs)]
                        index += 1
                        if opts.corrupt_every and index % opts.corrupt_every == 0:
                            jpeg = b"\xff\xd8 this is not a jpeg " + bytes(range(256)) * 4
                        head = [f"--{BOUNDARY}", "Content-Type: image/jpeg"]
                        if opts.content_length:
                            head.append(f"Content-Length: {len(jpeg)}")
                        if opts.timestamps:
                            head.append(f"X-Timestamp: {time.time():.6f}")
                        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode())
                        self.wfile.write(jpeg)
                        self.wfile.write(b"\r\n")
                        self.wfile.flush()
                        server.parts_sent += 1
                        next_due += interval
                        delay = next_due - time.monotonic()
                        if delay > 0:
                            server.stopping.wait(delay)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client went away

        self._handler = Handler
        self._httpd: ThreadingHTTPServer | None = self._bind(port)
        self.port = int(self._httpd.server_address[1])
        self._thread: threading.Thread | None = None

    def _bind(self, port: int) -> ThreadingHTTPServer:
        try:
            httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler)
        except OSError as exc:
            raise ServiceStartError(self.name, f"cannot listen on 127.0.0.1:{port}: {exc}") from exc
        httpd.daemon_threads = True
        return httpd

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.options.path}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _start(self, timeout: float) -> None:
        httpd = self._httpd if self._httpd is not None else self._bind(self.port)
        self._httpd = httpd
        self.stopping.clear()
        self._thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop serving: open streams end, the port is released."""
        thread, httpd = self._thread, self._httpd
        self._thread = self._httpd = None
        self.stopping.set()
        if httpd is not None:
            if thread is not None:
                httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=5 if timeout is None else timeout)
