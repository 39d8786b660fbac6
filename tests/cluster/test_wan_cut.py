"""A store's WAN link cut for real for 60 s (its own network namespace, the veth taken
down): the store keeps publishing into its own leaf meanwhile, the hub receives nothing
of it, and after the link returns every event arrives, once each, in order per camera.

The cut began with the package (conftest.py `wan_cut`) and ran under the other tests."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from tests.cluster.conftest import CUT_CAMERAS, CUT_RATE, CUT_S, CUT_STORE, WanCut
from tests.cluster.helpers import client, frames_per_camera, hub_count, hub_events
from tests.support.polling import eventually

pytestmark = pytest.mark.timeout(360)

# After the link returns: the leaf reconnects within ~1 s, but the hub's source retries
# back off 10 s per failed attempt (capped at 2 min by nats-server), so after a 60 s cut
# copying resumes within about a minute.
CATCH_UP_BOUND_S = 150.0


async def test_a_cut_store_keeps_working_and_catches_up_in_order(wan_cut: WanCut) -> None:
    await asyncio.to_thread(wan_cut.wait, CUT_S + 60)
    # The cut was real: the hub's copy stood still while the link was down ...
    assert wan_cut.hub_early == wan_cut.hub_late, (wan_cut.hub_early, wan_cut.hub_late)
    # ... while the store's own JetStream kept acking its publishes.
    during = wan_cut.stored_at(wan_cut.restored_at - 1) - wan_cut.stored_at(wan_cut.cut_at + 5)
    expected_during = CUT_CAMERAS * CUT_RATE * (CUT_S - 6)
    assert during >= 0.8 * expected_during, (during, expected_during)

    await asyncio.sleep(2)  # a little traffic after the link is back, then stop the store
    wan_cut.publisher.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(wan_cut.publisher.wait, 90) == 0
    final = wan_cut.reports()[-1]
    assert final.get("final") and final["flushed"], final
    assert final["dropped"] == 0, final
    frames: dict[str, int] = final["frames"]
    total = sum(frames.values())
    assert final["stored"] == total

    async with client(wan_cut.hub_urls) as nc:
        await eventually(
            lambda: _equals(hub_count(nc, "DETECTIONS", CUT_STORE), total),
            CATCH_UP_BOUND_S,
            interval_s=0.5,
            message=f"all {total} events of the cut store at the hub",
        )
        caught_up_s = time.time() - wan_cut.restored_at
        events = await hub_events(nc, "DETECTIONS", CUT_STORE, total + 1)
    assert len(events) == total
    assert frames_per_camera(events) == {camera: list(range(n)) for camera, n in frames.items()}
    print(
        f"\nWAN cut {CUT_S:g} s: {during} events acked by the leaf during the cut, "
        f"hub held {wan_cut.hub_late} of the store meanwhile; all {total} at the hub "
        f"{caught_up_s:.1f} s after the link returned; 0 lost, 0 duplicated, in order"
    )


async def _equals(value: object, expected: int) -> bool:
    return bool(await value == expected)  # type: ignore[misc]
