"""Journeys: a visit across cameras, joined in the database from what each camera saw
and what the identity service decided.

The join. Every camera track that stayed in a zone (zone_stays) or crossed a store-entry
line (line_crossings) carries its `track_uid`; the identity service's decisions about a
track (identity_events, from the IDENTITY stream) carry the same track_uid and a
`visit_id`, shared by the tracks it linked to one person on any camera. So:

1. A track's *base* journey is the visit id of its newest identity event (newest
   occurred_at; a later decision, e.g. after an id switch, replaces an earlier one), or
   the track's own track_uid when the identity service said nothing about it: a
   per-camera journey, which is what a store without face linking gets.
2. Enrolled customers join through their customer id: base journeys holding a track whose
   newest identity event resolved it to the same customer are one journey when they are
   within JOURNEY_GAP of each other (the identity service may have started a new visit for
   the same person, e.g. after a long occlusion). The joined journey keeps the id of its
   earliest base journey. A withdrawn or erased identity joins nothing.
3. A journey is its tracks' stays in order of entry: `path` is the zones entered,
   consecutive repeats removed (a zone left and entered again later counts again);
   `entered_at` is the first store-entry crossing in; it starts at its first stay or
   crossing and ends at its last exit or crossing; `linked` says it joins several tracks.

Maintained on both dialects (no continuous aggregate can express a join whose keys change
when a late identity decision arrives): `refresh_journeys` finds the tracks touched by
stays, crossings and identity events ingested since its watermark (by ingested_at, with an
overlap for ingest transactions still open at the previous refresh), recomputes their
base journeys, the customer joins around them, every journey whose tracks changed, and the
per-quarter-hour counts and zone-to-zone flows of the journeys' start buckets, and their
funnel progress (gateway/db/analytics/funnels.py). Replayed
events change nothing: the raw rows are idempotent, and a journey is a function of them.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

import asyncpg

from gateway.db.analytics import funnels, locks
from gateway.db.analytics.buckets import Width, floor

JOURNEY_GAP: Final = timedelta(minutes=30)
REFRESH_OVERLAP: Final = timedelta(minutes=1)
WATERMARK: Final = "journeys"
ENTRANCE: Final = "entrance"
EXIT: Final = "exit"
_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)
# Tracks recomputed per statement, so one refresh after a long outage stays bounded.
_CHUNK: Final = 5000
# Statements of a refresh after a long backlog may outlast the pool's per-statement
# timeout (which is for API requests).
STATEMENT_TIMEOUT_S: Final = 900.0

_TOUCHED: Final = """
SELECT track_uid FROM zone_stays
WHERE ingested_at >= $1 AND ingested_at < $2 AND track_uid IS NOT NULL
UNION
SELECT track_uid FROM line_crossings
WHERE ingested_at >= $1 AND ingested_at < $2 AND track_uid IS NOT NULL AND counts_store_entry
UNION
SELECT track_uid FROM identity_events
WHERE ingested_at >= $1 AND ingested_at < $2 AND track_uid IS NOT NULL
"""

# Per track: where it was seen (stays and store-entry crossings) and its newest identity
# decision.
_TRACKS: Final = """
SELECT u.track_uid,
       coalesce(s.store_id, c.store_id) AS store_id,
       least(s.first_at, c.first_at) AS first_at,
       greatest(s.last_at, c.last_at) AS last_at,
       i.visit_id, i.kind, i.customer_id
FROM unnest($1::uuid[]) AS u(track_uid)
LEFT JOIN LATERAL (
    SELECT min(store_id) AS store_id, min(entered_at) AS first_at, max(exited_at) AS last_at
    FROM zone_stays WHERE track_uid = u.track_uid
) s ON true
LEFT JOIN LATERAL (
    SELECT min(store_id) AS store_id, min(crossed_at) AS first_at, max(crossed_at) AS last_at
    FROM line_crossings WHERE track_uid = u.track_uid AND counts_store_entry
) c ON true
LEFT JOIN LATERAL (
    SELECT visit_id, kind, customer_id FROM identity_events
    WHERE track_uid = u.track_uid
    ORDER BY occurred_at DESC, event_id DESC LIMIT 1
) i ON true
"""

_UPSERT_TRACK: Final = """
INSERT INTO journey_tracks AS j (track_uid, store_id, base_id, journey_id, visit_id,
    customer_id, first_at, last_at)
VALUES ($1, $2, $3, $3, $4, $5, $6, $7)
ON CONFLICT (track_uid) DO UPDATE SET
    store_id = EXCLUDED.store_id, base_id = EXCLUDED.base_id, visit_id = EXCLUDED.visit_id,
    customer_id = EXCLUDED.customer_id, first_at = EXCLUDED.first_at,
    last_at = EXCLUDED.last_at
