-- Link secrets are minted when an email is sent, never when it is queued (docs/security.md).
-- The outbox keeps a placeholder naming the link (`cblink_` + the link id's 32 hex digits); the
-- worker mints one token per link per send and stores only its SHA-256 here. A link may have
-- several tokens: a retry after an unknown outcome (a connection dropped after DATA) mints fresh
-- ones and the earlier ones stay valid until the link expires, since that mail may have arrived.
CREATE TABLE link_tokens (
    token_hash bytea PRIMARY KEY,
    -- links.id, or staff_sign_in_links.id
    link_id    uuid NOT NULL,
    email_id   uuid,
    created_at timestamptz NOT NULL
);
CREATE INDEX link_tokens_link_idx ON link_tokens (link_id);

ALTER TABLE staff_sign_in_links ADD COLUMN id uuid;
UPDATE staff_sign_in_links SET id = gen_random_uuid();
ALTER TABLE staff_sign_in_links ALTER COLUMN id SET NOT NULL;
ALTER TABLE staff_sign_in_links DROP CONSTRAINT staff_sign_in_links_pkey;
ALTER TABLE staff_sign_in_links ADD PRIMARY KEY (id);
CREATE INDEX staff_sign_in_links_staff_idx ON staff_sign_in_links (staff_id);

-- Existing links keep working: their hashes move here.
INSERT INTO link_tokens (token_hash, link_id, created_at) SELECT token_hash, id, created_at FROM links;
INSERT INTO link_tokens (token_hash, link_id, created_at) SELECT token_hash, id, created_at FROM staff_sign_in_links;

-- Scrub the tokens already stored in the outbox: each becomes its link's placeholder (so a queued
-- email still carries a working link, minted at send time), or `redacted` when no link has it.
CREATE FUNCTION pg_temp.scrub_link_tokens(t text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    m text[];
    found uuid;
    result text := t;
BEGIN
    FOR m IN SELECT regexp_matches(t, '/(sign-off|tasks|upload|staff/sign-in)/([A-Za-z0-9_-]{43})', 'g') LOOP
        SELECT link_id INTO found FROM link_tokens WHERE token_hash = sha256(convert_to(m[2], 'UTF8'));
        result := replace(result, '/' || m[1] || '/' || m[2],
                          '/' || m[1] || '/' || CASE WHEN found IS NULL THEN 'redacted' ELSE 'cblink_' || replace(found::text, '-', '') END);
    END LOOP;
    RETURN result;
END
$$;

UPDATE emails SET body_text = pg_temp.scrub_link_tokens(body_text),
                  body_html = pg_temp.scrub_link_tokens(body_html),
                  template_data = pg_temp.scrub_link_tokens(template_data::text)::jsonb
WHERE body_text ~ '/(sign-off|tasks|upload|staff/sign-in)/[A-Za-z0-9_-]{43}'
   OR body_html ~ '/(sign-off|tasks|upload|staff/sign-in)/[A-Za-z0-9_-]{43}'
   OR template_data::text ~ '/(sign-off|tasks|upload|staff/sign-in)/[A-Za-z0-9_-]{43}';

ALTER TABLE links DROP COLUMN token_hash;
ALTER TABLE staff_sign_in_links DROP COLUMN token_hash;
