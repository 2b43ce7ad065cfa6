-- Which deliveries of an event each service has started and not yet settled. A row left
-- unsettled and silent (no heartbeat) means the process handling it died mid-work; its count
-- bounds how often one poisonous message may crash its service (settings.max_crashes).
CREATE TABLE IF NOT EXISTS service_attempts (
    service    text        NOT NULL,
    event_id   text        NOT NULL,
    delivery   integer     NOT NULL,  -- JetStream's delivery count of the message
    instance   text        NOT NULL,  -- host:pid of the process handling it
    started_at timestamptz NOT NULL DEFAULT now(),
    beat_at    timestamptz NOT NULL DEFAULT now(),
    -- Why the attempt crashed, when a child process of its work died and said how.
    crash      text,
    PRIMARY KEY (service, event_id, delivery)
);
