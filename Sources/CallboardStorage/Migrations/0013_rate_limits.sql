-- Rate limits (an expired link's "email me a new link", staff sign-in requests), shared by every
-- instance: one fixed window per (bucket, key). A key is an id (a link's, a staff member's), never
-- a secret, and a row is written only once the key is known to be real: whatever anyone sends,
-- the table holds at most one row per link or staff member and limit. RateLimitStore.purgeExpired
-- deletes rows whose window has ended.
CREATE TABLE rate_limits (
    bucket       text NOT NULL,
    key          uuid NOT NULL,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    -- Counted in this window, capped at the limit + 1 (every hit past the limit is refused alike).
    hits         int NOT NULL,
    PRIMARY KEY (bucket, key)
);
CREATE INDEX rate_limits_window_end_idx ON rate_limits (window_end);

-- A sign-in request for an address that is not an active staff member must be limited exactly like
-- one for a real address (or the 429 would tell which addresses belong to staff), yet must not
-- write a row of its own. Such requests share a fixed number of slots per bucket instead, chosen by
-- a keyed hash of the address (the key below, made here and never sent anywhere) so that nobody can
-- aim requests at the slot another address falls in. At most 65,536 rows per bucket, ever.
CREATE TABLE rate_limit_slots (
    bucket       text NOT NULL,
    slot         int NOT NULL,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    hits         int NOT NULL,
    PRIMARY KEY (bucket, slot)
);
CREATE INDEX rate_limit_slots_window_end_idx ON rate_limit_slots (window_end);

CREATE TABLE rate_limit_secret (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    secret   bytea NOT NULL
);
-- 244 bits from the server's strong random source (gen_random_uuid).
INSERT INTO rate_limit_secret (secret)
VALUES (decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));
