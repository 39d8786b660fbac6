"""The faults, and the runner that injects one into a running chain and measures it.

A run, per fault:
1. every part running (`Chain.start_missing`), and the chain streaming: a detection that
   happened after the run began is in the database and the node tracks people;
2. the fault: SIGKILL to the part's whole process group (kill -9), or SIGSTOP and later
   SIGCONT (a hung process), for a short outage, then the part restored (restarted on its
   ports, ready again);
3. recovery: the time from the restore until a detection that happened after it is
   stored and every durable consumer's lag (pending + unacked) is 0 at once;
4. settling: the store node stopped cleanly (it ends its tracks), the lag back to 0 and
   every event id JetStream holds found in the database, then the comparison
   (ledger.py) of the fault's window.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

import asyncpg

from devservices.lifecycle import ProcessService
from tests.faults.chain import Chain
from tests.faults.ledger import Comparison, Ledger, consumer_lag
from tests.support.polling import eventually

# How long the chain may take to stream again before a fault, to settle after it, and
# at most to recover (a recovery past its bound is still measured, up to this).
STREAMING_TIMEOUT_S: Final = 90.0
SETTLE_TIMEOUT_S: Final = 45.0
RECOVERY_CAP_S: Final = 90.0


@dataclass(frozen=True)
class Fault:
    id: str  # the test id and the table's row
    target: str  # the Chain attribute of the part faulted
    outage_s: float  # how long the part stays down (or frozen)
    recovery_bound_s: float  # the stated bound, from the restore (module docs, step 3)
    how: Literal["kill", "freeze"] = "kill"
    # "streaming": mid-stream; "idle": the gateway has drained everything (lag 0);
    # "mid-drain": the gateway killed while it writes a backlog (see `_kill_mid_drain`).
    moment: Literal["streaming", "idle", "mid-drain"] = "streaming"


# Bounds: a restart's own start time is part of the outage, not of the recovery. Where a
# reconnect backoff or a redelivery delay applies, the bound is that delay plus the
# ~5 s the CPU pipeline needs to get a frame from the camera into the database.
FAULTS: Final = (
    # Clients reconnect every second (trinetra/events/connection.py).
    Fault("nats", "nats", outage_s=3.0, recovery_bound_s=25.0),
    # A failed inference call is retried with the next frames.
    Fault("triton", "triton", outage_s=3.0, recovery_bound_s=25.0),
    # What the killed gateway held unacked comes back after ack_wait (chain.py: 4 s).
    Fault("gateway-idle", "gateway", outage_s=3.0, recovery_bound_s=20.0, moment="idle"),
    Fault("gateway-mid-drain", "gateway", outage_s=3.0, recovery_bound_s=20.0, moment="mid-drain"),
    # Ingest retries the database with backoff capped at 5 s (gateway/config.py).
    Fault("postgresql-durable", "postgres", outage_s=3.0, recovery_bound_s=20.0),
    # The restarted node resumes its tracker, ends the lost tracks (node_restart).
    Fault("store-node", "node", outage_s=3.0, recovery_bound_s=25.0),
    # The node reopens the camera with backoff (orchestrator/cameras).
    Fault("camera", "camera", outage_s=3.0, recovery_bound_s=30.0),
    Fault("analytics", "analytics", outage_s=3.0, recovery_bound_s=20.0),
    Fault("identity", "identity", outage_s=3.0, recovery_bound_s=20.0),
)


@dataclass
class Outcome:
    fault: Fault
    outage_s: float  # from the fault to the part serving again
    recovery_s: float | None  # None: not recovered within RECOVERY_CAP_S
    settled: bool
    comparison: Comparison
    phases: dict[str, float]  # seconds each step of the run took (module docs)

    def row(self) -> tuple[str, ...]:
        c = self.comparison
        recovery = "-" if self.recovery_s is None else f"{self.recovery_s:.1f}"
        return (
            self.fault.id,
            f"{self.outage_s:.1f}",
            str(c.events),
            str(len(c.lost)),
            str(len(c.stored_twice)),
            str(len(c.ids_reused)),
            str(len(c.open_tracks)),
            f"{recovery} (<= {self.fault.recovery_bound_s:g})",
        )

    def problems(self) -> list[str]:
        c = self.comparison
        found = []
        if c.lost:
            found.append(f"{len(c.lost)} events lost: {sorted(map(str, c.lost))[:5]}")
        if c.stored_twice:
            found.append(
                f"{len(c.stored_twice)} stored twice: {sorted(map(str, c.stored_twice))[:5]}"
            )
        if c.ids_reused:
            found.append(f"track ids reused: {sorted(c.ids_reused)[:5]}")
        if c.open_tracks:
            found.append(f"{len(c.open_tracks)} tracks left open: {sorted(c.open_tracks)[:5]}")
        if c.rejected:
            found.append(f"{c.rejected} events refused by the ingest")
        if self.recovery_s is None or self.recovery_s > self.fault.recovery_bound_s:
            found.append(f"recovery {self.row()[-1]} s")
        if not self.settled:
            found.append("the chain did not settle (lag or missing events after the node stopped)")
        if c.events == 0:
            found.append("no events in the fault's window: the fault did not land mid-stream")
        return found


def _hard_kill(service: ProcessService) -> None:
    """kill -9 to every process of the part at once, then reap it (`kill()` alone may be
    gentler: PostgreSQL's is an immediate shutdown)."""
    pid = service.pid
    if pid is not None:
        os.killpg(pid, signal.SIGKILL)
    service.kill()


async def _newest_detection(database_url: str) -> datetime | None:
    try:
        conn = await asyncpg.connect(database_url, timeout=5)
    except (OSError, asyncpg.PostgresError):
        return None  # the database is the part that is down
    try:
        newest: datetime | None = await conn.fetchval("SELECT max(occurred_at) FROM detections")
        return newest
    finally:
        await conn.close()


async def _lag(chain: Chain) -> dict[str, int] | None:
    try:
        return await consumer_lag(chain.nats.url)
    except Exception:  # NATS is the part that is down, or restarting
        return None


async def _streaming_since(chain: Chain, since: datetime) -> bool:
    newest = await _newest_detection(chain.database_url)
    if newest is None or newest <= since:
        return False
    health = await asyncio.to_thread(chain.node.health)
    cameras = (health or {}).get("cameras", {})
    return any(camera.get("active_tracks", 0) > 0 for camera in cameras.values())


async def _caught_up(chain: Chain, since: datetime) -> bool:
    newest = await _newest_detection(chain.database_url)
    if newest is None or newest <= since:
        return False
    lag = await _lag(chain)
    return lag is not None and bool(lag) and not any(lag.values())


async def _kill_mid_drain(chain: Chain, outage_s: float) -> None:
    """Kill the gateway, let a backlog build up for `outage_s`, restart it and kill it
    again while it writes that backlog. To make "while it writes" certain rather than
    lucky, a test transaction holds a SHARE lock on `detections` (reads go on, inserts
    wait): the restarted gateway drains the other streams and blocks inside its first
    DETECTIONS batch, fetched and not acked, and dies there; the lock is then released."""
    gateway = chain.gateway
    _hard_kill(gateway)
    await asyncio.sleep(outage_s)  # the outage itself: the backlog's size, not a wait
    blocker = await asyncpg.connect(chain.database_url, timeout=10)
    try:
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("LOCK TABLE detections IN SHARE MODE")
        await asyncio.to_thread(gateway.start)
        # An insert waiting for the lock: a fetched batch, unacked, half way to the table.
        await eventually(
            lambda: _blocked_insert(blocker), 30, interval_s=0.05, message="its blocked insert"
        )
        _hard_kill(gateway)
        await transaction.rollback()
    finally:
        await blocker.close()


async def _blocked_insert(conn: asyncpg.Connection) -> bool:
    # Inside a transaction, pg_stat_activity answers from a snapshot taken at its first
    # read: drop it, or the poll sees the same moment for ever.
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    waiting = await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND query ILIKE '%INSERT INTO detections%'"
    )
    return bool(waiting)


