-- Retail analytics (the ANALYTICS stream, issue 9), the same on TimescaleDB and plain
-- PostgreSQL: one table per figure the events feed, the derived tables the gateway keeps
-- on both dialects, and the analytics configuration's versions.
--
-- Keys. Every event table is keyed by (event_id, <its time column>): the deterministic
-- event id makes a replayed or redelivered event a no-op (ingest inserts ON CONFLICT DO
-- NOTHING), and hypertables need their time column in every unique key. The time column
-- of each table is when the fact happened, which is also what every aggregate buckets
-- by: a crossing by `crossed_at`, a stay by `exited_at` (it is complete only then), a
-- queue abandonment by `left_at`, a heatmap grid by its `minute_start`, an occupancy
-- change or queue snapshot by the frame that produced it (`occurred_at`).
--
-- Aggregates (sql/timescale/: continuous aggregates; sql/postgres/: rollup tables the
-- gateway refreshes incrementally; the same columns, so every query is the same):
--   footfall_15m / _hour / _day      line crossings in and out, per line
--   zone_occupancy_minute / _hour    time-weighted occupancy (see below)
--   zone_dwell_hour / _day           dwell histogram per zone (see below)
--   queue_minute / _hour             queue length and wait samples
--   queue_abandoned_minute           queue abandonments
-- Derived here, maintained by the gateway on both dialects (gateway/db/):
--   zone_occupancy_current           newest occupancy per zone (ingest)
--   heatmap_hour / _day              heatmap grids summed (ingest)
--   journey_tracks, journeys,
--   journey_counts, journey_flows,
--   journey_funnels                  visits across cameras (gateway/db/analytics/)

-- line.crossed. `direction` 'in' is an entry (onto the line's in-side), 'out' an exit
-- (the schema's Literal; no CHECK lists it, as every CHECK ... IN must mirror a
-- trinetra/vocabulary.py enum and ingest stores only what the schema validated).
CREATE TABLE line_crossings (
    crossed_at         timestamptz NOT NULL,
    event_id           uuid        NOT NULL,
    occurred_at        timestamptz NOT NULL,
    store_id           text        NOT NULL,
    camera_id          text        NOT NULL,
    line_id            text        NOT NULL,
    direction          text        NOT NULL,
    track_id           integer     NOT NULL,
    track_uid          uuid,
    visit_id           text,
    counts_store_entry boolean     NOT NULL,
    config_version     integer     NOT NULL,
    published_at       timestamptz NOT NULL,
    ingested_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, crossed_at)
);
CREATE INDEX line_crossings_line_time ON line_crossings (store_id, camera_id, line_id, crossed_at);
CREATE INDEX line_crossings_track ON line_crossings (track_uid) WHERE track_uid IS NOT NULL;

-- zone.exited: one completed stay. dwell_s = exited_at - entered_at.
CREATE TABLE zone_stays (
    exited_at      timestamptz      NOT NULL,
    event_id       uuid             NOT NULL,
    occurred_at    timestamptz      NOT NULL,
    store_id       text             NOT NULL,
    camera_id      text             NOT NULL,
    zone_id        text             NOT NULL,
    track_id       integer          NOT NULL,
    track_uid      uuid,
    visit_id       text,
    entered_at     timestamptz      NOT NULL,
    dwell_s        double precision NOT NULL CHECK (dwell_s >= 0),
    reason         text             NOT NULL,
    config_version integer          NOT NULL,
    published_at   timestamptz      NOT NULL,
    ingested_at    timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, exited_at)
);
CREATE INDEX zone_stays_zone_time ON zone_stays (store_id, camera_id, zone_id, exited_at);
CREATE INDEX zone_stays_track ON zone_stays (track_uid) WHERE track_uid IS NOT NULL;

