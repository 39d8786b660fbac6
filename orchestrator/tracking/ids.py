"""Where a tracker's public ids come from.

A published track id must never be handed out again on the same camera: consumers join a
track's events by it. Within one process a counter guarantees that (`SequentialIds`, the
default). A store node can die at any moment, taking its counter with it, so it uses
`ReservedIds`: ids only from blocks reserved durably before use
(`orchestrator/tracking/id_blocks.py`), which a restarted node never gets again.
"""

from __future__ import annotations

import asyncio
from typing import Protocol


class TrackIds(Protocol):
    """A source of new public track ids, each handed out once."""

    def take(self, count: int) -> list[int]:
        """Up to `count` new ids, ascending; fewer (even none) when no more are available
        yet: the tracker then keeps those tracks without an id until a later frame."""
        ...

    @property
    def next_id(self) -> int:
        """Greater than every id handed out so far."""
        ...


class SequentialIds:
    """1, 2, 3, ... from memory: never runs out, forgotten with the process."""

    def __init__(self, next_id: int = 1) -> None:
        if next_id < 1:
            raise ValueError("track ids start at 1")
        self._next = next_id

    def take(self, count: int) -> list[int]:
        ids = list(range(self._next, self._next + count))
        self._next += count
        return ids

    @property
    def next_id(self) -> int:
        return self._next


class ReservedIds:
    """Ids from reserved blocks only, in the order the blocks were added.

    `wanted()` returns once fewer than `low_water` ids are left, so a supplier can reserve
    the next block while this one still lasts; until it arrives, `take` returns what is
    left (possibly nothing) and never makes an id up.
    """

    def __init__(self, low_water: int = 500) -> None:
        if low_water < 1:
            raise ValueError("low_water must be >= 1")
        self._low_water = low_water
        self._blocks: list[range] = []
        self._next = 1  # greater than every id handed out or reserved so far
        self._wanted = asyncio.Event()
        self._wanted.set()

    @property
    def remaining(self) -> int:
        return sum(len(block) for block in self._blocks)

    @property
    def next_id(self) -> int:
        return self._next

    def add(self, block: range) -> None:
        """Make a reserved block available; it must lie above every id seen so far (a
        reservation that did not would be a bug in the reserving store)."""
        if block.step != 1 or len(block) == 0:
            raise ValueError(f"not a block of ids: {block!r}")
        if block.start < self._next:
            raise ValueError(f"block {block!r} overlaps ids already reserved or issued")
        self._blocks.append(block)
        self._next = block.stop
        self._check_low()

    def take(self, count: int) -> list[int]:
        ids: list[int] = []
        while count > len(ids) and self._blocks:
            block = self._blocks[0]
            n = min(count - len(ids), len(block))
            ids.extend(block[:n])
            rest = block[n:]
            if rest:
                self._blocks[0] = rest
            else:
                self._blocks.pop(0)
        self._check_low()
        return ids

    async def wanted(self) -> None:
        """Return once another block should be reserved."""
        await self._wanted.wait()

    def _check_low(self) -> None:
        if self.remaining < self._low_water:
            self._wanted.set()
        else:
            self._wanted.clear()
