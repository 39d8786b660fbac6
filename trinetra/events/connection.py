"""One long-lived NATS connection that may start while NATS is down.

`nats.connect()` only returns once a server answers, so `NatsConnection.start()` runs it in
a background task and returns at once; users wait on `wait_connected()` or check
`connected`. After the first connect, nats-py's own reconnect (`max_reconnect_attempts=-1`)
keeps the same client alive forever, replaying subscriptions on each reconnect.
`generation` increases on every (re)connect so users can redo per-connection setup
(streams, KV buckets) in case the server came back empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from types import TracebackType

from nats.aio.client import Client as NATS

from trinetra.retry import Backoff

log = logging.getLogger(__name__)

# Cap on the wait between two failed first-connect attempts, seconds.
_CONNECT_BACKOFF_MAX_S = 10.0


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
    ) -> None:
        self._servers = [servers] if isinstance(servers, str) else list(servers)
        self._name = name
        self._reconnect_time_wait_s = reconnect_time_wait_s
        self._connect_timeout_s = connect_timeout_s
        # A dead peer that sends no FIN/RST is only noticed by missed pings.
        self._ping_interval_s = ping_interval_s
        self._max_outstanding_pings = max_outstanding_pings
        self._pending_size = pending_size
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
        self._closed = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        client, self._client = self._client, None
        self._connected.clear()
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()

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