"""


@dataclass
class _Base:
    """A base journey: the tracks sharing a visit id (or one track)."""

    base_id: uuid.UUID
    first_at: datetime
    last_at: datetime
    customers: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Stay:
    camera_id: str
    zone_id: str
    entered_at: datetime
    exited_at: datetime


@dataclass(frozen=True)
class JourneyRow:
    store_id: str
    journey_id: uuid.UUID
    linked: bool
    customer_id: str | None
    camera_ids: list[str]
    tracks: int
    started_at: datetime
    entered_at: datetime | None
    ended_at: datetime
    duration_s: float
    path: list[str]
    path_at: list[datetime]


def ordered_path(stays: Iterable[_Stay]) -> tuple[list[str], list[datetime]]:
    """Zones in order of entry, consecutive repeats removed, with their entry times."""
    path: list[str] = []
    path_at: list[datetime] = []
    for stay in sorted(stays, key=lambda s: (s.entered_at, s.exited_at, s.zone_id)):
        if path and path[-1] == stay.zone_id:
            continue
        path.append(stay.zone_id)
        path_at.append(stay.entered_at)
    return path, path_at


def flows(path: Sequence[str]) -> list[tuple[str, str]]:
    """Zone-to-zone transitions of a path, with 'entrance' before its first zone and
    'exit' after its last (none for an empty path)."""
    if not path:
        return []
    nodes = [ENTRANCE, *path, EXIT]
    return list(itertools.pairwise(nodes))


def _customer(kind: str | None, customer_id: str | None) -> str | None:
    return customer_id if kind == "identity.resolved" else None


def _near(a: _Base, b: _Base) -> bool:
    return a.first_at - JOURNEY_GAP <= b.last_at and b.first_at - JOURNEY_GAP <= a.last_at


def join_customers(bases: Sequence[_Base]) -> dict[uuid.UUID, uuid.UUID]:
    """base id -> journey id: bases sharing a customer and within JOURNEY_GAP of each
    other (transitively) take the id of the earliest of them."""
    parent = {b.base_id: b.base_id for b in bases}

    def root(x: uuid.UUID) -> uuid.UUID:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    by_customer: dict[str, list[_Base]] = {}
    for base in bases:
        for customer in base.customers:
            by_customer.setdefault(customer, []).append(base)
    for members in by_customer.values():
        members.sort(key=lambda b: (b.first_at, str(b.base_id)))
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if b.first_at - JOURNEY_GAP > a.last_at:
                    break
                if _near(a, b):
                    parent[root(b.base_id)] = root(a.base_id)
    first: dict[uuid.UUID, _Base] = {}
    for base in bases:
        r = root(base.base_id)
        if r not in first or (base.first_at, str(base.base_id)) < (
            first[r].first_at,
            str(first[r].base_id),
        ):
            first[r] = base
    return {b.base_id: first[root(b.base_id)].base_id for b in bases}


async def _touched(conn: asyncpg.Connection, since: datetime, until: datetime) -> list[uuid.UUID]:
    rows = await conn.fetch(_TOUCHED, since, until, timeout=STATEMENT_TIMEOUT_S)
    return sorted((r["track_uid"] for r in rows), key=str)


async def _update_tracks(conn: asyncpg.Connection, track_uids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Recompute the base journey of each track; returns the journey and base ids these
    tracks belonged to before and belong to now (what must be recomputed)."""
    before = await conn.fetch(
        "SELECT base_id, journey_id FROM journey_tracks WHERE track_uid = ANY($1::uuid[])",
        track_uids,
    )
    affected = {r["base_id"] for r in before} | {r["journey_id"] for r in before}
    rows = await conn.fetch(_TRACKS, track_uids, timeout=STATEMENT_TIMEOUT_S)
    values = []
    for r in rows:
        if r["store_id"] is None:  # identity decisions only: nothing seen yet
            continue
        base = r["visit_id"] or r["track_uid"]
        affected.add(base)
        values.append(
            (
                r["track_uid"],
                r["store_id"],
                base,
                r["visit_id"],
                _customer(r["kind"], r["customer_id"]),
                r["first_at"],
                r["last_at"],
            )
        )
    await conn.executemany(_UPSERT_TRACK, values)
    return affected


async def _bases(conn: asyncpg.Connection, base_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, _Base]:
    rows = await conn.fetch(
        """
        SELECT base_id, min(first_at) AS first_at, max(last_at) AS last_at,
               array_remove(array_agg(DISTINCT customer_id), NULL) AS customers
        FROM journey_tracks WHERE base_id = ANY($1::uuid[])
        GROUP BY base_id
        """,
        list(base_ids),
    )
    return {
        r["base_id"]: _Base(r["base_id"], r["first_at"], r["last_at"], set(r["customers"]))
        for r in rows
    }


