-- The render queue, folded from job.render_queued / render_started / progress / endings by
-- adpipe.projections.render_queue: which jobs wait for a renderer and in what order, so any API
-- process (not one renderer's memory) can answer a job's queuePosition. A row lives from the
-- job's render_queued until its render ends; `queued_at` is that event's global position, the
-- order renderers take jobs in (JetStream delivers the log in order).
CREATE TABLE IF NOT EXISTS render_queue (
    job_id        text PRIMARY KEY,
    queued_at     bigint           NOT NULL,
    video_seconds double precision NOT NULL,
    started       boolean          NOT NULL DEFAULT false,
    percent       integer          NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS render_queue_waiting_idx ON render_queue (queued_at) WHERE NOT started;

-- Seconds of rendering per second of video, averaged over recent renders (one row), for the
-- estimates of queued jobs. Measured, so it follows the machine and the number of renderers.
CREATE TABLE IF NOT EXISTS render_speed (
    id                         integer PRIMARY KEY CHECK (id = 1),
    seconds_per_video_second   double precision NOT NULL
);
