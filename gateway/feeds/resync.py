"""The reconcile loop of a feed that mirrors the database into NATS KV (the analytics
configuration, the camera registry): `sync` makes KV match the database once; this runs
it when the schema is ready, then again after a failed write (`wakeup`), a reconnect
(the connection's generation moved) or `resync_s`, whichever comes first."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from trinetra.events.connection import NatsConnection

__all__ = ["resync_forever"]

log = logging.getLogger(__name__)


async def resync_forever(
    conn: NatsConnection,
    schema_ready: asyncio.Event,
    wakeup: asyncio.Event,
    resync_s: float,
    sync: Callable[[], Awaitable[object]],
    what: str,
) -> None:
    """Run `sync` until cancelled (module docs); a failed one is logged and retried
    after a second."""
    loop = asyncio.get_running_loop()
    await schema_ready.wait()
    while True:
        if not await conn.wait_connected(resync_s):
            continue
        wakeup.clear()
        try:
            await sync()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(f"{what} sync failed", extra={"error": repr(exc)})
            await asyncio.sleep(1.0)
            continue
        generation = conn.generation
        deadline = loop.time() + resync_s
        while not wakeup.is_set() and conn.generation == generation and loop.time() < deadline:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), 0.5)
