-- Full URLs whose credentials (user:pass@, a presigned URL's signature, a ?token=…) must stay out
-- of the log: events and read models hold the redacted URL (adpipe.net.redact), this table the one
-- to fetch or post to — a plain table like webhook_secrets, never folded, never exported. A row
-- exists only for a URL that had something to redact. An asset's row is written before its
-- asset.registered and deleted once it is stored or failed for good; a webhook's lives as long as
-- the webhook.
CREATE TABLE IF NOT EXISTS url_secrets (
    kind       text        NOT NULL CHECK (kind IN ('asset', 'webhook')),
    owner_id   text        NOT NULL,
    url        text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, owner_id)
);
