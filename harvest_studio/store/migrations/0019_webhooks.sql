-- Webhooks: an HTTP POST, signed with HMAC-SHA256, for each run that ends (or misses its
-- SLA) matching a subscription; every delivery and its attempts kept in a log.
CREATE TABLE harvest.webhooks (
    id             bigserial PRIMARY KEY,
    namespace      text NOT NULL,
    name           text NOT NULL,
    url            text NOT NULL,
    secret         text NOT NULL,
    events         text[] NOT NULL,
    workflow_type  text,
    sla_seconds    double precision CHECK (sla_seconds IS NULL OR sla_seconds > 0),
    cursor_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    created_by     text NOT NULL,
    UNIQUE (namespace, name)
);

CREATE TABLE harvest.webhook_deliveries (
    id               bigserial PRIMARY KEY,
    webhook_id       bigint NOT NULL REFERENCES harvest.webhooks (id) ON DELETE CASCADE,
    run_id           uuid NOT NULL,
    event            text NOT NULL,
    payload          jsonb NOT NULL,
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_status      integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    delivered_at     timestamptz,
    UNIQUE (webhook_id, run_id, event)
);
CREATE INDEX webhook_deliveries_due ON harvest.webhook_deliveries (next_attempt_at)
    WHERE state = 'pending';
