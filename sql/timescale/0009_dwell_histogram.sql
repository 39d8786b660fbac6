-- migrate: no-transaction
-- Dwell histograms, one row per zone per hour, day and week: hierarchical continuous
-- aggregates (TimescaleDB 2.9+) over zone_dwell_hour/_day/_week (0005), which hold one
-- row per dwell bucket. Each row's parallel arrays list the dwell buckets that have
-- stays and the stays in each, so a month of 48 zones reads ~300 rows instead of
-- ~30,000 (the plain-PostgreSQL tables of the same names: sql/postgres/
-- 0009_dwell_histogram.sql). Both array_agg run in one aggregation over the same rows,
-- so their elements pair up; their order is not relied on (the gateway adds counts up
-- by dwell bucket).
CREATE MATERIALIZED VIEW IF NOT EXISTS zone_dwell_hist_hour
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT store_id,
       camera_id,
       zone_id,
       time_bucket(INTERVAL '1 hour', bucket) AS bucket,
       sum(stays)::bigint AS stays,
       sum(dwell_sum) AS dwell_sum,
       array_agg(dwell_bucket) AS dwell_buckets,
       array_agg(stays) AS counts
FROM zone_dwell_hour
GROUP BY store_id, camera_id, zone_id, time_bucket(INTERVAL '1 hour', bucket)
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS zone_dwell_hist_day
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT store_id,
       camera_id,
       zone_id,
       time_bucket(INTERVAL '1 day', bucket) AS bucket,
       sum(stays)::bigint AS stays,
       sum(dwell_sum) AS dwell_sum,
       array_agg(dwell_bucket) AS dwell_buckets,
       array_agg(stays) AS counts
FROM zone_dwell_day
GROUP BY store_id, camera_id, zone_id, time_bucket(INTERVAL '1 day', bucket)
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS zone_dwell_hist_week
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT store_id,
       camera_id,
       zone_id,
       time_bucket(INTERVAL '7 days', bucket) AS bucket,
       sum(stays)::bigint AS stays,
       sum(dwell_sum) AS dwell_sum,
       array_agg(dwell_bucket) AS dwell_buckets,
       array_agg(stays) AS counts
FROM zone_dwell_week
GROUP BY store_id, camera_id, zone_id, time_bucket(INTERVAL '7 days', bucket)
WITH NO DATA;

-- Refreshed over the same windows as the aggregates below them (0006): 8 days of late
-- data, 15 for weeks.
SELECT add_continuous_aggregate_policy('zone_dwell_hist_hour', start_offset => INTERVAL '8 days',
    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute', if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('zone_dwell_hist_day', start_offset => INTERVAL '8 days',
    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute', if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('zone_dwell_hist_week', start_offset => INTERVAL '15 days',
    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute', if_not_exists => TRUE);
