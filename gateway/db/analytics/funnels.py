"""Funnels over journeys: how far each visit got through each configured funnel, and when.

A funnel's stages (trinetra.config.analytics.FunnelDefinition) are evaluated on a
journey's path in order: stage 1 is reached at the first moment the journey reaches it,
every later stage at the first moment at or after the previous stage's; a store_entry
stage is the journey's first store-entry crossing in, a zone stage its first entry into
one of the zones, a zone_kind stage into any zone of that kind (as configured now). A
journey stops at the first stage it does not reach.

Stored per (funnel, journey) in `journey_funnels` (stages reached and their times),
rewritten with every journey the journey refresh rewrites, and for all of a store's
journeys when its funnel definitions change (a funnel edited today applies to past
visits too; journey_funnel_state says which definitions the rows follow). A funnel report
is one scan of the range's rows: counts per stage and exact medians of the time between
stages.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

from gateway.db.analytics import config as stored_config
from gateway.db.analytics import locks
from trinetra.config.analytics import StoreAnalyticsConfig, StoreEntryStage, ZoneStage

MAX_STAGES: Final = 10
# Journeys re-evaluated per statement when definitions change.
_CHUNK: Final = 5000


@dataclass(frozen=True)
class Stage:
    """A stage as evaluated: store entry, or entering any of `zone_ids`."""

    store_entry: bool
    zone_ids: frozenset[str] = frozenset()


Funnels = dict[str, tuple[Stage, ...]]


def resolve(config: StoreAnalyticsConfig) -> Funnels:
    """Each funnel's stages, zone kinds resolved to the zones that have them."""
    out: Funnels = {}
    for funnel in config.funnels:
        stages = []
        for stage in funnel.stages:
            if isinstance(stage, StoreEntryStage):
                stages.append(Stage(True))
            elif isinstance(stage, ZoneStage):
                stages.append(Stage(False, frozenset(stage.zone_ids)))
            else:
                kind = stage.zone_kind
                stages.append(Stage(False, frozenset(z.id for z in config.zones if z.kind is kind)))
        out[funnel.id] = tuple(stages)
    return out


def definitions_key(funnels: Funnels) -> str:
    return json.dumps(
        {
            fid: [[s.store_entry, sorted(s.zone_ids)] for s in stages]
            for fid, stages in sorted(funnels.items())
        },
        separators=(",", ":"),
    )


def stage_times(
    entered_at: datetime | None,
    path: Sequence[str],
    path_at: Sequence[datetime],
    stages: Sequence[Stage],
) -> list[datetime]:
    """When the journey reached each stage, as far as it got (module docs)."""
    reached: list[datetime] = []
    previous: datetime | None = None
    for stage in stages:
        moment: datetime | None = None
        if stage.store_entry:
            if entered_at is not None and (previous is None or entered_at >= previous):
                moment = entered_at
        else:
            for zone, at in zip(path, path_at, strict=True):
                if zone in stage.zone_ids and (previous is None or at >= previous):
                    moment = at
                    break
        if moment is None:
            break
        reached.append(moment)
        previous = moment
    return reached


async def current(conn: asyncpg.Connection, store_id: str) -> tuple[int, Funnels]:
    """The store's configuration version and its funnels (version 0: none)."""
    found = await stored_config.current_validated(conn, store_id)
    if found is None:
        return 0, {}
    return found[0].version, resolve(found[1])


@dataclass(frozen=True)
class JourneyStages:
    """What a journey contributes to funnels."""

    store_id: str
    journey_id: uuid.UUID
    started_at: datetime
    entered_at: datetime | None
    path: Sequence[str]
    path_at: Sequence[datetime]


async def write(
    conn: asyncpg.Connection,
    funnels: Mapping[str, Funnels],
    journeys: Sequence[JourneyStages],
) -> None:
    """Insert the funnel rows of `journeys` (their old rows already deleted)."""
    rows = []
    for journey in journeys:
        for funnel_id, stages in funnels.get(journey.store_id, {}).items():
            times = stage_times(journey.entered_at, journey.path, journey.path_at, stages)
            rows.append(
                (
                    journey.store_id,
                    funnel_id,
                    journey.started_at,
                    journey.journey_id,
                    len(times),
                    times,
                )
            )
    if rows:
        await conn.copy_records_to_table(
            "journey_funnels",
            records=rows,
            columns=["store_id", "funnel_id", "started_at", "journey_id", "reached", "stage_at"],
        )


async def rewrite(
    conn: asyncpg.Connection,
    removed: Sequence[uuid.UUID],
    journeys: Sequence[JourneyStages],
) -> None:
    """The journey refresh's hook: drop the rows of every journey it rewrote or removed,
    and write the rewritten ones under their store's current funnels."""
    # Sync first: a store whose funnels changed has all its journeys re-evaluated there,
    # the rewritten ones included, so their rows are deleted after it, not before.
    stores = sorted({j.store_id for j in journeys})
    funnels = {store: (await synced(conn, store))[1] for store in stores}
    stale = sorted({*removed, *(j.journey_id for j in journeys)})
    await conn.execute("DELETE FROM journey_funnels WHERE journey_id = ANY($1::uuid[])", stale)
    await write(conn, funnels, journeys)


