-- Plain PostgreSQL path (no TimescaleDB): the nearest native equivalents of the Timescale
-- objects in sql/timescale/. Applied only where gateway/db/dialect.py picked "postgres".
--
-- camera_minute: what the continuous aggregate is on TimescaleDB, here a table the
-- gateway refreshes incrementally (gateway/db/maintenance.py): every few seconds it
-- recomputes the minutes touched by rows ingested since its last watermark, so late and
-- replayed events are counted too. Same columns, so queries are identical.
CREATE TABLE camera_minute (
    store_id   text        NOT NULL,
    camera_id  text        NOT NULL,
    bucket     timestamptz NOT NULL,
    frames     bigint      NOT NULL,
    person_sum bigint      NOT NULL,
    person_max integer     NOT NULL,
    PRIMARY KEY (store_id, camera_id, bucket)
);

CREATE TABLE rollup_state (
    name      text        PRIMARY KEY,
    watermark timestamptz NOT NULL
);

-- Instead of chunk exclusion: BRIN indexes on the time columns (rows arrive roughly in
-- time order, so block ranges are tight). ingested_at drives the incremental refresh;
-- occurred_at the retention deletes and store-wide time scans.
CREATE INDEX detections_ingested_brin ON detections USING brin (ingested_at);
CREATE INDEX detections_occurred_brin ON detections USING brin (occurred_at);
CREATE INDEX track_events_occurred_brin ON track_events USING brin (occurred_at);
CREATE INDEX identity_events_occurred_brin ON identity_events USING brin (occurred_at);
CREATE INDEX camera_status_events_occurred_brin ON camera_status_events USING brin (occurred_at);
