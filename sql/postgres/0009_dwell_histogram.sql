-- Dwell histograms, one row per zone per hour, day and week (plain PostgreSQL path; the
-- continuous aggregates of the same names are in sql/timescale/0009_dwell_histogram.sql).
-- zone_dwell_hour/_day/_week hold one row per dwell bucket (dwell_bucket(): [0, 1) s, then
-- edges growing by 2^(1/16)), about a hundred per zone and bucket: a month of 48 zones
-- read ~30,000 of them. Here each zone and bucket is one row whose parallel arrays list
-- the dwell buckets that have stays and the stays in each, in dwell-bucket order, so a
-- month is ~300 rows and the same histogram (same resolution, same percentiles).
-- The gateway refreshes them from zone_dwell_* right after those
-- (gateway/db/analytics/rollups.py), for the buckets whose stays arrived since its last
-- refresh.

CREATE TABLE zone_dwell_hist_hour (
    store_id      text             NOT NULL,
    camera_id     text             NOT NULL,
    zone_id       text             NOT NULL,
    bucket        timestamptz      NOT NULL,
    stays         bigint           NOT NULL,
    dwell_sum     double precision NOT NULL,
    dwell_buckets integer[]        NOT NULL,
    counts        bigint[]         NOT NULL,
    PRIMARY KEY (store_id, camera_id, zone_id, bucket)
);
CREATE TABLE zone_dwell_hist_day (LIKE zone_dwell_hist_hour INCLUDING ALL);
CREATE TABLE zone_dwell_hist_week (LIKE zone_dwell_hist_hour INCLUDING ALL);
CREATE INDEX zone_dwell_hist_hour_store_time ON zone_dwell_hist_hour (store_id, bucket);
CREATE INDEX zone_dwell_hist_day_store_time ON zone_dwell_hist_day (store_id, bucket);
CREATE INDEX zone_dwell_hist_week_store_time ON zone_dwell_hist_week (store_id, bucket);
