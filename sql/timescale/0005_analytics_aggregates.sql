-- migrate: no-transaction
-- Continuous aggregates of the analytics tables: the same names, columns and bucket rules
-- as the plain-PostgreSQL rollup tables (sql/postgres/0002_analytics_rollups.sql), so the
-- gateway's queries are the same on both; tests/sql/test_analytics_rollups.py runs these
-- very SELECTs on PostgreSQL and checks they agree with the rollups and a recomputation.
-- Runs statement by statement (no semicolons inside statements here).
--
-- Real-time (materialized_only = false): buckets after the materialized range are computed
-- from the raw rows at query time.
--
-- Only immutable functions are allowed in a continuous aggregate: the time within a
-- bucket is taken as `occurred_at - time_bucket(...)` (timestamptz - timestamptz is
-- immutable; timestamptz + interval is not).
CREATE MATERIALIZED VIEW IF NOT EXISTS footfall_15m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT store_id,
       camera_id,
       line_id,
       time_bucket(INTERVAL '15 minutes', crossed_at) AS bucket,
       sum(CASE WHEN direction = 'in' THEN 1 ELSE 0 END) AS entries,
       sum(CASE WHEN direction = 'out' THEN 1 ELSE 0 END) AS exits,
       sum(CASE WHEN direction = 'in' AND counts_store_entry THEN 1 ELSE 0 END) AS store_entries,
       sum(CASE WHEN direction = 'out' AND counts_store_entry THEN 1 ELSE 0 END) AS store_exits
FROM line_crossings
GROUP BY store_id, camera_id, line_id, time_bucket(INTERVAL '15 minutes', crossed_at)
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS footfall_hour
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT store_id,
       camera_id,
       line_id,
       time_bucket(INTERVAL '1 hour', crossed_at) AS bucket,
       sum(CASE WHEN direction = 'in' THEN 1 ELSE 0 END) AS entries,
       sum(CASE WHEN direction = 'out' THEN 1 ELSE 0 END) AS exits,
       sum(CASE WHEN direction = 'in' AND counts_store_entry THEN 1 ELSE 0 END) AS store_entries,
       sum(CASE WHEN direction = 'out' AND counts_store_entry THEN 1 ELSE 0 END) AS store_exits
FROM line_crossings
GROUP BY store_id, camera_id, line_id, time_bucket(INTERVAL '1 hour', crossed_at)
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS footfall_day
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT store_id,
       camera_id,
       line_id,
       time_bucket(INTERVAL '1 day', crossed_at) AS bucket,
       sum(CASE WHEN direction = 'in' THEN 1 ELSE 0 END) AS entries,
       sum(CASE WHEN direction = 'out' THEN 1 ELSE 0 END) AS exits,
       sum(CASE WHEN direction = 'in' AND counts_store_entry THEN 1 ELSE 0 END) AS store_entries,
       sum(CASE WHEN direction = 'out' AND counts_store_entry THEN 1 ELSE 0 END) AS store_exits
FROM line_crossings
GROUP BY store_id, camera_id, line_id, time_bucket(INTERVAL '1 day', crossed_at)
WITH NO DATA;

-- Occupancy (see zone_occupancy_changes in sql/migrations/0002_analytics.sql):
-- integral over a bucket of length L = L * level_start + weighted.
CREATE MATERIALIZED VIEW IF NOT EXISTS zone_occupancy_minute
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT store_id,
       camera_id,
       zone_id,
       time_bucket(INTERVAL '1 minute', occurred_at) AS bucket,
       count(*) AS changes,
       first(previous, occurred_at) AS level_start,
       last(count, occurred_at) AS level_end,
       sum((count - previous)::double precision
           * (60 - date_part('epoch', occurred_at - time_bucket(INTERVAL '1 minute', occurred_at))))
           AS weighted,
       max(count) AS peak
