-- Read models behind /api/v3: kept current by the projections in adpipe.projections and
-- rebuildable from the log at any time (TRUNCATE + replay). Ids are text: they come from
-- stream names and from URLs, and an id that is not a UUID must answer 404, not an error.

CREATE TABLE IF NOT EXISTS clients (
    id           text PRIMARY KEY,
    user_id      text        NOT NULL,
    name         text        NOT NULL,
    description  text        NOT NULL DEFAULT '',
    website      text,
    brand_colors jsonb       NOT NULL DEFAULT '[]'::jsonb,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS clients_user_idx ON clients (user_id, created_at, id);

CREATE TABLE IF NOT EXISTS campaigns (
    id          text PRIMARY KEY,
    user_id     text        NOT NULL,
    client_id   text        NOT NULL,
    name        text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    objective   text        NOT NULL DEFAULT '',
    budget      double precision,
    start_date  text,
    end_date    text,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS campaigns_user_idx ON campaigns (user_id, created_at, id);
CREATE INDEX IF NOT EXISTS campaigns_client_idx ON campaigns (client_id);

-- The seed's `assets` table: one row per asset, pending until its bytes are stored.
CREATE TABLE IF NOT EXISTS assets (
    id                text PRIMARY KEY,
    user_id           text        NOT NULL,
    client_id         text,
    campaign_id       text,
    job_id            text,
    name              text        NOT NULL,
    type              text        NOT NULL,
    status            text        NOT NULL,  -- pending | ready | failed
    source_url        text,
    blob_id           text,
    thumbnail_blob_id text,
    format            text,
    content_type      text,
    size              bigint,
    width             integer,
    height            integer,
    duration          double precision,
    metadata          jsonb,
    tags              text[]      NOT NULL DEFAULT '{}',
    cost              double precision NOT NULL DEFAULT 0,
    error_code        text,
    error_message     text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS assets_user_idx ON assets (user_id, created_at, id);
CREATE INDEX IF NOT EXISTS assets_tags_idx ON assets USING gin (tags);

-- The seed's `jobs` table: view columns for filtering and stats, plus `state`, the job
-- aggregate's own fold (JobState as JSON) from which the API builds the full job document.
CREATE TABLE IF NOT EXISTS jobs (
    id             text PRIMARY KEY,
    user_id        text        NOT NULL,
    client_id      text        NOT NULL,
    campaign_id    text,
    status         text        NOT NULL,
    progress       integer     NOT NULL DEFAULT 0,
    pending        text,
    asset_ids      text[]      NOT NULL DEFAULT '{}',
    cost_planning  double precision NOT NULL DEFAULT 0,
    cost_rendering double precision NOT NULL DEFAULT 0,
    cost_storage   double precision NOT NULL DEFAULT 0,
    cost_total     double precision NOT NULL DEFAULT 0,
    video_blob_id  text,
    video_seconds  double precision,
    state          jsonb       NOT NULL,
    version        integer     NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_user_idx ON jobs (user_id, created_at, id);
CREATE INDEX IF NOT EXISTS jobs_client_idx ON jobs (client_id, status);
CREATE INDEX IF NOT EXISTS jobs_campaign_idx ON jobs (campaign_id, status);
CREATE INDEX IF NOT EXISTS jobs_assets_idx ON jobs USING gin (asset_ids);

-- The seed's `job_scenes`: the current storyboard, one row per scene.
CREATE TABLE IF NOT EXISTS job_scenes (
    job_id           text        NOT NULL,
    scene_number     integer     NOT NULL,
    duration_seconds double precision NOT NULL,
    description      text        NOT NULL,
    script           text        NOT NULL,
    shot_type        text        NOT NULL,
    transition       text        NOT NULL,
    assets           jsonb       NOT NULL DEFAULT '[]'::jsonb,  -- asset ids
    metadata         jsonb       NOT NULL DEFAULT '{}'::jsonb,  -- origin, feedback, planner
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (job_id, scene_number)
);
