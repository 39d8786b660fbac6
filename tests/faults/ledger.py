"""What reached JetStream against what reached the database, compared by event id.

`StreamLog` reads every stream of trinetra/events/streams.py ALL_STREAMS incrementally
(direct gets: no consumer state of its own). Every event id it ever saw is kept, so a
message that JetStream itself dropped after a crash (its stream's last sequence went
back) still counts: if the database does not have it either, it is lost.

`Ledger.compare()` reads the database's event tables (gateway/ingest/rows.py TABLES, and
the refused messages of `rejected_events` by stream sequence) and the tracks, and returns
the figures of a fault: only what is new since the previous comparison counts, so one
fault's defect is not reported again under the next.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TypeVar
from uuid import UUID

import asyncpg
import nats
from nats.js.api import AckPolicy
from nats.js.errors import NotFoundError

from gateway.ingest.rows import TABLES
from trinetra.events.schema import Event, TrackEndedEvent, TrackStartedEvent, decode
from trinetra.events.streams import ALL_STREAMS

__all__ = ["Comparison", "Ledger", "StreamLog", "consumer_lag"]

T = TypeVar("T")


class StreamLog:
    """Every message of every TRINETRA stream, read incrementally (module docs)."""

    def __init__(self) -> None:
        # stream -> seq -> event: what the stream holds now (as far as read)
        self.by_seq: dict[str, dict[int, Event]] = {s.name: {} for s in ALL_STREAMS}
        self.ever: dict[UUID, Event] = {}  # every event id ever read, dropped ones too
        self.regressed = 0  # messages a stream lost from its tail (last seq went back)

    def last_seqs(self) -> dict[str, int]:
        return {name: max(seqs, default=0) for name, seqs in self.by_seq.items()}

    async def refresh(self, url: str) -> None:
        client = await nats.connect(url, allow_reconnect=False, connect_timeout=5)
        try:
            js = client.jetstream(timeout=10.0)
            for name, seqs in self.by_seq.items():
                try:
                    state = (await js.stream_info(name)).state
                except NotFoundError:
                    continue
                read_to = max(seqs, default=0)
                if state.last_seq < read_to:
                    gone = [seq for seq in seqs if seq > state.last_seq]
                    self.regressed += len(gone)
                    for seq in gone:
                        del seqs[seq]
                    read_to = state.last_seq
                for seq in range(max(read_to + 1, state.first_seq), state.last_seq + 1):
                    try:
                        msg = await js.get_msg(name, seq)
                    except NotFoundError:
                        continue  # deleted (never the case here: no limit is reached)
                    assert msg.data is not None
                    event = decode(msg.data)
                    seqs[seq] = event
                    self.ever[event.event_id] = event
        finally:
            await client.close()

    def since(self, marks: dict[str, int]) -> int:
        """Messages after `marks` (a `last_seqs()` taken earlier)."""
        return sum(
            1 for name, seqs in self.by_seq.items() for seq in seqs if seq > marks.get(name, 0)
        )


async def consumer_lag(url: str) -> dict[str, int]:
    """Per durable consumer (stream/name, the gateway's ingest and the analytics service
    are all of them): messages not yet delivered, plus, where each message is acked once
    written (explicit acks: the gateway), those delivered and not yet acked. A consumer
    acked once per checkpoint (AckPolicy.ALL: analytics) holds processed messages unacked
    until its next checkpoint by design, so only its undelivered ones are lag."""
    client = await nats.connect(url, allow_reconnect=False, connect_timeout=5)
    try:
        js = client.jetstream(timeout=10.0)
        lag: dict[str, int] = {}
        for spec in ALL_STREAMS:
            try:
                consumers = await js.consumers_info(spec.name)
            except NotFoundError:
                continue
            for info in consumers:
                waiting = info.num_pending or 0
                if info.config.ack_policy != AckPolicy.ALL:
                    waiting += info.num_ack_pending or 0
                lag[f"{spec.name}/{info.name}"] = waiting
        return lag
    finally:
        await client.close()


@dataclass
class Comparison:
    """One fault's figures (only what is new since the previous comparison)."""

    events: int  # messages JetStream received during the fault's window
    lost: set[UUID] = field(default_factory=set)  # in JetStream, not in the database
    stored_twice: set[UUID] = field(default_factory=set)  # rows (or stream messages) > 1
    ids_reused: set[str] = field(default_factory=set)  # "camera#id" given to > 1 track
    open_tracks: set[str] = field(default_factory=set)  # started, never ended
    rejected: int = 0  # messages the ingest refused (stored in rejected_events)


