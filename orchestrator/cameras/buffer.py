"""A bounded, latest-wins hand-off from a reader thread to the event loop.

The reader thread `put`s without ever blocking: when the buffer is full the oldest item is
evicted (and returned, so the caller can count the drop). A slow consumer therefore sees
fresh frames, never a growing backlog, and never slows the decoder.

Wake-ups cross threads with `loop.call_soon_threadsafe`, but at most one is pending at any
time, so a stalled event loop cannot accumulate callbacks either.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from typing import Generic, TypeVar

__all__ = ["BufferClosed", "LatestBuffer"]

T = TypeVar("T")


class BufferClosed(Exception):
    """The buffer was closed and is empty: no more items will come."""


class LatestBuffer(Generic[T]):
    """`put` from any thread; `get` from coroutines on `loop` (module docs)."""

    def __init__(self, capacity: int, loop: asyncio.AbstractEventLoop) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self._loop = loop
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._ready = asyncio.Event()
        self._wake_pending = False
        self._closed = False

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, item: T) -> T | None:
        """Add `item`; returns the evicted oldest item when the buffer was full."""
        with self._lock:
            if self._closed:
                return item  # nobody will read it: report it as dropped
            evicted = self._items.popleft() if len(self._items) >= self.capacity else None
            self._items.append(item)
            schedule = not self._wake_pending
            self._wake_pending = True
        if schedule:
            self._schedule_wake()
        return evicted

    def _schedule_wake(self) -> None:
        with contextlib.suppress(RuntimeError):  # loop closed: nobody is waiting any more
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        with self._lock:
            self._wake_pending = False
        self._ready.set()

    def get_nowait(self) -> T | None:
        """The oldest buffered item, or None when empty (raises BufferClosed when closed)."""
        with self._lock:
            if self._items:
                return self._items.popleft()
            if self._closed:
                raise BufferClosed
            return None

    async def get(self) -> T:
        """Wait for the next item; raises BufferClosed once closed and drained."""
        while True:
            item = self.get_nowait()
            if item is not None:
                return item
            self._ready.clear()
            # Re-check after clearing: a put between the check and the clear has either
            # set the event already or scheduled a wake that will set it.
            item = self.get_nowait()
            if item is not None:
                return item
            await self._ready.wait()

    def close(self) -> None:
        """No more puts; waiting `get`s drain what is left, then raise BufferClosed."""
        with self._lock:
            self._closed = True
        self._schedule_wake()
