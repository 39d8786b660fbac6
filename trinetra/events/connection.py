"""One long-lived NATS connection that may start while NATS is down.

`nats.connect()` only returns once a server answers, so `NatsConnection.start()` runs it in
a background task and returns at once; users wait on `wait_connected()` or check
`connected`. After the first connect, nats-py's own reconnect (`max_reconnect_attempts=-1`)
keeps the same client alive forever, replaying subscriptions on each reconnect.
`generation` increases on every (re)connect so users can redo per-connection setup
(streams, KV buckets) in case the server came back empty.

`close()` returns within its bound whatever the server does. nats-py's own close flushes
what is pending and waits for the socket to close, which against a server that stopped
reading never ends; and nats-py swallows the cancellation meant to end it (its flush
catches `CancelledError`), so no caller's timeout can. A store node's shutdown hung that
way, its NATS connection held open. Here the client's close runs as a task waited for at
most `close_timeout_s`; then its socket is aborted, which ends every wait on it. A forced
flush (more than `pending_size` bytes waiting) likewise gives up after
`flush_timeout_s` instead of blocking its publisher for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from nats.aio.client import Client as NATS

from trinetra.retry import Backoff

log = logging.getLogger(__name__)

# Cap on the wait between two failed first-connect attempts, seconds.
_CONNECT_BACKOFF_MAX_S = 10.0
# After an aborted socket, how long the abandoned close may take to notice, seconds.
_ABORT_GRACE_S = 1.0


class NatsConnection:
    """Background-connecting, forever-reconnecting NATS client holder."""

    def __init__(
        self,
        servers: str | Sequence[str],
        *,
        name: str = "trinetra",
        reconnect_time_wait_s: float = 1.0,
        connect_timeout_s: float = 2.0,
        ping_interval_s: float = 10.0,
        max_outstanding_pings: int = 3,
        pending_size: int = 8 * 1024 * 1024,
        flush_timeout_s: float = 10.0,
        close_timeout_s: float = 5.0,
    ) -> None:
        self._servers = [servers] if isinstance(servers, str) else list(servers)
        self._name = name
        self._reconnect_time_wait_s = reconnect_time_wait_s
        self._connect_timeout_s = connect_timeout_s
        # A dead peer that sends no FIN/RST is only noticed by missed pings.
        self._ping_interval_s = ping_interval_s
        self._max_outstanding_pings = max_outstanding_pings
        self._pending_size = pending_size
        self._flush_timeout_s = flush_timeout_s
        self._close_timeout_s = close_timeout_s
        self._client: NATS | None = None
        self._connected = asyncio.Event()
        self._generation = 0
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._error_logged = False

    @property
    def servers(self) -> list[str]:
        return list(self._servers)

    @property
    def client(self) -> NATS | None:
        """The client once the first connect succeeded (it then lives until `close`)."""
        return self._client

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    @property
    def generation(self) -> int:
        """0 before the first connect, then +1 on every connect and reconnect."""
        return self._generation

    @property
    def closed(self) -> bool:
        return self._closed

    async def start(self) -> None:
        """Begin connecting in the background; returns immediately."""
        if self._closed:
            raise RuntimeError("connection is closed")
        if self._task is None:
            self._task = asyncio.create_task(self._connect_forever(), name="nats-connect")

    async def wait_connected(self, timeout_s: float | None = None) -> bool:
        """True once connected (now or within `timeout_s` seconds), False otherwise."""

        async def until_connected() -> None:
            while not self.connected:
                if self._connected.is_set():
                    # nats-py flips its status before our disconnected callback runs; an
                    # Event.wait() on a set event would not yield, so poll instead.
                    await asyncio.sleep(0.01)
                else:
                    await self._connected.wait()

        try:
            await asyncio.wait_for(until_connected(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Stop connecting and close the client, within `close_timeout_s` (module docs).
        Never raises for NATS problems; a cancellation of the caller propagates."""
        self._closed = True
        steps: list[asyncio.Future[Any]] = []
        if self._task is not None and not self._task.done():
            self._task.cancel()
            steps.append(self._task)
        client, self._client = self._client, None
        self._connected.clear()
        if client is not None:
            steps.append(asyncio.ensure_future(_close_quietly(client)))
        if not steps:
            return
        _, pending = await asyncio.wait(steps, timeout=self._close_timeout_s)
        if not pending:
            return
        log.warning(
            "NATS close did not finish in time; aborting the socket",
            extra={"connection": self._name, "timeout_s": self._close_timeout_s},
        )
        if client is not None:
            _abort_socket(client)
        _, pending = await asyncio.wait(pending, timeout=_ABORT_GRACE_S)
        for step in pending:
            step.cancel()  # left behind: it must not hold the caller up

    async def __aenter__(self) -> NatsConnection:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _connect_forever(self) -> None:
        backoff = Backoff(
            self._reconnect_time_wait_s,
            max(_CONNECT_BACKOFF_MAX_S, self._reconnect_time_wait_s),
        )
        while not self._closed:
            client = NATS()
            try:
                # With max_reconnect_attempts=-1 nats-py also retries the *initial*
                # connect internally; the loop here covers any failure it still raises.
                await client.connect(
                    servers=self._servers,
                    name=self._name,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=self._reconnect_time_wait_s,  # type: ignore[arg-type]
                    connect_timeout=self._connect_timeout_s,  # type: ignore[arg-type]
                    ping_interval=self._ping_interval_s,  # type: ignore[arg-type]
                    max_outstanding_pings=self._max_outstanding_pings,
                    pending_size=self._pending_size,
                    flush_timeout=self._flush_timeout_s,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                    closed_cb=self._on_closed,
                )
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await client.close()
                raise
            except Exception as exc:
                delay = backoff.next_delay()
                log.warning(
                    "NATS connect failed; retrying",
                    extra={
                        "servers": self._servers,
                        "connection": self._name,
                        "retry_in_s": round(delay, 3),
                        "error": str(exc),
                    },
                )
                with contextlib.suppress(Exception):
                    await client.close()
                await asyncio.sleep(delay)
                continue
            self._client = client
            self._mark_connected()
            url = client.connected_url
            log.info(
                "connected to NATS",
                extra={
                    "server": url.netloc if url is not None else self._servers,
                    "connection": self._name,
                },
            )
            return

    def _mark_connected(self) -> None:
        self._generation += 1
        self._error_logged = False
        self._connected.set()

    async def _on_error(self, exc: Exception) -> None:
        # nats-py reports every failed (re)connect attempt here: log the first of a run
        # at WARNING and the rest at DEBUG so an outage does not flood the log.
        level = logging.DEBUG if self._error_logged else logging.WARNING
        self._error_logged = True
        log.log(level, "NATS error", extra={"connection": self._name, "error": repr(exc)})

    async def _on_disconnected(self) -> None:
        self._connected.clear()
        if not self._closed:
            log.warning("disconnected from NATS; reconnecting", extra={"connection": self._name})

    async def _on_reconnected(self) -> None:
        self._mark_connected()
        log.info("reconnected to NATS", extra={"connection": self._name})

    async def _on_closed(self) -> None:
        self._connected.clear()


async def _close_quietly(client: NATS) -> None:
    with contextlib.suppress(Exception):
        await client.close()


def _abort_socket(client: NATS) -> None:
    """Drop the client's TCP connection at once, unsent data and all (nats-py has no API
    for it; its transport wraps an asyncio StreamWriter)."""
    writer = getattr(getattr(client, "_transport", None), "_io_writer", None)
    transport = getattr(writer, "transport", None)
    if transport is not None:
        with contextlib.suppress(Exception):
            transport.abort()
