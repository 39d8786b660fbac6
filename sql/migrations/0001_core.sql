-- Core schema, the same on TimescaleDB and plain PostgreSQL. Time-series tables carry
-- (event_id, occurred_at) as their key: event ids are deterministic (orchestrator/events/
-- schema.py), so a redelivered event can never be stored twice, and the key includes the
-- time column as hypertables require. Dialect-specific storage (hypertables, rollups,
-- compression, retention) lives in sql/timescale/ and sql/postgres/.

-- Cameras: registered ones carry a validated CameraConfig; cameras only seen on the bus
-- (status events before registration) have config NULL. Status columns are the live
-- state, updated from camera.status events (newest occurred_at wins).
CREATE TABLE cameras (
    store_id          text        NOT NULL,
    camera_id         text        NOT NULL,
    config            jsonb,
    registered_at     timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    status            text,
    status_reason     text,
    status_at         timestamptz,
    reconnect_attempt integer     NOT NULL DEFAULT 0,
    PRIMARY KEY (store_id, camera_id),
    CHECK (status IS NULL OR status IN ('connecting', 'live', 'error', 'stopped'))
);

CREATE TABLE camera_status_events (
    occurred_at       timestamptz NOT NULL,
    event_id          uuid        NOT NULL,
    store_id          text        NOT NULL,
    camera_id         text        NOT NULL,
    state             text        NOT NULL,
    reason            text,
    reconnect_attempt integer     NOT NULL,
    published_at      timestamptz NOT NULL,
    ingested_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, occurred_at)
);
CREATE INDEX camera_status_events_camera ON camera_status_events (store_id, camera_id, occurred_at DESC);

-- One row per processed frame. `persons` keeps the boxes as compact rows
-- [[x1, y1, x2, y2, score, track_id or null], ...] in normalized coordinates.
CREATE TABLE detections (
    occurred_at    timestamptz NOT NULL,
    event_id       uuid        NOT NULL,
    store_id       text        NOT NULL,
    camera_id      text        NOT NULL,
    frame_seq      bigint      NOT NULL,
    frame_width    integer     NOT NULL,
    frame_height   integer     NOT NULL,
    person_count   integer     NOT NULL,
    face_count     integer,
    persons        jsonb       NOT NULL,
    model_versions jsonb,
    published_at   timestamptz NOT NULL,
    ingested_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, occurred_at)
);
CREATE INDEX detections_camera_time ON detections (store_id, camera_id, occurred_at DESC, event_id DESC);

-- Every track.started / track.updated / track.ended event. Boxes (started/updated) are
-- normalized coordinates; `details` holds what only track.ended carries (path, ...).
CREATE TABLE track_events (
    occurred_at  timestamptz NOT NULL,
    event_id     uuid        NOT NULL,
    store_id     text        NOT NULL,
    camera_id    text        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('track.started', 'track.updated', 'track.ended')),
    track_id     integer     NOT NULL,
    track_uid    uuid        NOT NULL,
    frame_seq    bigint,
    x1           real,
    y1           real,
    x2           real,
    y2           real,
    score        real,
    sample_every_frames integer,
    details      jsonb,
    published_at timestamptz NOT NULL,
    ingested_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, occurred_at)
);
CREATE INDEX track_events_camera_time ON track_events (store_id, camera_id, occurred_at DESC, event_id DESC);
CREATE INDEX track_events_track ON track_events (track_uid, occurred_at);

-- Current state of each track, merged from its events in any order: first/last seen are
-- min/max, the box is the newest one, and `ended` is final once an ended event arrived.
CREATE TABLE tracks (
    track_uid     uuid        PRIMARY KEY,
    store_id      text        NOT NULL,
    camera_id     text        NOT NULL,
    track_id      integer     NOT NULL,
    first_seen_at timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    last_box      jsonb,
    last_score    real,
    box_at        timestamptz,
    samples       integer     NOT NULL DEFAULT 0,
    ended         boolean     NOT NULL DEFAULT false,
    ended_at      timestamptz,
    end_reason    text,
    duration_s    double precision,
    frames_seen   integer,
    path          jsonb,
    path_length   double precision,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tracks_camera_time ON tracks (store_id, camera_id, first_seen_at DESC, track_uid DESC);
CREATE INDEX tracks_last_seen ON tracks (last_seen_at);

-- identity.resolved / identity.unknown / identity.withdrawn. customer_id is NULLed when
-- the customer is erased (erased = true), so no pseudonymous id outlives the erasure.
CREATE TABLE identity_events (
    occurred_at  timestamptz NOT NULL,
    event_id     uuid        NOT NULL,
    store_id     text        NOT NULL,
    camera_id    text        NOT NULL,
    kind         text        NOT NULL,
    track_id     integer     NOT NULL,
    track_uid    uuid,
    visit_id     uuid        NOT NULL,
    customer_id  text,
    confidence   real,
    reason       text,
    vip          boolean     NOT NULL DEFAULT false,
    details      jsonb       NOT NULL DEFAULT '{}',
    erased       boolean     NOT NULL DEFAULT false,
    published_at timestamptz NOT NULL,
    ingested_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, occurred_at)
);
CREATE INDEX identity_events_camera_time ON identity_events (store_id, camera_id, occurred_at DESC, event_id DESC);
CREATE INDEX identity_events_customer ON identity_events (customer_id, occurred_at DESC) WHERE customer_id IS NOT NULL;

-- Customers erased through the gateway, by the SHA-256 of their id (the id itself is not
-- kept): identity events and alerts about them that occurred before the erasure and are
-- ingested late (after an outage, a replay) are stored without the customer id.
CREATE TABLE erased_customers (
    customer_hash bytea       PRIMARY KEY,
    erased_at     timestamptz NOT NULL
);

-- Alerts are rare and mutable (acknowledgement): a plain table on both dialects.
CREATE TABLE alerts (
    event_id        uuid        PRIMARY KEY,
    occurred_at     timestamptz NOT NULL,
    store_id        text        NOT NULL,
    camera_id       text        NOT NULL,
    kind            text        NOT NULL,
    severity        text        NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
    customer_id     text,
    details         jsonb       NOT NULL DEFAULT '{}',
    published_at    timestamptz NOT NULL,
    ingested_at     timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz,
    acknowledged_by text,
    ack_note        text
);
CREATE INDEX alerts_camera_time ON alerts (store_id, camera_id, occurred_at DESC, event_id DESC);
CREATE INDEX alerts_store_time ON alerts (store_id, occurred_at DESC, event_id DESC);
CREATE INDEX alerts_unacknowledged ON alerts (store_id, occurred_at DESC) WHERE acknowledged_at IS NULL;

-- Bus messages the schema refused: kept, never silently dropped, never redelivered.
CREATE TABLE rejected_events (
    stream      text        NOT NULL,
    stream_seq  bigint      NOT NULL,
    subject     text        NOT NULL,
    error       text        NOT NULL,
    payload     bytea       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, stream_seq)
);

-- Who did or read what, why and when. Append-only: updates and deletes are refused.
CREATE TABLE audit_log (
    id     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at     timestamptz NOT NULL DEFAULT now(),
    actor  text        NOT NULL,
    scopes text[]      NOT NULL,
    action text        NOT NULL,
    target text        NOT NULL,
    reason text,
    details jsonb      NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at DESC);
CREATE INDEX audit_log_actor ON audit_log (actor, at DESC);

CREATE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
