-- The documents the API serves, as it serves them (camelCase JSON), written by the projections
-- of `jobs` and `assets`: a read is one query and no decoding (see adpipe.api.views).
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS view jsonb;
ALTER TABLE assets ADD COLUMN IF NOT EXISTS view jsonb;

-- Which code built a projection's rows. A projection whose version differs from the one that
-- runs (its stored JSON changed shape) is rebuilt from the log before it goes on.
ALTER TABLE checkpoints ADD COLUMN IF NOT EXISTS version text NOT NULL DEFAULT '';
