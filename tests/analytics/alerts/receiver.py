"""A real HTTP webhook receiver for the tests: stdlib http.server in a thread on a free
loopback port. It answers each POST with the next status of a script (the last one
repeats), checks the signature as a receiver would (verify_signature), and records what
it got and when."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from trinetra.webhooks.signature import EVENT_ID_HEADER, SIGNATURE_HEADER, verify_signature

SECRET = "receiver-secret-0123456789"


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 drops the SYNs of a burst of concurrent deliveries, and a
    # dropped SYN is retried after a whole second: the receiver's artefact, not ours.
    request_queue_size = 128
    daemon_threads = True


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float  # wall clock, seconds
    signature_ok: bool
    status: int  # what the receiver answered

    @property
    def event_id(self) -> str:
        return self.headers.get(EVENT_ID_HEADER.lower(), "")


class Receiver:
    def __init__(self, statuses: Sequence[int] = (200,), secret: str = SECRET) -> None:
        self.secret = secret
        self._statuses = list(statuses)
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as real receivers do: a connection per alert is not what is timed.
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                signature = headers.get(SIGNATURE_HEADER.lower(), "")
                ok = verify_signature(receiver.secret, signature, body)
                status = receiver._next_status()
                with receiver._lock:
                    receiver._deliveries.append(
                        Delivery(self.path, headers, body, time.time(), ok, status)
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _next_status(self) -> int:
        with self._lock:
            return self._statuses.pop(0) if len(self._statuses) > 1 else self._statuses[0]

    def answer(self, *statuses: int) -> None:
        """From now on, answer with these statuses (the last one repeats)."""
        with self._lock:
            self._statuses = list(statuses)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/alerts"

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def receiving(statuses: Sequence[int] = (200,)) -> Iterator[Receiver]:
    receiver = Receiver(statuses)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.close()
