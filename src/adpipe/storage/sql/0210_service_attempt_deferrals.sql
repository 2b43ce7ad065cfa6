-- A delivery a service handed back unstarted because its user's fair share of the service was
-- in use (worker.Deferred). It is not an attempt: it neither counts towards max_deliver nor, left
-- without heartbeats, looks like a crash.
ALTER TABLE service_attempts ADD COLUMN IF NOT EXISTS deferred boolean NOT NULL DEFAULT false;
