-- Links in emails (DESIGN §6): a random token, stored only as its SHA-256, bound to one person,
-- one request and one purpose, with an expiry. A GET never changes anything; a POST carries the
-- link's CSRF token.
CREATE TABLE links (
    id              uuid PRIMARY KEY,
    token_hash      bytea NOT NULL UNIQUE,
    purpose         text NOT NULL CHECK (purpose IN ('sign_off', 'contact')),
    request_id      uuid NOT NULL REFERENCES requests (id),
    email           text NOT NULL,
    -- The request's version when the person was asked: later changes are shown to them.
    request_version integer NOT NULL,
    csrf            text NOT NULL,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL
);
CREATE INDEX links_request_idx ON links (request_id, created_at);
