-- The email outbox: an email is queued in the same transaction as the change that caused it,
-- then claimed by workers (FOR UPDATE SKIP LOCKED), leased, sent, and marked, fenced by attempt.

CREATE TABLE emails (
    id            uuid PRIMARY KEY,
    request_id    uuid REFERENCES requests (id),
    kind          text NOT NULL,
    recipient     text NOT NULL,
    subject       text NOT NULL,
    body_text     text NOT NULL,
    body_html     text NOT NULL,
    template_data jsonb NOT NULL DEFAULT '{}',
    -- Settles "the same reminder twice": unique among emails still live or already sent.
    dedup_key     text,
    status        text NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'dead', 'cancelled', 'suppressed')),
    run_at        timestamptz NOT NULL,
    attempts      integer NOT NULL DEFAULT 0,
    max_attempts  integer NOT NULL DEFAULT 8,
    lease_until   timestamptz,
    -- The worker holding (or last holding) the email, and when it claimed it.
    leased_by     text,
    claimed_at    timestamptz,
    last_error    text,
    -- Stable across attempts: SMTP Message-ID and Notify reference, so duplicates downstream are recognisable.
    message_id    text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    sent_at       timestamptz
);
CREATE UNIQUE INDEX emails_dedup_key ON emails (dedup_key) WHERE dedup_key IS NOT NULL AND status IN ('queued', 'sending', 'sent');
-- The claim query reads only this partial index, oldest due first.
CREATE INDEX emails_claim_idx ON emails (run_at) WHERE status = 'queued';
CREATE INDEX emails_lease_idx ON emails (lease_until) WHERE status = 'sending';
CREATE INDEX emails_request_idx ON emails (request_id, created_at);
CREATE INDEX emails_status_idx ON emails (status, created_at, id);
CREATE INDEX emails_recipient_idx ON emails (lower(recipient), created_at);

-- One row per finished delivery attempt (written with its outcome), for staff diagnosing an email.
CREATE TABLE email_attempts (
    email_id    uuid NOT NULL REFERENCES emails (id),
    attempt     integer NOT NULL,
    worker      text NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    outcome     text,
    error       text,
    PRIMARY KEY (email_id, attempt)
);

-- Addresses never to send to: bounced permanently, or added by staff.
CREATE TABLE email_suppressions (
    address    text PRIMARY KEY,  -- lower-cased
    reason     text NOT NULL,
    created_at timestamptz NOT NULL
);
