"""Shutdown steps that cannot hang: every application stops through these.

Not `asyncio.wait_for` nor "cancel, then await": both wait for a cancelled task to end,
and a task stuck in a NATS publish to a server that stopped reading never ends (nats-py
swallows the cancellation in its flush). That is how a store node's shutdown once hung
with its NATS connection open, its last step never reached.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

log = logging.getLogger(__name__)

# No single shutdown step may hold the others up (a peer that never answers a close).
SHUTDOWN_STEP_S = 10.0


async def bounded_step(
    step: Awaitable[object], what: str, timeout_s: float = SHUTDOWN_STEP_S
) -> None:
    """Give one shutdown step `timeout_s`, then go on without it; a step that fails is
    logged, and the caller's next step runs."""
    task = asyncio.ensure_future(step)
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if not done:
        task.cancel()
        log.warning("shutdown step timed out", extra={"step": what, "timeout_s": timeout_s})
    elif not task.cancelled() and (error := task.exception()) is not None:
        log.error("shutdown step failed", extra={"step": what}, exc_info=error)


async def cancel_and_wait(task: asyncio.Task[Any], timeout_s: float = SHUTDOWN_STEP_S) -> bool:
    """Cancel `task` and wait for it to end, at most `timeout_s`; True if it ended. A task
    that swallows its cancellation is left behind (logged), never awaited for good."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if not done:
        log.warning("task ignored its cancellation", extra={"task": task.get_name()})
        return False
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("task failed while stopping", extra={"task": task.get_name()}, exc_info=error)
    return True
