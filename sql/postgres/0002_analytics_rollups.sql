-- Plain PostgreSQL path of the analytics aggregates: the tables that are continuous
-- aggregates on TimescaleDB (sql/timescale/0005_analytics_aggregates.sql), with the same
-- names, columns and bucket rules, refreshed incrementally by the gateway
-- (gateway/db/rollups.py): every few seconds it recomputes, from the raw rows, every bucket
-- that received rows since its watermark (by ingested_at, so late and replayed events are
-- counted too, and counted once: the raw tables are idempotent on event_id). Buckets
-- start at UTC minute, quarter-hour, hour, midnight and Monday-midnight boundaries on both
-- dialects (counted from Monday 2000-01-03, as time_bucket does).

CREATE TABLE footfall_15m (
    store_id      text        NOT NULL,
    camera_id     text        NOT NULL,
    line_id       text        NOT NULL,
    bucket        timestamptz NOT NULL,
    entries       bigint      NOT NULL,
    exits         bigint      NOT NULL,
    store_entries bigint      NOT NULL,
    store_exits   bigint      NOT NULL,
    PRIMARY KEY (store_id, camera_id, line_id, bucket)
);
CREATE TABLE footfall_hour (LIKE footfall_15m INCLUDING ALL);
CREATE TABLE footfall_day (LIKE footfall_15m INCLUDING ALL);
CREATE INDEX footfall_15m_store_time ON footfall_15m (store_id, bucket);
CREATE INDEX footfall_hour_store_time ON footfall_hour (store_id, bucket);
CREATE INDEX footfall_day_store_time ON footfall_day (store_id, bucket);

CREATE TABLE zone_occupancy_minute (
    store_id    text             NOT NULL,
    camera_id   text             NOT NULL,
    zone_id     text             NOT NULL,
    bucket      timestamptz      NOT NULL,
    changes     bigint           NOT NULL,
    level_start integer          NOT NULL,
    level_end   integer          NOT NULL,
    weighted    double precision NOT NULL,
    peak        integer          NOT NULL,
    PRIMARY KEY (store_id, camera_id, zone_id, bucket)
);
CREATE TABLE zone_occupancy_hour (LIKE zone_occupancy_minute INCLUDING ALL);

CREATE TABLE zone_dwell_hour (
    store_id     text             NOT NULL,
    camera_id    text             NOT NULL,
    zone_id      text             NOT NULL,
    bucket       timestamptz      NOT NULL,
    dwell_bucket integer          NOT NULL,
    stays        bigint           NOT NULL,
    dwell_sum    double precision NOT NULL,
    PRIMARY KEY (store_id, camera_id, zone_id, bucket, dwell_bucket)
);
CREATE TABLE zone_dwell_day (LIKE zone_dwell_hour INCLUDING ALL);
-- Weeks start on Monday 00:00 UTC, as TimescaleDB's time_bucket counts them.
CREATE TABLE zone_dwell_week (LIKE zone_dwell_hour INCLUDING ALL);
CREATE INDEX zone_dwell_hour_store_time ON zone_dwell_hour (store_id, bucket);
CREATE INDEX zone_dwell_day_store_time ON zone_dwell_day (store_id, bucket);
CREATE INDEX zone_dwell_week_store_time ON zone_dwell_week (store_id, bucket);

CREATE TABLE queue_minute (
    store_id     text             NOT NULL,
    camera_id    text             NOT NULL,
    zone_id      text             NOT NULL,
    bucket       timestamptz      NOT NULL,
    samples      bigint           NOT NULL,
    length_sum   bigint           NOT NULL,
    length_max   integer          NOT NULL,
    wait_samples bigint           NOT NULL,
    wait_sum     double precision,
    PRIMARY KEY (store_id, camera_id, zone_id, bucket)
);
CREATE TABLE queue_hour (LIKE queue_minute INCLUDING ALL);
CREATE INDEX queue_minute_store_time ON queue_minute (store_id, bucket);
CREATE INDEX queue_hour_store_time ON queue_hour (store_id, bucket);

CREATE TABLE queue_abandoned_minute (
    store_id  text        NOT NULL,
    camera_id text        NOT NULL,
    zone_id   text        NOT NULL,
    bucket    timestamptz NOT NULL,
    abandoned bigint      NOT NULL,
    PRIMARY KEY (store_id, camera_id, zone_id, bucket)
);
CREATE TABLE queue_abandoned_hour (LIKE queue_abandoned_minute INCLUDING ALL);

-- ingested_at drives the incremental refresh; the time columns the retention deletes.
CREATE INDEX zone_occupancy_changes_ingested_brin ON zone_occupancy_changes USING brin (ingested_at);
CREATE INDEX queue_snapshots_ingested_brin ON queue_snapshots USING brin (ingested_at);
CREATE INDEX queue_abandonments_ingested_brin ON queue_abandonments USING brin (ingested_at);
CREATE INDEX line_crossings_time_brin ON line_crossings USING brin (crossed_at);
CREATE INDEX zone_stays_time_brin ON zone_stays USING brin (exited_at);
CREATE INDEX zone_occupancy_changes_time_brin ON zone_occupancy_changes USING brin (occurred_at);
CREATE INDEX queue_snapshots_time_brin ON queue_snapshots USING brin (occurred_at);
CREATE INDEX queue_abandonments_time_brin ON queue_abandonments USING brin (left_at);
CREATE INDEX heatmap_grids_time_brin ON heatmap_grids USING brin (minute_start);
CREATE INDEX visits_time_brin ON visits USING brin (started_at);
CREATE INDEX analytics_events_time_brin ON analytics_events USING brin (occurred_at);

-- Retention of the analytics time series, the same call on both dialects (the
-- TimescaleDB version drops whole chunks): at most `max_rows` rows of `relation` whose
-- `time_column` is before `cutoff` are deleted per call; returns how many were.
CREATE FUNCTION expire_rows(relation regclass, time_column text, cutoff timestamptz,
                            max_rows integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    deleted bigint;
BEGIN
    EXECUTE format(
        'DELETE FROM %s WHERE ctid = ANY (ARRAY(SELECT ctid FROM %s WHERE %I < $1 LIMIT $2))',
        relation, relation, time_column)
    USING cutoff, max_rows;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    RETURN deleted;
END;
$$;
