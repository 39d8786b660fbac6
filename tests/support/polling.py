"""Waiting for something that happens asynchronously: the one polling helper of the tests.

    rows = await eventually(lambda: count_rows(dsn), 30, message="the stored rows")
    eventually_sync(lambda: not path.exists(), 5, message="the temp dir removed")

The predicate is polled every `interval_s` until it returns a truthy value, which is
returned; past `timeout_s` an AssertionError names what was awaited and the last value
seen. `eventually` also takes a predicate that returns an awaitable (an async function),
and awaits it each time. Exceptions from the predicate propagate at once.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, overload

__all__ = ["eventually", "eventually_sync"]

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 20.0
DEFAULT_INTERVAL_S = 0.05


def _timed_out(message: str, timeout_s: float, last: object) -> AssertionError:
    return AssertionError(f"timed out after {timeout_s:g} s waiting for {message} (last: {last!r})")


@overload
async def eventually(
    predicate: Callable[[], Awaitable[T | None]],
    timeout_s: float = ...,
    *,
    interval_s: float = ...,
    message: str = ...,
) -> T: ...


@overload
async def eventually(
    predicate: Callable[[], T | None],
    timeout_s: float = ...,
    *,
    interval_s: float = ...,
    message: str = ...,
) -> T: ...


async def eventually(
    predicate: Callable[[], object],
    timeout_s: float = DEFAULT_TIMEOUT_S,
    *,
    interval_s: float = DEFAULT_INTERVAL_S,
    message: str = "the condition",
) -> object:
    """Poll `predicate` (sync or async) on the event loop until it is truthy (module docs)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() >= deadline:
            raise _timed_out(message, timeout_s, result)
        await asyncio.sleep(interval_s)


def eventually_sync(
    predicate: Callable[[], T | None],
    timeout_s: float = DEFAULT_TIMEOUT_S,
    *,
    interval_s: float = DEFAULT_INTERVAL_S,
    message: str = "the condition",
) -> T:
    """`eventually` for code outside an event loop (fixtures, threads): blocks while polling."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise _timed_out(message, timeout_s, result)
        time.sleep(interval_s)
