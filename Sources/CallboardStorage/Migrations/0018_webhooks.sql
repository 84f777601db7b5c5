-- Webhooks: subscriptions (a target URL, the event types it wants, a signing secret kept only
-- encrypted) and an outbox of deliveries queued in the same transaction as the change that
-- caused them, claimed by workers (FOR UPDATE SKIP LOCKED), leased, sent, and marked, fenced by attempt.

CREATE TABLE webhook_subscriptions (
    id                uuid PRIMARY KEY,
    url               text NOT NULL,
    description       text NOT NULL DEFAULT '',
    event_types       text[] NOT NULL,
    -- AES-GCM sealed box (nonce, ciphertext, tag) of the signing secret, keyed by
    -- CALLBOARD_SECRET_KEY_FILE; the subscription id is its associated data.
    secret_ciphertext bytea NOT NULL,
    -- Which key sealed it (the first 8 bytes of the key's SHA-256, hex): never the key itself.
    secret_key_id     text NOT NULL,
    enabled           boolean NOT NULL DEFAULT true,
    disabled_reason   text,
    created_by        text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
-- What every change that may cause an event asks: which enabled subscriptions want this type.
CREATE INDEX webhook_subscriptions_event_types_idx ON webhook_subscriptions USING gin (event_types) WHERE enabled;

CREATE TABLE webhook_deliveries (
    -- Also the `webhook-id` header: the same on every attempt and replay.
    id              uuid PRIMARY KEY,
    subscription_id uuid NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    event_type      text NOT NULL,
    -- Identifiers and states only: the body is built from these at send time, the same bytes every time.
    data            jsonb NOT NULL,
    occurred_at     timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'sending', 'delivered', 'failed', 'dead')),
    run_at          timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    max_attempts    integer NOT NULL DEFAULT 8,
    lease_until     timestamptz,
    leased_by       text,
    claimed_at      timestamptz,
    last_error      text,
    last_status     integer,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    delivered_at    timestamptz
);
CREATE INDEX webhook_deliveries_claim_idx ON webhook_deliveries (run_at) WHERE status = 'queued';
CREATE INDEX webhook_deliveries_lease_idx ON webhook_deliveries (lease_until) WHERE status = 'sending';
CREATE INDEX webhook_deliveries_subscription_idx ON webhook_deliveries (subscription_id, created_at, id);

-- One row per finished attempt: the receiver's status code or the error, and how long it took.
CREATE TABLE webhook_attempts (
    delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    worker      text NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    outcome     text NOT NULL,
    status_code integer,
    error       text,
    duration_ms integer,
    PRIMARY KEY (delivery_id, attempt)
);
