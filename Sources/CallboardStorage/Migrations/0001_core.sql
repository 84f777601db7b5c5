-- Core schema: staff and their API tokens, dashboard requests, their append-only history,
-- and the responses remembered for Idempotency-Key retries.

CREATE TABLE staff (
    id          uuid PRIMARY KEY,
    email       text NOT NULL,
    name        text NOT NULL DEFAULT '',
    role        text NOT NULL CHECK (role IN ('admin', 'triager', 'viewer')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz
);
CREATE UNIQUE INDEX staff_email_key ON staff (lower(email));

-- Only a SHA-256 of each token is stored; the token itself is shown once, at creation.
CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    staff_id     uuid NOT NULL REFERENCES staff (id),
    token_hash   bytea NOT NULL UNIQUE,
    name         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_tokens_staff_idx ON api_tokens (staff_id);

CREATE TABLE requests (
    id                uuid PRIMARY KEY,
    kind              text NOT NULL CHECK (kind IN ('transactional', 'non_transactional')),
    state             text NOT NULL CHECK (state IN ('requested', 'info_complete', 'signoff_pending', 'built',
                                                     'preview_published', 'live', 'product_audit', 'withdrawn')),
    version           integer NOT NULL DEFAULT 1,
    department        text NOT NULL,
    division          text NOT NULL DEFAULT 'england-and-wales'
                      CHECK (division IN ('england-and-wales', 'scotland', 'northern-ireland')),
    assignee_id       uuid REFERENCES staff (id),
    -- The eight items: {"contact": {"status": "provided", "value": {...}}, ...}
    items             jsonb NOT NULL,
    -- Required items still 'missing' (as the API's missing_items), kept beside `items` for the `missing=` filter.
    missing_items     text[] NOT NULL DEFAULT '{}',
    optional_modules  text[] NOT NULL DEFAULT '{}',
    service_name      text NOT NULL DEFAULT '',
    notes             text NOT NULL DEFAULT '',
    sign_off_decision text CHECK (sign_off_decision IN ('approved', 'changes_requested')),
    preview_url       text,
    live_url          text,
    audit_outcome     text,
    info_complete_at  timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    search            tsvector GENERATED ALWAYS AS (
                          to_tsvector('simple', service_name || ' ' || department || ' ' || coalesce(items #>> '{service,value,description}', ''))
                      ) STORED
);
-- The list's stable order is (created_at, id); each filter has an index that keeps that order.
CREATE INDEX requests_order_idx ON requests (created_at, id);
CREATE INDEX requests_state_idx ON requests (state, created_at, id);
CREATE INDEX requests_assignee_idx ON requests (assignee_id, created_at, id);
CREATE INDEX requests_department_idx ON requests (lower(department), created_at, id);
CREATE INDEX requests_missing_idx ON requests USING gin (missing_items);
CREATE INDEX requests_search_idx ON requests USING gin (search);

-- Every change to a request, in order. Rows are never changed or removed: the trigger refuses.
CREATE TABLE request_events (
    id          bigserial PRIMARY KEY,
    request_id  uuid NOT NULL REFERENCES requests (id),
    version     integer NOT NULL,
    kind        text NOT NULL,
    actor_kind  text NOT NULL,
    actor_id    text,
    occurred_at timestamptz NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX request_events_request_idx ON request_events (request_id, id);

CREATE FUNCTION request_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'request_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER request_events_no_update BEFORE UPDATE OR DELETE ON request_events
    FOR EACH ROW EXECUTE FUNCTION request_events_append_only();
CREATE TRIGGER request_events_no_truncate BEFORE TRUNCATE ON request_events
    FOR EACH STATEMENT EXECUTE FUNCTION request_events_append_only();

-- The first response to each (caller, Idempotency-Key); a retry gets it back.
CREATE TABLE idempotency_keys (
    principal    text NOT NULL,
    key          text NOT NULL,
    fingerprint  bytea NOT NULL,
    status       integer,
    headers      jsonb,
    body         bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
