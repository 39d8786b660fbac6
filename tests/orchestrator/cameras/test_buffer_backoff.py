"""LatestBuffer (thread to event loop, latest wins) and Backoff (full jitter)."""

from __future__ import annotations

import asyncio
import random
import threading

import pytest

from orchestrator.cameras import Backoff, BufferClosed, LatestBuffer


async def test_buffer_keeps_the_latest_items_and_reports_evictions() -> None:
    buffer: LatestBuffer[int] = LatestBuffer(2, asyncio.get_running_loop())
    evicted = [buffer.put(i) for i in range(5)]
    assert evicted == [None, None, 0, 1, 2]
    assert [await buffer.get(), await buffer.get()] == [3, 4]
    assert buffer.get_nowait() is None


async def test_put_from_a_thread_wakes_a_waiting_get() -> None:
    buffer: LatestBuffer[int] = LatestBuffer(4, asyncio.get_running_loop())
    getter = asyncio.create_task(buffer.get())
    await asyncio.sleep(0.01)
    assert not getter.done()
    thread = threading.Thread(target=buffer.put, args=(42,))
    thread.start()
    assert await asyncio.wait_for(getter, 1) == 42
    thread.join()


async def test_many_threaded_puts_schedule_at_most_one_wakeup() -> None:
    loop = asyncio.get_running_loop()
    buffer: LatestBuffer[int] = LatestBuffer(1, loop)
    calls = 0
    original = loop.call_soon_threadsafe

    def counting(*args: object, **kwargs: object) -> asyncio.Handle:
        nonlocal calls
        calls += 1
        return original(*args, **kwargs)  # type: ignore[arg-type]

    loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
    try:
        thread = threading.Thread(target=lambda: [buffer.put(i) for i in range(1000)])
        thread.start()
        thread.join()
    finally:
        loop.call_soon_threadsafe = original  # type: ignore[method-assign]
    assert calls == 1  # a stalled loop cannot pile up callbacks
    assert await buffer.get() == 999


async def test_close_drains_then_ends() -> None:
    buffer: LatestBuffer[str] = LatestBuffer(3, asyncio.get_running_loop())
    buffer.put("a")
    buffer.close()
    assert buffer.put("late") == "late"  # refused after close
    assert await buffer.get() == "a"
    with pytest.raises(BufferClosed):
        await buffer.get()


def test_backoff_ceiling_grows_exponentially_to_the_cap() -> None:
    backoff = Backoff(1.0, 30.0)
    assert [backoff.ceiling(n) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.ceiling(10_000) == 30


def test_backoff_full_jitter_stays_under_the_ceiling_and_spreads() -> None:
    backoff = Backoff(1.0, 30.0, rng=random.Random(1))
    delays = [backoff.delay(3) for _ in range(500)]
    assert all(0.0 <= d <= 8.0 for d in delays)
    # Full jitter: spread over the whole range, not clustered at the ceiling.
    assert min(delays) < 1.0 and max(delays) > 7.0
    assert 3.0 < sum(delays) / len(delays) < 5.0
    same = Backoff(1.0, 30.0, rng=random.Random(1))
    assert [same.delay(3) for _ in range(500)] == delays


def test_backoff_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        Backoff(0.0, 1.0)
    with pytest.raises(ValueError):
        Backoff(2.0, 1.0)
