-- Spreadsheet-fed data sets of a request: a cadence, a due rule (N working days after a period
-- ends), uploaders, and the uploads received per period.
CREATE TABLE data_sets (
    id               uuid PRIMARY KEY,
    request_id       uuid NOT NULL REFERENCES requests (id),
    name             text NOT NULL,
    cadence          text NOT NULL CHECK (cadence IN ('weekly', 'monthly', 'quarterly')),
    due_working_days integer NOT NULL CHECK (due_working_days BETWEEN 0 AND 60),
    uploaders        jsonb NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    UNIQUE (request_id, name)
);

CREATE TABLE data_set_uploads (
    id           uuid PRIMARY KEY,
    data_set_id  uuid NOT NULL REFERENCES data_sets (id),
    period_start date NOT NULL,
    period_end   date NOT NULL,
    received_at  timestamptz NOT NULL,
    -- staff (recorded for a feed outside Callboard), api or csv (later issues)
    source       text NOT NULL,
    actor_id     text,
    note         text NOT NULL DEFAULT ''
);
CREATE INDEX data_set_uploads_period_idx ON data_set_uploads (data_set_id, period_start DESC);
