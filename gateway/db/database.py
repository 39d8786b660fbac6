"""The connection pool, and which database errors mean "try again later".

The pool starts without connecting (min_size 0), so the gateway can come up while the
database is down and report not-ready; asyncpg replaces connections the server closed
(a restart) on the next acquire. jsonb values are Python objects both ways.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

log = logging.getLogger(__name__)


def _encode_jsonb(value: Any) -> bytes:
    # jsonb's binary wire format: a version byte (1), then the JSON text.
    return b"\x01" + json.dumps(value, separators=(",", ":")).encode()


def _decode_jsonb(data: bytes) -> Any:
    return json.loads(data[1:])


async def init_connection(conn: asyncpg.Connection) -> None:
    """Per-connection setup: jsonb as Python values, in binary format so that COPY (which
    is binary in asyncpg) can carry it too."""
    await conn.set_type_codec(
        "jsonb",
        encoder=_encode_jsonb,
        decoder=_decode_jsonb,
        schema="pg_catalog",
        format="binary",
    )


# SQLSTATE classes that say nothing about the statement itself: the server is going away,
# starting up, out of resources, or the transaction collided with another.
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "53", "57", "58", "40")


def is_transient(error: BaseException) -> bool:
    """True when the same statement may succeed later (server down, restarting, busy)."""
    if isinstance(error, OSError | asyncio.TimeoutError | ConnectionError):
        return True
    if isinstance(error, asyncpg.InterfaceError):
        # "connection is closed", "another operation is in progress" after a lost link.
        return True
    if isinstance(error, asyncpg.PostgresError):
        sqlstate = getattr(error, "sqlstate", None) or ""
        return sqlstate.startswith(_TRANSIENT_SQLSTATE_PREFIXES)
    return False


class Database:
    """An asyncpg pool that may be started while the server is down."""

    def __init__(self, dsn: str, *, max_size: int = 10, statement_timeout_s: float = 15.0) -> None:
        self._dsn = dsn
        self._max_size = max_size
        self._timeout = statement_timeout_s
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("database not started")
        return self._pool

    async def start(self) -> None:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=0,
                max_size=self._max_size,
                command_timeout=self._timeout,
                timeout=min(self._timeout, 5.0),
                init=init_connection,
                # A connection idle this long is closed: keeps the pool small off-peak and
                # flushes connections to a server that went away and came back.
                max_inactive_connection_lifetime=60.0,
            )

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 5.0)
            except (TimeoutError, Exception):
                pool.terminate()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.pool.acquire(timeout=self._timeout) as conn:
            yield conn

    async def ping(self, timeout_s: float = 2.0) -> bool:
        """True when a `SELECT 1` answers within `timeout_s`."""
        try:
            async with asyncio.timeout(timeout_s):
                async with self.pool.acquire() as conn:
                    await conn.fetchval("SELECT 1")
        except Exception as exc:
            log.debug("database ping failed", extra={"error": repr(exc)})
            return False
        return True

    async def wait_available(self, poll_s: float = 1.0) -> None:
        """Return once the server answers (logs the outage once)."""
        warned = False
        while not await self.ping():
            if not warned:
                log.warning("database unavailable; waiting for it")
                warned = True
            await asyncio.sleep(poll_s)
