-- Staff pages: sign in with an emailed single-use link, then a session cookie. Only SHA-256
-- hashes of the link tokens and session ids are stored.
CREATE TABLE staff_sign_in_links (
    token_hash bytea PRIMARY KEY,
    staff_id   uuid NOT NULL REFERENCES staff (id),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);

CREATE TABLE staff_sessions (
    token_hash bytea PRIMARY KEY,
    staff_id   uuid NOT NULL REFERENCES staff (id),
    -- Every form of a signed-in page carries it.
    csrf       text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    ended_at   timestamptz
);
CREATE INDEX staff_sessions_staff_idx ON staff_sessions (staff_id);