async def _with_customer_neighbours(
    conn: asyncpg.Connection, bases: dict[uuid.UUID, _Base]
) -> dict[uuid.UUID, _Base]:
    """Add every base journey that may join one of `bases` through a customer, until no
    more do (joins are transitive)."""
    while True:
        wanted = [
            (customer, b.first_at - 2 * JOURNEY_GAP, b.last_at + 2 * JOURNEY_GAP)
            for b in bases.values()
            for customer in b.customers
        ]
        if not wanted:
            return bases
        rows = await conn.fetch(
            """
            SELECT DISTINCT t.base_id
            FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS w(c, lo, hi)
            JOIN journey_tracks t ON t.customer_id = w.c AND t.first_at <= w.hi
                                 AND t.last_at >= w.lo
            """,
            [w[0] for w in wanted],
            [w[1] for w in wanted],
            [w[2] for w in wanted],
        )
        new = {r["base_id"] for r in rows} - bases.keys()
        if not new:
            return bases
        bases = {**bases, **(await _bases(conn, new))}


async def _journey_rows(
    conn: asyncpg.Connection, journey_ids: Sequence[uuid.UUID]
) -> list[JourneyRow]:
    tracks = await conn.fetch(
        """
        SELECT journey_id, track_uid, store_id, customer_id FROM journey_tracks
        WHERE journey_id = ANY($1::uuid[])
        """,
        list(journey_ids),
    )
    members: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for row in tracks:
        members.setdefault(row["journey_id"], []).append(row)
    uids = [r["track_uid"] for r in tracks]
    stays: dict[uuid.UUID, list[_Stay]] = {}
    for row in await conn.fetch(
        """
        SELECT track_uid, camera_id, zone_id, entered_at, exited_at FROM zone_stays
        WHERE track_uid = ANY($1::uuid[])
        """,
        uids,
    ):
        stays.setdefault(row["track_uid"], []).append(
            _Stay(row["camera_id"], row["zone_id"], row["entered_at"], row["exited_at"])
        )
    crossings: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for row in await conn.fetch(
        """
        SELECT track_uid, camera_id, direction, crossed_at FROM line_crossings
        WHERE track_uid = ANY($1::uuid[]) AND counts_store_entry
        """,
        uids,
    ):
        crossings.setdefault(row["track_uid"], []).append(row)
    out: list[JourneyRow] = []
    for journey_id, rows in members.items():
        its_stays = [s for r in rows for s in stays.get(r["track_uid"], [])]
        its_crossings = [c for r in rows for c in crossings.get(r["track_uid"], [])]
        seen = sorted(
            [(s.entered_at, s.camera_id) for s in its_stays]
            + [(c["crossed_at"], c["camera_id"]) for c in its_crossings]
        )
        if not seen:
            continue
        ends = [s.exited_at for s in its_stays] + [c["crossed_at"] for c in its_crossings]
        entries = [c["crossed_at"] for c in its_crossings if c["direction"] == "in"]
        started, ended = seen[0][0], max(ends)
        entered = min(entries) if entries else None
        path, path_at = ordered_path(its_stays)
        customers = sorted({r["customer_id"] for r in rows if r["customer_id"] is not None})
        out.append(
            JourneyRow(
                store_id=rows[0]["store_id"],
                journey_id=journey_id,
                linked=len(rows) > 1,
                customer_id=customers[0] if customers else None,
                camera_ids=list(dict.fromkeys(camera for _, camera in seen)),
                tracks=len(rows),
                started_at=started,
                entered_at=entered,
                ended_at=ended,
                duration_s=max(0.0, (ended - (entered or started)).total_seconds()),
                path=path,
                path_at=path_at,
            )
        )
    return out


