-- Bank-holiday snapshots stored by `callboard calendar refresh`; the newest is used, the program's
-- own snapshot when there is none. Deadlines record the version they were worked out with.
CREATE TABLE calendar_snapshots (
    version    text PRIMARY KEY,
    source     text NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX calendar_snapshots_created_idx ON calendar_snapshots (created_at DESC);
