"""The fault suite: every part of a running chain killed (or frozen) mid-stream for a
short outage, restored, and the system left to settle; then what reached JetStream is
compared by event id with what reached the database (faults.py, ledger.py).

Asserted for each fault: 0 events lost, 0 stored twice, 0 track ids reused, no track left
open, recovery within the fault's stated bound. The figures of every fault are printed
as a table at the end of the run (conftest.py).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import nats
import pytest

from tests.faults.chain import STORE, Chain
from tests.faults.faults import FAULTS, Fault, run_fault
from tests.faults.ledger import Ledger
from tests.support.polling import eventually
from trinetra.events.publisher import MSG_ID_HEADER
from trinetra.events.schema import (
    BoundingBox,
    TrackStartedEvent,
    encode,
    make_track_uid,
    subject_for,
)

# The first test also starts the chain (~30 s on two cores).
pytestmark = pytest.mark.timeout(240)


@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
async def test_fault(
    fault: Fault, chain: Chain, ledger: Ledger, fault_table: list[tuple[str, ...]]
) -> None:
    outcome = await run_fault(chain, ledger, fault)
    fault_table.append(outcome.row())
    problems = outcome.problems()
    part = getattr(chain, fault.target)
    assert not problems, (
        f"{fault.id}: " + "; ".join(problems) + f" (seconds per step: {outcome.phases})"
        f"\n--- {part.name} log ---\n{part.log_tail()}"
        f"\n--- store node log ---\n{chain.node.log_tail()}"
    )


async def test_the_comparison_sees_each_defect(chain: Chain, ledger: Ledger) -> None:
    """The figures are not zero by construction: after the faults, one of each defect is
    made by hand on the same chain, and each is counted. A second track under a track id
    the node already gave out (a reused id, and a track never ended), a stored row deleted
    (lost) and one stored again under another time (stored twice)."""
    await asyncio.to_thread(chain.start_missing)
    await asyncio.to_thread(chain.node.stop)  # its own tracks are all ended then
    await ledger.streams.refresh(chain.nats.url)
    marks = ledger.streams.last_seqs()
    earlier = next(
        e for e in ledger.streams.by_seq["TRACKS"].values() if isinstance(e, TrackStartedEvent)
    )
    later = earlier.occurred_at + timedelta(hours=1)
    again = TrackStartedEvent(
        store_id=STORE,
        camera_id=earlier.camera_id,
        track_id=earlier.track_id,
        track_uid=make_track_uid(STORE, earlier.camera_id, earlier.track_id, later),
        occurred_at=later,
        frame_seq=0,
        box=BoundingBox(x1=0.1, y1=0.2, x2=0.3, y2=0.6),
        score=0.8,
    )
    client = await nats.connect(chain.nats.url)
    try:
        await client.jetstream().publish(
            subject_for(again), encode(again), headers={MSG_ID_HEADER: str(again.event_id)}
        )
    finally:
        await client.close()

    async def ingested() -> bool:
        return not await ledger.missing()

    await eventually(ingested, 30, message="the hand-made track stored")
    conn = await asyncpg.connect(chain.database_url)
    try:
        lost = await conn.fetchval(
            "DELETE FROM detections WHERE event_id = "
            "(SELECT event_id FROM detections ORDER BY occurred_at DESC LIMIT 1) "
            "RETURNING event_id"
        )
        twice = await conn.fetchval(
            "INSERT INTO track_events SELECT occurred_at + interval '1 microsecond', "
            "event_id, store_id, camera_id, kind, track_id, track_uid, frame_seq, x1, y1, "
            "x2, y2, score, sample_every_frames, details, published_at, ingested_at "
            "FROM track_events ORDER BY occurred_at LIMIT 1 RETURNING event_id"
        )
    finally:
        await conn.close()

    found = await ledger.compare(marks)
    assert found.lost == {lost}
    assert found.stored_twice == {twice}
    assert found.ids_reused == {f"{earlier.camera_id}#{earlier.track_id}"}
    assert found.open_tracks == {str(again.track_uid)}
    assert found.events >= 1  # the hand-made track (and whatever alert the stop raised)
