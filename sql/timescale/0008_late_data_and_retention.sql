-- Issue 14, defect 10: late data, personal-data chunk sizes, and retention settings.
--
-- 1. camera_minute covers late detections. A continuous aggregate only refreshes buckets
--    inside [now - start_offset, now - end_offset]; a bucket that receives rows after it
--    left that window is never fixed (0002 looked back 3 hours: a backlog lost minutes).
--    Detections reach the database as late as the DETECTIONS stream keeps them (JetStream
--    redelivers to a consumer that was down for up to its max age, 1 day,
--    trinetra/events/streams.py), so the policy looks back 2 days: the max age plus a day
--    for events buffered by their publisher before the stream stored them. A refresh
--    recomputes only the buckets whose raw rows changed (TimescaleDB's invalidation log),
--    so the long window costs nothing while nothing arrives late.
--    tests/sql/test_late_data_policies.py checks every policy against its stream.
SELECT remove_continuous_aggregate_policy('camera_minute', if_exists => TRUE);
SELECT add_continuous_aggregate_policy('camera_minute',
    start_offset => INTERVAL '2 days',
    end_offset => INTERVAL '1 minute',
    schedule_interval => INTERVAL '1 minute');

-- 2. Tables with personal data get one-day chunks. Retention drops whole chunks, so a
--    row lives until its chunk's end passes the retention: up to one chunk interval more.
--    identity_events (customer ids, visit ids) had 7-day chunks, i.e. ~37 days for a
--    30-day retention. The new interval applies to chunks created from now on; chunks
--    made before this migration still go whole, at most once 7 days late. The other
--    tables with track/visit ids already use a day or less (0001, 0004).
SELECT set_chunk_time_interval('identity_events', INTERVAL '1 day');

-- 3. TRINETRA_RETENTION__* applies on TimescaleDB too. The fixed retention policies of
--    0003 ignored the settings, so they go: the gateway expires these tables with the
--    configured days on both dialects (gateway/db/maintenance.py, through expire_rows,
--    which drops whole chunks here), like the analytics tables (0004, 0006).
SELECT remove_retention_policy('detections', if_exists => TRUE);
SELECT remove_retention_policy('track_events', if_exists => TRUE);
SELECT remove_retention_policy('identity_events', if_exists => TRUE);
SELECT remove_retention_policy('camera_status_events', if_exists => TRUE);
SELECT remove_retention_policy('camera_minute', if_exists => TRUE);
