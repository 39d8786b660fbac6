"""The push queue's rules on their own (gateway/push/queue.py): order by priority then
arrival, displacement at a full queue, and waiters that give up."""

from __future__ import annotations

import asyncio

import pytest

from gateway.push.queue import PriorityGate, QueueFullError


async def hold(
    gate: PriorityGate, rank: int, order: list[str], name: str, release: asyncio.Event
) -> None:
    async with gate.slot(rank):
        order.append(name)
        await release.wait()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_waiters_are_served_by_priority_then_arrival() -> None:
    gate = PriorityGate(slots=1, max_waiting=8)
    order: list[str] = []
    release = asyncio.Event()
    tasks = [asyncio.create_task(hold(gate, 3, order, "running", release))]
    await settle()
    for name, rank in (("low-1", 3), ("normal", 2), ("low-2", 3), ("urgent", 0), ("high", 1)):
        tasks.append(asyncio.create_task(hold(gate, rank, order, name, release)))
        await settle()
    assert gate.running == 1 and gate.waiting == 5
    assert gate.ahead_of(1) == 3  # the running one, urgent and high
    release.set()
    await asyncio.gather(*tasks)
    assert order == ["running", "urgent", "high", "normal", "low-1", "low-2"]
    assert gate.running == 0 and gate.waiting == 0


async def test_a_full_queue_refuses_or_displaces_the_newest_lowest() -> None:
    gate = PriorityGate(slots=1, max_waiting=2)
    order: list[str] = []
    release = asyncio.Event()
    running = asyncio.create_task(hold(gate, 2, order, "running", release))
    await settle()
    first = asyncio.create_task(hold(gate, 3, order, "low-1", release))
    second = asyncio.create_task(hold(gate, 3, order, "low-2", release))
    await settle()
    with pytest.raises(QueueFullError):
        await hold(gate, 3, order, "low-3", release)  # not more urgent: refused
    urgent = asyncio.create_task(hold(gate, 0, order, "urgent", release))
    await settle()
    with pytest.raises(QueueFullError, match="displaced"):
        await second  # the newest of the lowest made room
    release.set()
    await asyncio.gather(running, first, urgent)
    assert order == ["running", "urgent", "low-1"]


async def test_a_waiter_that_gives_up_leaves_and_passes_its_slot_on() -> None:
    gate = PriorityGate(slots=1, max_waiting=4)
    order: list[str] = []
    release = asyncio.Event()
    running = asyncio.create_task(hold(gate, 2, order, "running", release))
    await settle()
    impatient = asyncio.create_task(hold(gate, 0, order, "impatient", release))
    patient = asyncio.create_task(hold(gate, 2, order, "patient", release))
    await settle()
    impatient.cancel()
    await settle()
    assert gate.waiting == 1
    release.set()
    await asyncio.gather(running, patient)
    assert impatient.cancelled() and order == ["running", "patient"]

    # Granted in the same turn as it was cancelled: the slot is not lost.
    release.clear()
    async with gate.slot(2):
        late = asyncio.create_task(hold(gate, 2, order, "late", release))
        after = asyncio.create_task(hold(gate, 2, order, "after", release))
        await settle()
    # Leaving the block granted `late` its slot; it gives it up before it ever ran.
    late.cancel()
    release.set()
    await asyncio.wait_for(after, 2)
    assert late.cancelled() and order[-1] == "after"
    assert gate.running == 0 and gate.waiting == 0
