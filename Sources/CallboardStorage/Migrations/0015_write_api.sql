-- The Performance Platform write API: a data set gets a write path (data_group/data_type), typed
-- fields, per-data-set write tokens (hashes only) and a store of records.

-- Typed fields: today's list of numeric CSV columns becomes [{"name": …, "type": "number"}].
ALTER TABLE data_sets ADD COLUMN typed_fields jsonb;
UPDATE data_sets d SET typed_fields = (
    SELECT coalesce(jsonb_agg(jsonb_build_object('name', f, 'type', 'number') ORDER BY o), '[]'::jsonb)
    FROM unnest(d.fields) WITH ORDINALITY AS u(f, o));
ALTER TABLE data_sets DROP COLUMN fields;
ALTER TABLE data_sets RENAME COLUMN typed_fields TO fields;
ALTER TABLE data_sets ALTER COLUMN fields SET NOT NULL, ALTER COLUMN fields SET DEFAULT '[]'::jsonb;

ALTER TABLE data_sets
    ADD COLUMN data_group text CHECK (data_group ~ '^[a-z0-9-]{1,100}$'),
    ADD COLUMN data_type text CHECK (data_type ~ '^[a-z0-9-]{1,100}$'),
    -- Private data sets are never readable without a token, even once the dashboard is live.
    ADD COLUMN private boolean NOT NULL DEFAULT false,
    -- The last write through the write API or the CSV page (the data set's page shows it).
    ADD COLUMN last_write_at timestamptz,
    ADD COLUMN last_write_records integer,
    ADD COLUMN last_write_source text,
    ADD COLUMN last_write_token_id uuid,
    ADD CONSTRAINT data_sets_write_path_check CHECK ((data_group IS NULL) = (data_type IS NULL));
CREATE UNIQUE INDEX data_sets_write_path_key ON data_sets (data_group, data_type) WHERE data_group IS NOT NULL;

-- Per-data-set bearer tokens: only a SHA-256 is stored; several may be live at once (rotation).
CREATE TABLE data_set_write_tokens (
    id           uuid PRIMARY KEY,
    data_set_id  uuid NOT NULL REFERENCES data_sets (id),
    token_hash   bytea NOT NULL UNIQUE,
    name         text NOT NULL DEFAULT '',
    created_by   text,
    created_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX data_set_write_tokens_data_set_idx ON data_set_write_tokens (data_set_id);

-- The records themselves: `record_id` is the record's `_id` (or one generated for it), `at` its
-- `_timestamp` (NULL: stored, settles nothing), `data` every other field.
CREATE TABLE data_set_records (
    data_set_id uuid NOT NULL REFERENCES data_sets (id),
    record_id   text NOT NULL,
    at          timestamptz,
    data        jsonb NOT NULL,
    written_at  timestamptz NOT NULL,
    PRIMARY KEY (data_set_id, record_id)
);
CREATE INDEX data_set_records_time_idx ON data_set_records (data_set_id, at);

-- Uploads through the write API name the token that wrote them.
ALTER TABLE data_set_uploads ADD COLUMN token_id uuid;
