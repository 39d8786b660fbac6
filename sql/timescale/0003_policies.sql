-- Compression and retention. Retention of the plain tables (tracks, alerts) is the
-- gateway's job on both dialects (gateway/db/maintenance.py); the intervals below match
-- its defaults (GatewaySettings.retention).
ALTER TABLE detections SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'store_id, camera_id',
    timescaledb.compress_orderby = 'occurred_at DESC, event_id DESC'
);
ALTER TABLE track_events SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'store_id, camera_id',
    timescaledb.compress_orderby = 'occurred_at DESC, event_id DESC'
);

SELECT add_compression_policy('detections', compress_after => INTERVAL '1 day', if_not_exists => TRUE);
SELECT add_compression_policy('track_events', compress_after => INTERVAL '2 days', if_not_exists => TRUE);

SELECT add_retention_policy('detections', drop_after => INTERVAL '30 days', if_not_exists => TRUE);
SELECT add_retention_policy('track_events', drop_after => INTERVAL '90 days', if_not_exists => TRUE);
SELECT add_retention_policy('identity_events', drop_after => INTERVAL '30 days', if_not_exists => TRUE);
SELECT add_retention_policy('camera_status_events', drop_after => INTERVAL '30 days', if_not_exists => TRUE);
SELECT add_retention_policy('camera_minute', drop_after => INTERVAL '400 days', if_not_exists => TRUE);
