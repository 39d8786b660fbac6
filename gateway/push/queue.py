"""The bounded priority queue in front of Triton for pushed frames (sync and async).

`slots` frames run at once; the others wait, served by priority rank, then in arrival
order. At most `max_waiting` wait: a frame arriving at a full queue takes the place of
the newest waiter of the lowest priority if it outranks it (that one is refused with
`QueueFullError`), and is refused itself otherwise. So bulk frames can fill the queue
but never keep an urgent frame out, and nothing waits without bound.

A waiter that gives up (its request's timeout, a client gone) leaves the queue; a slot
handed to it as it gave up is passed on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

__all__ = ["PriorityGate", "QueueFullError"]


class QueueFullError(Exception):
    """The queue is full of frames at least as urgent (or this one was displaced)."""


@dataclass(order=True)
class _Waiter:
    rank: int
    seq: int
    granted: asyncio.Future[None] = field(compare=False)


class PriorityGate:
    def __init__(self, slots: int, max_waiting: int) -> None:
        if slots < 1 or max_waiting < 1:
            raise ValueError("need slots >= 1 and max_waiting >= 1")
        self.slots = slots
        self.max_waiting = max_waiting
        self._running = 0
        self._waiting: list[_Waiter] = []
        self._seq = itertools.count()

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def ahead_of(self, rank: int) -> int:
        """Frames a new frame of `rank` would wait behind (running ones included)."""
        return self._running + sum(1 for w in self._waiting if w.rank <= rank)

    @contextlib.asynccontextmanager
    async def slot(self, rank: int) -> AsyncIterator[float]:
        """Hold one slot for the body; yields the seconds waited for it."""
        started = time.perf_counter()
        await self._acquire(rank)
        try:
            yield time.perf_counter() - started
        finally:
            self._release()

    async def _acquire(self, rank: int) -> None:
        if self._running < self.slots and not self._waiting:
            self._running += 1
            return
        if len(self._waiting) >= self.max_waiting:
            worst = max(self._waiting)
            if worst.rank <= rank:
                raise QueueFullError(f"{len(self._waiting)} frames are waiting")
            self._waiting.remove(worst)
            worst.granted.set_exception(
                QueueFullError("displaced from the full queue by a more urgent frame")
            )
        waiter = _Waiter(rank, next(self._seq), asyncio.get_running_loop().create_future())
        self._waiting.append(waiter)
        try:
            await waiter.granted
        except asyncio.CancelledError:
            if waiter in self._waiting:
                self._waiting.remove(waiter)
            elif (
                waiter.granted.done()
                and not waiter.granted.cancelled()
                and waiter.granted.exception() is None
            ):
                self._release()  # granted as it was cancelled: pass the slot on
            raise

    def _release(self) -> None:
        self._running -= 1
        while self._waiting and self._running < self.slots:
            first = min(self._waiting)
            self._waiting.remove(first)
            if not first.granted.done():
                self._running += 1
                first.granted.set_result(None)