-- zone.occupancy: the number of tracks inside a zone changed from `previous` to `count`.
-- Occupancy is a step function of time; its per-bucket rollup keeps what a time-weighted
-- mean needs from the bucket's own rows only (so a continuous aggregate can hold it):
--   level_start = `previous` of the bucket's first change (the level when it began)
--   level_end   = `count` of its last change
--   weighted    = sum of (count - previous) * (bucket end - change time), in seconds
--   peak        = the largest `count`
-- so that the integral over the bucket is length * level_start + weighted, and a bucket
-- with no change holds the previous bucket's level_end throughout (filled at query time).
CREATE TABLE zone_occupancy_changes (
    occurred_at    timestamptz NOT NULL,
    event_id       uuid        NOT NULL,
    store_id       text        NOT NULL,
    camera_id      text        NOT NULL,
    zone_id        text        NOT NULL,
    count          integer     NOT NULL CHECK (count >= 0),
    previous       integer     NOT NULL CHECK (previous >= 0),
    capacity       integer,
    over_capacity  boolean     NOT NULL,
    config_version integer     NOT NULL,
    published_at   timestamptz NOT NULL,
    ingested_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, occurred_at)
);
CREATE INDEX zone_occupancy_changes_zone_time
    ON zone_occupancy_changes (store_id, camera_id, zone_id, occurred_at);

-- The newest occupancy of every zone (currentOccupancy, and the zones the occupancy query
-- walks), merged at ingest: the newest occurred_at wins, whatever the arrival order.
CREATE TABLE zone_occupancy_current (
    store_id   text        NOT NULL,
    camera_id  text        NOT NULL,
    zone_id    text        NOT NULL,
    count      integer     NOT NULL,
    capacity   integer,
    at         timestamptz NOT NULL,
    event_id   uuid        NOT NULL,
    PRIMARY KEY (store_id, camera_id, zone_id)
);

-- queue.snapshot: a queue zone's state, sampled every queue_snapshot_interval_s of frame
-- time (so the mean of the samples is the time mean).
CREATE TABLE queue_snapshots (
    occurred_at         timestamptz      NOT NULL,
    event_id            uuid             NOT NULL,
    store_id            text             NOT NULL,
    camera_id           text             NOT NULL,
    zone_id             text             NOT NULL,
    length              integer          NOT NULL CHECK (length >= 0),
    median_service_s    double precision,
    estimated_wait_s    double precision,
    observed_wait_s     double precision,
    served              integer          NOT NULL,
    abandoned           integer          NOT NULL,
    over_wait_threshold boolean          NOT NULL,
    config_version      integer          NOT NULL,
    published_at        timestamptz      NOT NULL,
    ingested_at         timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, occurred_at)
);
CREATE INDEX queue_snapshots_zone_time ON queue_snapshots (store_id, camera_id, zone_id, occurred_at);

-- queue.abandoned: someone left a queue without reaching its checkout.
CREATE TABLE queue_abandonments (
    left_at        timestamptz      NOT NULL,
    event_id       uuid             NOT NULL,
    occurred_at    timestamptz      NOT NULL,
    store_id       text             NOT NULL,
    camera_id      text             NOT NULL,
    zone_id        text             NOT NULL,
    track_id       integer          NOT NULL,
    track_uid      uuid,
    visit_id       text,
    waited_s       double precision NOT NULL,
    config_version integer          NOT NULL,
    published_at   timestamptz      NOT NULL,
    ingested_at    timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, left_at)
);
CREATE INDEX queue_abandonments_zone_time ON queue_abandonments (store_id, camera_id, zone_id, left_at);

-- heatmap.grid: one camera-minute, row-major rows x cols. flow_dx/flow_dy are mean
-- velocities per cell over flow_samples measurements.
CREATE TABLE heatmap_grids (
    minute_start   timestamptz        NOT NULL,
    event_id       uuid               NOT NULL,
    occurred_at    timestamptz        NOT NULL,
    store_id       text               NOT NULL,
    camera_id      text               NOT NULL,
    cols           integer            NOT NULL CHECK (cols > 0),
    rows           integer            NOT NULL CHECK (rows > 0),
    samples        integer[]          NOT NULL,
    person_seconds double precision[] NOT NULL,
    flow_dx        double precision[] NOT NULL,
    flow_dy        double precision[] NOT NULL,
    flow_samples   integer[]          NOT NULL,
    config_version integer            NOT NULL,
    published_at   timestamptz        NOT NULL,
    ingested_at    timestamptz        NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, minute_start),
    CHECK (cardinality(person_seconds) = cols * rows)
);
CREATE INDEX heatmap_grids_camera_time ON heatmap_grids (store_id, camera_id, minute_start);