async def synced(conn: asyncpg.Connection, store_id: str) -> tuple[int, Funnels]:
    """The store's current funnels, after re-evaluating all its journeys if they follow
    other definitions (call inside the refresh transaction)."""
    version, funnels = await current(conn, store_id)
    state = await conn.fetchrow(
        "SELECT config_version, definitions FROM journey_funnel_state WHERE store_id = $1",
        store_id,
    )
    if state is not None and state["config_version"] == version:
        return version, funnels
    key = definitions_key(funnels)
    if state is None or state["definitions"] != key:
        await conn.execute("DELETE FROM journey_funnels WHERE store_id = $1", store_id)
        after: tuple[datetime, uuid.UUID] | None = None
        while True:
            rows = await conn.fetch(
                """
                SELECT journey_id, started_at, entered_at, path, path_at FROM journeys
                WHERE store_id = $1
                  AND ($2::timestamptz IS NULL OR (started_at, journey_id) > ($2, $3::uuid))
                ORDER BY started_at, journey_id LIMIT $4
                """,
                store_id,
                None if after is None else after[0],
                None if after is None else after[1],
                _CHUNK,
            )
            if not rows:
                break
            await write(
                conn,
                {store_id: funnels},
                [
                    JourneyStages(
                        store_id,
                        r["journey_id"],
                        r["started_at"],
                        r["entered_at"],
                        r["path"],
                        r["path_at"],
                    )
                    for r in rows
                ],
            )
            after = (rows[-1]["started_at"], rows[-1]["journey_id"])
    await conn.execute(
        """
        INSERT INTO journey_funnel_state (store_id, config_version, definitions)
        VALUES ($1, $2, $3)
        ON CONFLICT (store_id) DO UPDATE
            SET config_version = EXCLUDED.config_version, definitions = EXCLUDED.definitions
        """,
        store_id,
        version,
        key,
    )
    return version, funnels


async def _stale(conn: asyncpg.Connection, store_id: str) -> bool:
    stale: bool = await conn.fetchval(
        """
        SELECT coalesce(max(v.version), 0) IS DISTINCT FROM
               (SELECT config_version FROM journey_funnel_state WHERE store_id = $1)
        FROM analytics_config_versions v WHERE v.store_id = $1
        """,
        store_id,
    )
    return stale


async def sync_all(conn: asyncpg.Connection) -> None:
    """Re-evaluate the journeys of every store whose configuration changed since its
    funnel rows were written (call under the journeys lock, in a transaction)."""
    rows = await conn.fetch(
        """
        SELECT v.store_id FROM analytics_config_versions v
        LEFT JOIN journey_funnel_state s USING (store_id)
        GROUP BY v.store_id, s.config_version
        HAVING s.config_version IS DISTINCT FROM max(v.version)
        """
    )
    for row in rows:
        await synced(conn, row["store_id"])


@dataclass(frozen=True)
class StageFigure:
    visits: int
    median_s: float | None


@dataclass(frozen=True)
class FunnelFigures:
    visits: int
    stages: list[StageFigure]


async def figures(
    conn: asyncpg.Connection,
    store_id: str,
    funnel_id: str,
    stage_count: int,
    start: datetime,
    end: datetime,
) -> FunnelFigures:
    """Visits that started in [start, end): how many reached each stage, and the median
    seconds from the previous stage. Re-evaluates the store's journeys first if its
    funnel definitions changed since they were evaluated."""
    if not 1 <= stage_count <= MAX_STAGES:
        raise ValueError(f"a funnel has 1 to {MAX_STAGES} stages")
    if await _stale(conn, store_id):
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", locks.JOURNEYS)
            await synced(conn, store_id)
    columns = ["count(*) AS visits"]
    for k in range(1, stage_count + 1):
        columns.append(f"count(*) FILTER (WHERE reached >= {k}) AS reached_{k}")
        if k > 1:
            columns.append(
                "percentile_cont(0.5) WITHIN GROUP (ORDER BY "
                f"date_part('epoch', stage_at[{k}] - stage_at[{k - 1}]))"
                f" FILTER (WHERE reached >= {k}) AS median_{k}"
            )
    row = await conn.fetchrow(
        f"""
        SELECT {", ".join(columns)} FROM journey_funnels
        WHERE store_id = $1 AND funnel_id = $2 AND started_at >= $3 AND started_at < $4
        """,
        store_id,
        funnel_id,
        start,
        end,
    )
    assert row is not None
    return FunnelFigures(
        visits=int(row["visits"]),
        stages=[
            StageFigure(
                int(row[f"reached_{k}"]),
                None if k == 1 or row[f"median_{k}"] is None else float(row[f"median_{k}"]),
            )
            for k in range(1, stage_count + 1)
        ],
    )
