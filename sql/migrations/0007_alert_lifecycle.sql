-- Rule alerts (analytics/alerts, trinetra/events/schema.py): alert.raised is stored in
-- `alerts` like every other alert (so listing, acknowledging and the subscription work
-- unchanged); alert.resolved is stored once in `alert_resolutions` and closes its alert,
-- named by `raised_event_id`. The same on TimescaleDB and plain PostgreSQL: both tables
-- are plain tables, expired by the gateway (gateway/db/maintenance.py) on both dialects.
--
-- Ingest (gateway/ingest/writer.py) derives the resolved_* columns of `alerts` from
-- `alert_resolutions` after every batch that stored either event, in whichever order
-- they arrive, so a resolution ingested before its alert still closes it.

-- rule_id / dedup_key: the rule that raised the alert and its (rule, subject) key; NULL
-- for the identity service's alerts (false merge, drift), which do not resolve. Reasons
-- are the event schema's AlertResolveReason; no CHECK lists them, because every CHECK
-- ... IN must mirror a trinetra/vocabulary.py enum (tests/sql/test_vocabulary_checks.py)
-- and the ingest stores only what the schema already validated.
ALTER TABLE alerts
    ADD COLUMN rule_id           text,
    ADD COLUMN dedup_key         text,
    ADD COLUMN resolved_at       timestamptz,
    ADD COLUMN resolved_event_id uuid,
    ADD COLUMN resolve_reason    text;

-- The open alerts of a store, by rule: what an operator's "open now" view reads.
CREATE INDEX alerts_open ON alerts (store_id, rule_id, occurred_at DESC)
    WHERE rule_id IS NOT NULL AND resolved_at IS NULL;

CREATE TABLE alert_resolutions (
    event_id        uuid        PRIMARY KEY,
    occurred_at     timestamptz NOT NULL,
    store_id        text        NOT NULL,
    camera_id       text        NOT NULL,
    raised_event_id uuid        NOT NULL,
    rule_id         text        NOT NULL,
    dedup_key       text        NOT NULL,
    reason          text        NOT NULL,
    details         jsonb       NOT NULL DEFAULT '{}',
    published_at    timestamptz NOT NULL,
    ingested_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_resolutions_raised ON alert_resolutions (raised_event_id);
CREATE INDEX alert_resolutions_time ON alert_resolutions (store_id, occurred_at);
