-- Blobs being written: their chunks sit under a temporary id, committed a few at a time, until
-- the last transaction renames them to the content's hash. A writer that died leaves a row
-- here that stops being touched; the sweeper deletes its chunks.
CREATE TABLE IF NOT EXISTS blob_uploads (
    temp_id    text PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT now(),
    touched_at timestamptz NOT NULL DEFAULT now()
);
