-- TimescaleDB path: every Timescale-only statement of TRINETRA is in this folder, applied
-- only where gateway/db/dialect.py picked "timescale" (the extension is available). The
-- plain-PostgreSQL equivalents are in sql/postgres/. Requires TimescaleDB >= 2.13
-- (by_range). Not executed in CI (no TimescaleDB build there): keep it minimal.
CREATE EXTENSION IF NOT EXISTS timescaledb;

-- Chunk sizes: detections are the volume (8 cameras x 10 fps = ~7M rows a day), one hour
-- per chunk; track events a day; the rare identity and status events a week.
SELECT create_hypertable('detections', by_range('occurred_at', INTERVAL '1 hour'),
                         if_not_exists => TRUE, migrate_data => TRUE);
SELECT create_hypertable('track_events', by_range('occurred_at', INTERVAL '1 day'),
                         if_not_exists => TRUE, migrate_data => TRUE);
SELECT create_hypertable('identity_events', by_range('occurred_at', INTERVAL '7 days'),
                         if_not_exists => TRUE, migrate_data => TRUE);
SELECT create_hypertable('camera_status_events', by_range('occurred_at', INTERVAL '7 days'),
                         if_not_exists => TRUE, migrate_data => TRUE);