@dataclass
class Ledger:
    nats_url: str
    database_url: str
    streams: StreamLog = field(default_factory=StreamLog)
    _reported: dict[str, set[object]] = field(default_factory=lambda: defaultdict(set))

    async def stored_ids(self) -> tuple[Counter[UUID], set[tuple[str, int]]]:
        """Every event id in the event tables (with its row count) and the (stream, seq)
        of every refused message."""
        conn = await asyncpg.connect(self.database_url, timeout=10)
        try:
            ids: Counter[UUID] = Counter()
            for table in TABLES:
                ids.update(
                    r["event_id"] for r in await conn.fetch(f"SELECT event_id FROM {table.name}")
                )
            rejected = {
                (r["stream"], int(r["stream_seq"]))
                for r in await conn.fetch("SELECT stream, stream_seq FROM rejected_events")
            }
            return ids, rejected
        finally:
            await conn.close()

    async def open_tracks_in_database(self) -> set[str]:
        conn = await asyncpg.connect(self.database_url, timeout=10)
        try:
            rows = await conn.fetch("SELECT track_uid FROM tracks WHERE NOT ended")
            return {str(r["track_uid"]) for r in rows}
        finally:
            await conn.close()

    async def missing(self) -> set[UUID]:
        """Ids JetStream has (or had) that the database does not: polled until empty."""
        await self.streams.refresh(self.nats_url)
        stored, rejected = await self.stored_ids()
        refused = self._refused_ids(rejected)
        return {i for i in self.streams.ever if i not in stored and i not in refused}

    def _refused_ids(self, rejected: set[tuple[str, int]]) -> set[UUID]:
        return {
            event.event_id
            for name, seqs in self.streams.by_seq.items()
            for seq, event in seqs.items()
            if (name, seq) in rejected
        }

    async def compare(self, marks: dict[str, int]) -> Comparison:
        """The figures since `marks` (module docs); call once the chain has settled and
        the store node has stopped (a running node has tracks open by right)."""
        await self.streams.refresh(self.nats_url)
        stored, rejected = await self.stored_ids()
        refused = self._refused_ids(rejected)
        lost = {i for i in self.streams.ever if i not in stored and i not in refused}
        twice = {i for i, n in stored.items() if n > 1}
        in_streams: Counter[UUID] = Counter(
            e.event_id for seqs in self.streams.by_seq.values() for e in seqs.values()
        )
        twice |= {i for i, n in in_streams.items() if n > 1}
        reused, open_tracks = self._track_figures()
        open_tracks |= await self.open_tracks_in_database()
        return Comparison(
            events=self.streams.since(marks),
            lost=self._new("lost", lost),
            stored_twice=self._new("twice", twice),
            ids_reused=self._new("reused", reused),
            open_tracks=self._new("open", open_tracks),
            rejected=len(self._new("rejected", refused)),
        )

    def _track_figures(self) -> tuple[set[str], set[str]]:
        """Track ids handed to more than one track (a track id per camera names one track
        for good, across node lifetimes; a track whose start was published under two event
        ids counts too), and the tracks started and never ended."""
        uids_of: dict[str, set[str]] = defaultdict(set)
        starts: Counter[str] = Counter()
        ended: set[str] = set()
        for event in self.streams.by_seq["TRACKS"].values():
            uid = str(event.track_uid) if hasattr(event, "track_uid") else ""
            if isinstance(event, TrackStartedEvent):
                uids_of[f"{event.camera_id}#{event.track_id}"].add(uid)
                starts[uid] += 1
            elif isinstance(event, TrackEndedEvent):
                ended.add(uid)
        reused = {key for key, uids in uids_of.items() if len(uids) > 1}
        reused |= {f"uid {uid}" for uid, n in starts.items() if n > 1}
        return reused, set(starts) - ended

    def _new(self, kind: str, found: set[T]) -> set[T]:
        new = {item for item in found if item not in self._reported[kind]}
        self._reported[kind] |= new
        return new