FROM zone_occupancy_changes
GROUP BY store_id, camera_id, zone_id, time_bucket(INTERVAL '1 minute', occurred_at)
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS zone_occupancy_hour
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT store_id,
       camera_id,
       zone_id,
       time_bucket(INTERVAL '1 hour', occurred_at) AS bucket,
       count(*) AS changes,
       first(previous, occurred_at) AS level_start,
       last(count, occurred_at) AS level_end,
       sum((count - previous)::double precision
           * (3600 - date_part('epoch', occurred_at - time_bucket(INTERVAL '1 hour', occurred_at))))
           AS weighted,
       max(count) AS peak
FROM zone_occupancy_changes
GROUP BY store_id, camera_id, zone_id, time_bucket(INTERVAL '1 hour', occurred_at)
WITH NO DATA;

-- Dwell histogram (dwell_bucket() in sql/migrations/0002_analytics.sql), per hour, day
-- and week (weeks from Monday 00:00 UTC: time_bucket's origin for timestamptz).
CREATE MATERIALIZED VIEW IF NOT EXISTS zone_dwell_hour
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT store_id,
       camera_id,
       zone_id,
       time_bucket(INTERVAL '1 hour', exited_at) AS bucket,
       dwell_bucket(dwell_s) AS dwell_bucket,
       count(*) AS stays,
       sum(dwell_s) AS dwell_sum
FROM zone_stays
GROUP BY store_id, camera_id, zone_id, time_bucket(INTERVAL '1 hour', exited_at), dwell_bucket(dwell_s)
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS zone_dwell_day
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT store_id,
       camera_id,
       zone_id,
       time_bucket(INTERVAL '1 day', exited_at) AS bucket,
       dwell_bucket(dwell_s) AS dwell_bucket,
       count(*) AS stays,
       sum(dwell_s) AS dwell_sum
FROM zone_stays
GROUP BY store_id, camera_id, zone_id, time_bucket(INTERVAL '1 day', exited_at), dwell_bucket(dwell_s)
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS zone_dwell_week
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT store_id,
       camera_id,
       zone_id,
       time_bucket(INTERVAL '7 days', exited_at) AS bucket,
       dwell_bucket(dwell_s) AS dwell_bucket,
       count(*) AS stays,
       sum(dwell_s) AS dwell_sum
FROM zone_stays
GROUP BY store_id, camera_id, zone_id, time_bucket(INTERVAL '7 days', exited_at), dwell_bucket(dwell_s)
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS queue_minute
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT store_id,
       camera_id,
       zone_id,
       time_bucket(INTERVAL '1 minute', occurred_at) AS bucket,
       count(*) AS samples,
       sum(length) AS length_sum,
       max(length) AS length_max,
       count(estimated_wait_s) AS wait_samples,
       sum(estimated_wait_s) AS wait_sum
FROM queue_snapshots
GROUP BY store_id, camera_id, zone_id, time_bucket(INTERVAL '1 minute', occurred_at)
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS queue_hour
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT store_id,
       camera_id,
       zone_id,
       time_bucket(INTERVAL '1 hour', occurred_at) AS bucket,
       count(*) AS samples,
       sum(length) AS length_sum,
       max(length) AS length_max,
       count(estimated_wait_s) AS wait_samples,
       sum(estimated_wait_s) AS wait_sum
FROM queue_snapshots
GROUP BY store_id, camera_id, zone_id, time_bucket(INTERVAL '1 hour', occurred_at)
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS queue_abandoned_minute
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT store_id,
       camera_id,
       zone_id,
       time_bucket(INTERVAL '1 minute', left_at) AS bucket,
       count(*) AS abandoned
FROM queue_abandonments
GROUP BY store_id, camera_id, zone_id, time_bucket(INTERVAL '1 minute', left_at)
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS queue_abandoned_hour
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT store_id,
       camera_id,
       zone_id,
       time_bucket(INTERVAL '1 hour', left_at) AS bucket,
       count(*) AS abandoned
FROM queue_abandonments
GROUP BY store_id, camera_id, zone_id, time_bucket(INTERVAL '1 hour', left_at)
WITH NO DATA;
