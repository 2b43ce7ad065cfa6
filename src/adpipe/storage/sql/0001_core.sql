-- The event log, the checkpoints of its readers, blobs, API keys and idempotency records.

CREATE TABLE IF NOT EXISTS events (
    -- Global order. Taken under LOCK TABLE events IN EXCLUSIVE MODE in every append, so insert
    -- order equals commit order and a reader never skips an event that commits late.
    position    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          uuid        NOT NULL UNIQUE,
    stream      text        NOT NULL,
    version     integer     NOT NULL CHECK (version > 0),
    type        text        NOT NULL,
    data        jsonb       NOT NULL,
    metadata    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    recorded_at timestamptz NOT NULL,
    -- SHA-256 over the previous event's hash in the stream and this event's canonical envelope.
    hash        text        NOT NULL,
    UNIQUE (stream, version)
);
CREATE INDEX IF NOT EXISTS events_type_idx ON events (type);

-- One row per reader of the log (relay, each projection): the last position it has handled.
CREATE TABLE IF NOT EXISTS checkpoints (
    name       text PRIMARY KEY,
    position   bigint      NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Content-addressed blobs (id = SHA-256 hex of the bytes); the bytes live in blob_chunks so a
-- large video streams with bounded memory and ranges read only the chunks they need.
CREATE TABLE IF NOT EXISTS asset_blobs (
    id           text PRIMARY KEY,
    content_type text        NOT NULL,
    size_bytes   bigint      NOT NULL,
    chunk_size   integer     NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS blob_chunks (
    blob_id text    NOT NULL,
    seq     integer NOT NULL,
    data    bytea   NOT NULL,
    PRIMARY KEY (blob_id, seq)
);
-- Media is already compressed: skip TOAST compression, keep out-of-line storage.
ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE TABLE IF NOT EXISTS api_keys (
    id         text PRIMARY KEY,
    user_id    text        NOT NULL,
    key_hash   text        NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

-- First answers to requests sent with an Idempotency-Key, replayed to retries.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    user_id      text        NOT NULL,
    key          text        NOT NULL,
    fingerprint  text        NOT NULL,
    status_code  integer     NOT NULL,
    headers      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    body         bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
