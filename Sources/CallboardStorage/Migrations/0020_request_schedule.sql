-- When the scheduler looks at a request next, in a narrow table of its own. On `requests` the
-- column made every tick's "look again at …" an UPDATE of the whole wide row: a new version with
-- an entry in each of its fourteen indexes (two of them GIN), about a quarter of PostgreSQL's work
-- in a tick of 10,000 due reminders (docs/performance.md, "The scheduler's writes"). Here it is a
-- row of two columns and two indexes. No row, or NULL: nothing to look at.
CREATE TABLE request_schedule (
    request_id       uuid PRIMARY KEY REFERENCES requests (id) ON DELETE CASCADE,
    next_reminder_at timestamptz
);
INSERT INTO request_schedule (request_id, next_reminder_at) SELECT id, next_reminder_at FROM requests;
CREATE INDEX request_schedule_due_idx ON request_schedule (next_reminder_at) WHERE next_reminder_at IS NOT NULL;
DROP INDEX requests_reminder_due_idx;
ALTER TABLE requests DROP COLUMN next_reminder_at;