-- Heatmap grids summed per camera-hour and camera-day, added at ingest in the transaction
-- that stores each new grid (so exactly once: a redelivered grid is not new). An
-- elementwise array sum is not an aggregate a continuous aggregate can hold, hence the
-- same derived tables on both dialects. flow_dx_sum/flow_dy_sum are velocity x samples,
-- so the mean over any span is flow_dx_sum / flow_samples.
CREATE TABLE heatmap_hour (
    store_id       text               NOT NULL,
    camera_id      text               NOT NULL,
    bucket         timestamptz        NOT NULL,
    cols           integer            NOT NULL,
    rows           integer            NOT NULL,
    grids          integer            NOT NULL,
    samples        bigint[]           NOT NULL,
    person_seconds double precision[] NOT NULL,
    flow_dx_sum    double precision[] NOT NULL,
    flow_dy_sum    double precision[] NOT NULL,
    flow_samples   bigint[]           NOT NULL,
    PRIMARY KEY (store_id, camera_id, bucket, cols, rows)
);

CREATE TABLE heatmap_day (LIKE heatmap_hour INCLUDING ALL);

-- visit.ended: a visit as the analytics engine saw it (per camera unless it was linked),
-- with its ordered stays. Kept as reported; journeys across cameras are built from the
-- stays and identity decisions (journeys below).
CREATE TABLE visits (
    started_at     timestamptz      NOT NULL,
    event_id       uuid             NOT NULL,
    occurred_at    timestamptz      NOT NULL,
    store_id       text             NOT NULL,
    camera_id      text             NOT NULL,
    visit_id       text             NOT NULL,
    ordinal        integer          NOT NULL,
    linked         boolean          NOT NULL,
    customer_id    text,
    camera_ids     text[]           NOT NULL,
    track_uids     uuid[]           NOT NULL DEFAULT '{}',
    entered_at     timestamptz,
    ended_at       timestamptz      NOT NULL,
    end_reason     text             NOT NULL,
    duration_s     double precision NOT NULL,
    path           text[]           NOT NULL,
    stays          jsonb            NOT NULL,
    funnel_stages  jsonb            NOT NULL DEFAULT '{}',
    config_version integer          NOT NULL,
    published_at   timestamptz      NOT NULL,
    ingested_at    timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, started_at)
);
CREATE INDEX visits_store_time ON visits (store_id, started_at);
CREATE INDEX visits_customer ON visits (customer_id) WHERE customer_id IS NOT NULL;

-- Every other analytics kind (zone.entered, zone.dwell_exceeded, area.occupancy, and
-- kinds added later): stored as they came, for the record and for replays.
CREATE TABLE analytics_events (
    occurred_at    timestamptz NOT NULL,
    event_id       uuid        NOT NULL,
    store_id       text        NOT NULL,
    camera_id      text        NOT NULL,
    kind           text        NOT NULL,
    subject        text,
    track_uid      uuid,
    details        jsonb       NOT NULL DEFAULT '{}',
    config_version integer     NOT NULL,
    published_at   timestamptz NOT NULL,
    ingested_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, occurred_at)
);
CREATE INDEX analytics_events_kind_time ON analytics_events (store_id, kind, occurred_at);

-- Journeys: a visit across cameras. Each camera track with zone stays or store-entry
-- crossings belongs to one journey (gateway/db/analytics/journeys.py has the rule):
--   the identity service's visit id of the track's newest identity event (IDENTITY
--   stream: identity_events.track_uid -> visit_id), shared by the person's tracks on every
--   camera (linked = true);
--   else the track's own track_uid: a per-camera journey (linked = false);
-- and tracks resolved to the same enrolled customer whose journeys are within the journey
-- gap of each other join the earliest of those journeys. A journey is then its tracks'
-- stays in order of entry, entered at the first store-entry crossing in, ended at its last
-- stay's exit or crossing out. Recomputed for every journey an ingested stay, crossing or
-- identity decision touches, so a late identity link re-joins journeys already stored.
CREATE TABLE journey_tracks (
    track_uid   uuid        PRIMARY KEY,
    store_id    text        NOT NULL,
    -- the visit id (or the track's own id) before customers are joined, and after
    base_id     uuid        NOT NULL,
    journey_id  uuid        NOT NULL,
    visit_id    uuid,
    customer_id text,
    first_at    timestamptz NOT NULL,
    last_at     timestamptz NOT NULL
);
CREATE INDEX journey_tracks_journey ON journey_tracks (journey_id);
CREATE INDEX journey_tracks_base ON journey_tracks (base_id);
CREATE INDEX journey_tracks_customer ON journey_tracks (customer_id, first_at)
    WHERE customer_id IS NOT NULL;

CREATE TABLE journeys (
    store_id    text             NOT NULL,
    journey_id  uuid             NOT NULL,
    linked      boolean          NOT NULL,
    customer_id text,
    camera_ids  text[]           NOT NULL,
    tracks      integer          NOT NULL,
    started_at  timestamptz      NOT NULL,
    entered_at  timestamptz,
    ended_at    timestamptz      NOT NULL,
    duration_s  double precision NOT NULL,
    -- zone ids in order of entry, consecutive repeats removed, and when each was entered
    path        text[]           NOT NULL,
    path_at     timestamptz[]    NOT NULL,
    updated_at  timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, journey_id)
);
CREATE INDEX journeys_store_start ON journeys (store_id, started_at DESC, journey_id DESC);
CREATE INDEX journeys_customer ON journeys (customer_id) WHERE customer_id IS NOT NULL;

