-- The reminder scheduler (DESIGN §4). Each request and data set carries the next instant its rules
-- can owe something new, so a tick reads only the rows due now through a small partial index;
-- any change to a row sets it to "now" so the next tick looks again.
ALTER TABLE requests
    ADD COLUMN state_entered_at timestamptz,
    ADD COLUMN next_reminder_at timestamptz;
UPDATE requests SET state_entered_at = coalesce(info_complete_at, updated_at), next_reminder_at = updated_at;
UPDATE requests SET state_entered_at = created_at WHERE state = 'requested';
ALTER TABLE requests ALTER COLUMN state_entered_at SET NOT NULL;
CREATE INDEX requests_reminder_due_idx ON requests (next_reminder_at) WHERE next_reminder_at IS NOT NULL;

ALTER TABLE data_sets ADD COLUMN next_reminder_at timestamptz;
UPDATE data_sets SET next_reminder_at = updated_at;
CREATE INDEX data_sets_reminder_due_idx ON data_sets (next_reminder_at) WHERE next_reminder_at IS NOT NULL;

-- One row per reminder a rule owed, keyed by its dedup key: whichever scheduler inserts it queues
-- its email; acting settles it, which cancels the emails still queued for it.
CREATE TABLE reminders (
    dedup_key   text PRIMARY KEY,
    rule        text NOT NULL,
    kind        text NOT NULL,
    step        integer NOT NULL,
    request_id  uuid NOT NULL REFERENCES requests (id),
    data_set_id uuid REFERENCES data_sets (id),
    recipients  text[] NOT NULL,
    created_at  timestamptz NOT NULL,
    settled_at  timestamptz
);
CREATE INDEX reminders_open_request_idx ON reminders (request_id, rule) WHERE settled_at IS NULL;
CREATE INDEX reminders_open_data_set_idx ON reminders (data_set_id) WHERE settled_at IS NULL AND data_set_id IS NOT NULL;

-- A digest email covers several reminders; a reminder with several recipients has several emails.
CREATE TABLE reminder_emails (
    reminder_key text NOT NULL REFERENCES reminders (dedup_key),
    email_id     uuid NOT NULL REFERENCES emails (id),
    PRIMARY KEY (reminder_key, email_id)
);
CREATE INDEX reminder_emails_email_idx ON reminder_emails (email_id);
