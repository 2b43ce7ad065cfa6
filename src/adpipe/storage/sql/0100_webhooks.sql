-- Webhooks: the subscriptions read model, signing secrets (never in the log), the webhooks
-- service's routing table, and its delivery outbox with every attempt.

-- Read model of the `webhooks` projection (rebuildable from webhook.* events).
CREATE TABLE IF NOT EXISTS webhooks (
    id                text PRIMARY KEY,
    user_id           text        NOT NULL,
    url               text        NOT NULL,
    events            text[]      NOT NULL,
    description       text        NOT NULL DEFAULT '',
    enabled           boolean     NOT NULL DEFAULT true,
    disabled_reason   text,
    secret_rotated_at timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS webhooks_user_idx ON webhooks (user_id, created_at, id);

-- The signing secret of each subscription, written by the API only. After a rotation the previous
-- secret still signs (a second signature) until previous_expires_at, so receivers can switch over.
CREATE TABLE IF NOT EXISTS webhook_secrets (
    webhook_id          text PRIMARY KEY,
    secret              text        NOT NULL,
    previous_secret     text,
    previous_expires_at timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- The dispatcher's own view of the subscriptions, folded in the same global order as the events
-- it routes (so an event goes to exactly the subscriptions that existed when it happened).
-- failing_since is the sender's: when the endpoint's current run of failures began.
CREATE TABLE IF NOT EXISTS webhook_routes (
    webhook_id    text PRIMARY KEY,
    user_id       text        NOT NULL,
    url           text        NOT NULL,
    events        text[]      NOT NULL,
    enabled       boolean     NOT NULL DEFAULT true,
    deleted       boolean     NOT NULL DEFAULT false,
    failing_since timestamptz
);
CREATE INDEX IF NOT EXISTS webhook_routes_user_idx ON webhook_routes (user_id) WHERE NOT deleted;

-- The outbox: one message per (subscription, event). Within one subscription, messages of one
-- ordering key (the event's stream, e.g. one job) go out in position order.
CREATE TABLE IF NOT EXISTS webhook_messages (
    id              uuid PRIMARY KEY,
    webhook_id      text        NOT NULL,
    event_id        uuid        NOT NULL,
    position        bigint      NOT NULL,
    ordering_key    text        NOT NULL,
    event_type      text        NOT NULL,
    body            text        NOT NULL,
    -- pending → delivered | failed (retries spent, or the webhook was disabled) | cancelled
    status          text        NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts        integer     NOT NULL DEFAULT 0,
    schedule_step   integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    -- A sender's claim: it expires, so a crashed sender's message is sent again (at least once).
    locked_until    timestamptz,
    last_status_code integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX IF NOT EXISTS webhook_messages_due_idx
    ON webhook_messages (next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS webhook_messages_order_idx
    ON webhook_messages (webhook_id, ordering_key, position) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS webhook_messages_list_idx ON webhook_messages (webhook_id, position);
CREATE INDEX IF NOT EXISTS webhook_messages_done_idx
    ON webhook_messages (created_at) WHERE status <> 'pending';

CREATE TABLE IF NOT EXISTS webhook_attempts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id    uuid        NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
    webhook_id    text        NOT NULL,
    attempt       integer     NOT NULL,
    started_at    timestamptz NOT NULL,
    status_code   integer,
    latency_ms    integer     NOT NULL,
    error         text,
    response      text,
    next_retry_at timestamptz
);
CREATE INDEX IF NOT EXISTS webhook_attempts_message_idx ON webhook_attempts (message_id, id);