-- Journeys per 15 minutes of their start, and their zone-to-zone transitions ('entrance'
-- before the first zone, 'exit' after the last), rewritten with the journeys they count.
CREATE TABLE journey_counts (
    store_id text        NOT NULL,
    bucket   timestamptz NOT NULL,
    visits   integer     NOT NULL,
    entered  integer     NOT NULL,
    PRIMARY KEY (store_id, bucket)
);

CREATE TABLE journey_flows (
    store_id text        NOT NULL,
    bucket   timestamptz NOT NULL,
    source   text        NOT NULL,
    target   text        NOT NULL,
    visits   integer     NOT NULL,
    PRIMARY KEY (store_id, bucket, source, target)
);

-- Funnels over journeys: per configured funnel and journey, how many stages it reached
-- and when it reached each (gateway/db/analytics/funnels.py), rewritten with the journey,
-- and for every journey of the store when the store's funnel definitions change
-- (journey_funnel_state remembers which definitions the rows follow). A funnel query is
-- then a scan of the range's rows: counts and exact medians.
CREATE TABLE journey_funnels (
    store_id   text          NOT NULL,
    funnel_id  text          NOT NULL,
    started_at timestamptz   NOT NULL,
    journey_id uuid          NOT NULL,
    reached    smallint      NOT NULL,
    stage_at   timestamptz[] NOT NULL,
    PRIMARY KEY (store_id, funnel_id, started_at, journey_id)
);
CREATE INDEX journey_funnels_journey ON journey_funnels (journey_id);

CREATE TABLE journey_funnel_state (
    store_id       text    PRIMARY KEY,
    config_version integer NOT NULL,
    definitions    text    NOT NULL
);

-- The store's analytics configuration (zones, lines, funnels, alert rules, webhooks), one
-- row per version, never updated: the newest version is the current configuration, the
-- older ones say what produced the figures of their time (every event carries its
-- config_version). Written with its audit entry in one transaction.
CREATE TABLE analytics_config_versions (
    store_id   text        NOT NULL,
    version    integer     NOT NULL CHECK (version >= 1),
    config     jsonb       NOT NULL,
    actor      text        NOT NULL,
    action     text        NOT NULL,
    reason     text,
    diff       jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, version)
);

-- The newest version known to be in the NATS KV bucket ANALYTICS_CONFIG (where the
-- analytics service reads it). Behind the newest stored version after a NATS outage: the
-- stored version wins and the gateway publishes it again once NATS is back.
CREATE TABLE analytics_config_published (
    store_id     text        PRIMARY KEY,
    version      integer     NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now()
);

-- Dwell histogram bucket of a stay, shared by both dialects' rollups and the queries:
-- bucket 0 is [0, 1) s, bucket k >= 1 is [2^((k-1)/16), 2^(k/16)) s, so bucket edges grow
-- by 2^(1/16) = 1.0443 and a percentile interpolated inside its bucket is within 4.43%
-- of the exact one (within 1 s below 1 s). Stays of 2^20 s (12 days) or more share the
-- last bucket, 321.
CREATE FUNCTION dwell_bucket(dwell_s double precision) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE
    WHEN dwell_s < 1 THEN 0
    ELSE least(1 + floor(16 * ln(dwell_s) / ln(2))::integer, 321)
END;
