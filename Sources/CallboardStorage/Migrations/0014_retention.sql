-- The retention job (RetentionStore, docs/security.md "What is stored, and for how long"): when a
-- sent email's body was emptied, and an index for each cutoff, so every bounded batch reads the
-- oldest rows first without scanning the table.

-- A sent email keeps its metadata and attempts; after CALLBOARD_EMAIL_BODY_RETENTION_DAYS its text,
-- HTML and template data are emptied and this says when.
ALTER TABLE emails ADD COLUMN body_purged_at timestamptz;
CREATE INDEX emails_body_retention_idx ON emails (sent_at) WHERE status = 'sent' AND body_purged_at IS NULL;

CREATE INDEX links_expires_idx ON links (expires_at);
-- A sign-in link is over once used or expired, a session once signed out of or expired (least()
-- skips NULLs).
CREATE INDEX staff_sign_in_links_over_idx ON staff_sign_in_links (least(used_at, expires_at));
CREATE INDEX staff_sessions_over_idx ON staff_sessions (least(ended_at, expires_at));
