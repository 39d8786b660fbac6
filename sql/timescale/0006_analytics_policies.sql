-- Refresh policies of the analytics continuous aggregates. Late data: a bucket is only
-- refreshed while it is inside [now - start_offset, now - end_offset], and what a refresh
-- skipped stays out of the aggregate (issue 14: a 3-hour look-back lost data). Analytics
-- events can reach the database as late as the ANALYTICS stream keeps them (JetStream
-- redelivers to a consumer that was down for up to its max age, 7 days), so every policy
-- looks back 8 days. A refresh recomputes only the buckets whose raw rows changed since
-- the last one (TimescaleDB's invalidation log), so the long window costs nothing while
-- nothing arrives late. Real-time aggregation covers what is newer than the last refresh.
-- A week bucket is refreshed only once it lies wholly inside the window, so the weekly
-- aggregate looks back 15 days: 8 days of late data plus the week it falls in.
--
-- No retention policies here: the gateway expires these aggregates and their raw tables
-- with TRINETRA_RETENTION__* on both dialects (expire_rows, 0004_analytics_hypertables).
SELECT add_continuous_aggregate_policy('footfall_15m', start_offset => INTERVAL '8 days',
    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute', if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('footfall_hour', start_offset => INTERVAL '8 days',
    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute', if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('footfall_day', start_offset => INTERVAL '8 days',
    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute', if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('zone_occupancy_minute', start_offset => INTERVAL '8 days',
    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute', if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('zone_occupancy_hour', start_offset => INTERVAL '8 days',
    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute', if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('zone_dwell_hour', start_offset => INTERVAL '8 days',
    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute', if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('zone_dwell_day', start_offset => INTERVAL '8 days',
    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute', if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('zone_dwell_week', start_offset => INTERVAL '15 days',
    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute', if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('queue_minute', start_offset => INTERVAL '8 days',
    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute', if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('queue_hour', start_offset => INTERVAL '8 days',
    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute', if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('queue_abandoned_minute', start_offset => INTERVAL '8 days',
    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute', if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('queue_abandoned_hour', start_offset => INTERVAL '8 days',
    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute', if_not_exists => TRUE);
