-- Events a projection could not fold: skipped (the checkpoint moves on, so writes waiting for
-- the read models never freeze), kept here with the error until a rebuild folds them again.
CREATE TABLE IF NOT EXISTS projection_failures (
    projection  text        NOT NULL,
    position    bigint      NOT NULL,
    event_id    uuid        NOT NULL,
    event_type  text        NOT NULL,
    error       text        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, position)
);
