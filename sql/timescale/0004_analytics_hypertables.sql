-- TimescaleDB path of the analytics tables (sql/migrations/0002_analytics.sql): every
-- analytics event table becomes a hypertable on the column its figures are bucketed by.
-- One-day chunks: retention drops whole chunks, so a one-day chunk honours the configured
-- retention within a day (these rows are pseudonymous movement data).
SELECT create_hypertable('line_crossings', by_range('crossed_at', INTERVAL '1 day'),
                         if_not_exists => TRUE, migrate_data => TRUE);
SELECT create_hypertable('zone_stays', by_range('exited_at', INTERVAL '1 day'),
                         if_not_exists => TRUE, migrate_data => TRUE);
SELECT create_hypertable('zone_occupancy_changes', by_range('occurred_at', INTERVAL '1 day'),
                         if_not_exists => TRUE, migrate_data => TRUE);
SELECT create_hypertable('queue_snapshots', by_range('occurred_at', INTERVAL '1 day'),
                         if_not_exists => TRUE, migrate_data => TRUE);
SELECT create_hypertable('queue_abandonments', by_range('left_at', INTERVAL '1 day'),
                         if_not_exists => TRUE, migrate_data => TRUE);
SELECT create_hypertable('heatmap_grids', by_range('minute_start', INTERVAL '1 day'),
                         if_not_exists => TRUE, migrate_data => TRUE);
SELECT create_hypertable('visits', by_range('started_at', INTERVAL '1 day'),
                         if_not_exists => TRUE, migrate_data => TRUE);
SELECT create_hypertable('analytics_events', by_range('occurred_at', INTERVAL '1 day'),
                         if_not_exists => TRUE, migrate_data => TRUE);

-- Retention of the analytics series and their aggregates, driven by the gateway with
-- TRINETRA_RETENTION__* (gateway/db/retention.py) on both dialects, so the settings mean
-- the same everywhere: here whole chunks before `cutoff` are dropped (the plain-PostgreSQL
-- version in sql/postgres/0002_analytics_rollups.sql deletes rows). Returns 0: nothing
-- is left to delete row by row.
CREATE FUNCTION expire_rows(relation regclass, time_column text, cutoff timestamptz,
                            max_rows integer) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM drop_chunks(relation, older_than => cutoff);
    RETURN 0;
END;
$$;
