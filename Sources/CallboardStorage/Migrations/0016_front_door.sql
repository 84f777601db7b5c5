-- The front door: a reference a person can read out on the phone for every request, and
-- applications made by service teams themselves before they become requests.

-- CB-XXXX-XXXX from 30 letters and digits none of which can be mistaken for another (no 0/O,
-- 1/I/L, U/V kept apart by dropping U). Not a secret: random() is enough; the loop makes it unique.
CREATE FUNCTION callboard_reference() RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    alphabet constant text := '23456789ABCDEFGHJKMNPQRSTVWXYZ';
    ref text;
BEGIN
    LOOP
        ref := 'CB-';
        FOR i IN 1..8 LOOP
            IF i = 5 THEN ref := ref || '-'; END IF;
            ref := ref || substr(alphabet, 1 + floor(random() * 30)::int, 1);
        END LOOP;
        EXIT WHEN NOT EXISTS (SELECT 1 FROM requests WHERE reference = ref);
    END LOOP;
    RETURN ref;
END $$;

ALTER TABLE requests ADD COLUMN reference text;
-- One statement per row, so each sees the references given before it.
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT id FROM requests ORDER BY created_at LOOP
        UPDATE requests SET reference = callboard_reference() WHERE id = r.id;
    END LOOP;
END $$;
ALTER TABLE requests ALTER COLUMN reference SET NOT NULL;
ALTER TABLE requests ALTER COLUMN reference SET DEFAULT callboard_reference();
CREATE UNIQUE INDEX requests_reference_idx ON requests (reference);
-- The board's search finds the reference and the service contact's address too.
DROP INDEX requests_search_idx;
ALTER TABLE requests DROP COLUMN search;
ALTER TABLE requests ADD COLUMN search tsvector GENERATED ALWAYS AS (
    to_tsvector('simple', service_name || ' ' || department || ' ' || reference || ' '
        || coalesce(items #>> '{contact,value,email}', '') || ' ' || coalesce(items #>> '{contact,value,name}', '') || ' '
        || coalesce(items #>> '{service,value,description}', ''))
) STORED;
CREATE INDEX requests_search_idx ON requests USING gin (search);

-- An application: the applicant's answers, kept under a session cookie (only its SHA-256 here)
-- until they confirm their email address, when it becomes a request. Unconfirmed ones are purged
-- after 7 days (RetentionStore).
CREATE TABLE applications (
    id            uuid PRIMARY KEY,
    session_hash  bytea NOT NULL UNIQUE,
    csrf          text NOT NULL,
    -- Each step's answers as the form held them, and each answered item as the API takes it.
    answers       jsonb NOT NULL DEFAULT '{}',
    email         text,
    -- draft, submitted (confirmation emailed), confirmed (a request), duplicate (one existed)
    status        text NOT NULL DEFAULT 'draft',
    request_id    uuid REFERENCES requests (id),
    duplicate_of  uuid REFERENCES requests (id),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    confirmed_at  timestamptz
);
CREATE INDEX applications_unconfirmed_idx ON applications (created_at) WHERE confirmed_at IS NULL;

-- Emailed links of an application: `confirm` (24 hours, single use) and `resume` ("save and come
-- back later"). Their tokens are minted by the worker at send time into link_tokens (hash only).
CREATE TABLE application_links (
    id             uuid PRIMARY KEY,
    application_id uuid NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    purpose        text NOT NULL CHECK (purpose IN ('confirm', 'resume')),
    email          text NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz
);
CREATE INDEX application_links_application_idx ON application_links (application_id);

-- What a new application is compared with, so a service is not requested twice.
CREATE INDEX requests_start_page_idx ON requests (rtrim(lower(items #>> '{service,value,start_page_url}'), '/'));
CREATE INDEX requests_service_department_idx ON requests (lower(service_name), lower(department));