async def _measure(predicate: Callable[[], object], cap_s: float) -> float | None:
    """Seconds until `predicate` (async) holds, or None past `cap_s`."""
    started = time.monotonic()
    try:
        await eventually(predicate, cap_s, interval_s=0.1, message="recovery")
    except AssertionError:
        return None
    return time.monotonic() - started


async def run_fault(chain: Chain, ledger: Ledger, fault: Fault) -> Outcome:
    phases: dict[str, float] = {}
    clock = time.monotonic()

    def phase(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        phases[name] = round(now - clock, 1)
        clock = now

    await asyncio.to_thread(chain.start_missing)
    phase("start")
    began = datetime.now(UTC)
    await eventually(
        lambda: _streaming_since(chain, began),
        STREAMING_TIMEOUT_S,
        interval_s=0.2,
        message="the chain streaming (a new detection stored, tracks open)",
    )
    phase("streaming")
    await ledger.streams.refresh(chain.nats.url)
    marks = ledger.streams.last_seqs()
    service: ProcessService = getattr(chain, fault.target)
    if fault.moment == "idle":

        async def drained() -> bool:
            lag = await _lag(chain)
            return lag is not None and not any(lag.values())

        await eventually(drained, 30, interval_s=0.02, message="the gateway idle (lag 0)")
    faulted = time.monotonic()
    if fault.moment == "mid-drain":
        await _kill_mid_drain(chain, fault.outage_s)
    elif fault.how == "freeze":
        assert service.pid is not None
        os.killpg(service.pid, signal.SIGSTOP)
        await asyncio.sleep(fault.outage_s)  # the outage itself
        os.killpg(service.pid, signal.SIGCONT)
    else:
        _hard_kill(service)
        await asyncio.sleep(fault.outage_s)  # the outage itself
    await asyncio.to_thread(service.start)
    restored_at = datetime.now(UTC)
    outage_s = time.monotonic() - faulted
    phase("fault")
    recovery_s = await _measure(lambda: _caught_up(chain, restored_at), RECOVERY_CAP_S)
    phase("recovery")

    # Settle: the node ends its tracks on a clean stop; everything reaches the database.
    await asyncio.to_thread(chain.node.stop)
    phase("node stop")

    async def settled() -> bool:
        lag = await _lag(chain)
        return lag is not None and not any(lag.values()) and not await ledger.missing()

    try:
        await eventually(settled, SETTLE_TIMEOUT_S, interval_s=0.25, message="settling")
        done = True
    except AssertionError:
        done = False
    comparison = await ledger.compare(marks)
    phase("settle")
    return Outcome(fault, outage_s, recovery_s, done, comparison, phases)
