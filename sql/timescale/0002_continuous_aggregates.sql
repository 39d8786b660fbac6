-- migrate: no-transaction
-- Continuous aggregates cannot be created inside a transaction block, so this file runs
-- statement by statement (no semicolons inside statements here).
--
-- Per camera per minute: frames analysed, persons summed (detections) and the peak
-- (occupancy). Real-time (materialized_only = false): the newest minutes are computed
-- from the raw rows at query time, as on the plain-PostgreSQL path after a refresh.
CREATE MATERIALIZED VIEW IF NOT EXISTS camera_minute
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT store_id,
       camera_id,
       time_bucket(INTERVAL '1 minute', occurred_at) AS bucket,
       count(*)          AS frames,
       sum(person_count) AS person_sum,
       max(person_count) AS person_max
FROM detections
GROUP BY store_id, camera_id, time_bucket(INTERVAL '1 minute', occurred_at)
WITH NO DATA;

SELECT add_continuous_aggregate_policy('camera_minute',
    start_offset => INTERVAL '3 hours',
    end_offset => INTERVAL '1 minute',
    schedule_interval => INTERVAL '1 minute',
    if_not_exists => TRUE);