async def _rewrite(conn: asyncpg.Connection, affected: set[uuid.UUID]) -> int:
    """Recompute the journeys of `affected` base and journey ids: every base journey in
    them or joined with them, before or after."""
    members = await conn.fetch(
        """
        SELECT DISTINCT base_id FROM journey_tracks
        WHERE journey_id = ANY($1::uuid[]) OR base_id = ANY($1::uuid[])
        """,
        list(affected),
    )
    bases = await _bases(conn, {r["base_id"] for r in members})
    bases = await _with_customer_neighbours(conn, bases)
    mapping = join_customers(list(bases.values()))
    old = await conn.fetch(
        "SELECT DISTINCT journey_id FROM journey_tracks WHERE base_id = ANY($1::uuid[])",
        list(bases.keys()),
    )
    await conn.execute(
        """
        UPDATE journey_tracks t SET journey_id = m.journey_id
        FROM unnest($1::uuid[], $2::uuid[]) AS m(base_id, journey_id)
        WHERE t.base_id = m.base_id AND t.journey_id <> m.journey_id
        """,
        list(mapping.keys()),
        list(mapping.values()),
    )
    journey_ids = sorted({r["journey_id"] for r in old} | set(mapping.values()) | affected, key=str)
    previous = await conn.fetch(
        "SELECT store_id, started_at FROM journeys WHERE journey_id = ANY($1::uuid[])",
        journey_ids,
    )
    rows = await _journey_rows(conn, journey_ids)
    await conn.execute("DELETE FROM journeys WHERE journey_id = ANY($1::uuid[])", journey_ids)
    await conn.executemany(
        """
        INSERT INTO journeys (store_id, journey_id, linked, customer_id, camera_ids, tracks,
            started_at, entered_at, ended_at, duration_s, path, path_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        """,
        [
            (
                j.store_id,
                j.journey_id,
                j.linked,
                j.customer_id,
                j.camera_ids,
                j.tracks,
                j.started_at,
                j.entered_at,
                j.ended_at,
                j.duration_s,
                j.path,
                j.path_at,
            )
            for j in rows
        ],
    )
    await funnels.rewrite(
        conn,
        journey_ids,
        [
            funnels.JourneyStages(
                j.store_id, j.journey_id, j.started_at, j.entered_at, j.path, j.path_at
            )
            for j in rows
        ],
    )
    buckets = {(r["store_id"], floor(r["started_at"], Width.FIFTEEN_MINUTES)) for r in previous}
    buckets |= {(j.store_id, floor(j.started_at, Width.FIFTEEN_MINUTES)) for j in rows}
    await _recount(conn, sorted(buckets))
    return len(rows)


async def _recount(conn: asyncpg.Connection, buckets: Sequence[tuple[str, datetime]]) -> None:
    """Rewrite the counts and flows of these (store, quarter hour) buckets from journeys."""
    if not buckets:
        return
    stores, starts = [b[0] for b in buckets], [b[1] for b in buckets]
    selected = """
        unnest($1::text[], $2::timestamptz[]) AS b(store_id, bucket)
        JOIN journeys j ON j.store_id = b.store_id AND j.started_at >= b.bucket
                       AND j.started_at < b.bucket + INTERVAL '15 minutes'
    """
    await conn.execute(
        """
        DELETE FROM journey_counts c USING unnest($1::text[], $2::timestamptz[]) AS b(s, t)
        WHERE c.store_id = b.s AND c.bucket = b.t
        """,
        stores,
        starts,
    )
    await conn.execute(
        f"""
        INSERT INTO journey_counts (store_id, bucket, visits, entered)
        SELECT b.store_id, b.bucket, count(*), count(j.entered_at) FROM {selected}
        GROUP BY b.store_id, b.bucket
        """,
        stores,
        starts,
    )
    await conn.execute(
        """
        DELETE FROM journey_flows f USING unnest($1::text[], $2::timestamptz[]) AS b(s, t)
        WHERE f.store_id = b.s AND f.bucket = b.t
        """,
        stores,
        starts,
    )
    await conn.execute(
        f"""
        INSERT INTO journey_flows (store_id, bucket, source, target, visits)
        SELECT b.store_id, b.bucket, f.source, f.target, count(*) FROM {selected}
        CROSS JOIN LATERAL (
            SELECT coalesce(lag(p.zone) OVER (ORDER BY p.i), '{ENTRANCE}') AS source,
                   p.zone AS target
            FROM unnest(j.path) WITH ORDINALITY AS p(zone, i)
            UNION ALL
            SELECT j.path[cardinality(j.path)], '{EXIT}' WHERE cardinality(j.path) > 0
        ) f
        GROUP BY b.store_id, b.bucket, f.source, f.target
        """,
        stores,
        starts,
    )


async def refresh_journeys(conn: asyncpg.Connection) -> int:
    """Bring journeys up to date with what was ingested since the last refresh (module
    docs), in one transaction; returns the journeys rewritten."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", locks.JOURNEYS)
        until: datetime = await conn.fetchval("SELECT clock_timestamp()")
        since: datetime | None = await conn.fetchval(
            "SELECT watermark FROM rollup_state WHERE name = $1", WATERMARK
        )
        start = (_EPOCH + REFRESH_OVERLAP) if since is None else since
        touched = await _touched(conn, start - REFRESH_OVERLAP, until)
        rewritten = 0
        for i in range(0, len(touched), _CHUNK):
            affected = await _update_tracks(conn, touched[i : i + _CHUNK])
            if affected:
                rewritten += await _rewrite(conn, affected)
        await funnels.sync_all(conn)
        await conn.execute(
            """
            INSERT INTO rollup_state (name, watermark) VALUES ($1, $2)
            ON CONFLICT (name) DO UPDATE SET watermark = EXCLUDED.watermark
            """,
            WATERMARK,
            until,
        )
    return rewritten
