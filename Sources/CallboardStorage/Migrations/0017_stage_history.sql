-- The team's figures (docs/team-performance.md) read time spent in each state from the history.
-- request_intervals holds one row per stretch a request spent in a state, closed by the
-- `transitioned` event that ended it; a trigger on request_events writes it, so every path that
-- records a transition (API, pages, scheduler, seed) keeps it, and it is derived from the
-- append-only history alone (the backfill below is the same rule over the events already there).
CREATE TABLE request_intervals (
    event_id    bigint PRIMARY KEY REFERENCES request_events (id),
    request_id  uuid NOT NULL REFERENCES requests (id),
    state       text NOT NULL,
    -- The stretch began with the sign-off owner's approval (signoff_pending after approval).
    approved    boolean NOT NULL,
    entered_at  timestamptz NOT NULL,
    left_at     timestamptz NOT NULL,
    -- The transition that ended the stretch.
    left_by     text NOT NULL
);
CREATE INDEX request_intervals_request_idx ON request_intervals (request_id, event_id);
CREATE INDEX request_intervals_left_idx ON request_intervals (left_at);

CREATE FUNCTION request_intervals_record() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_left timestamptz;
    last_by   text;
BEGIN
    SELECT left_at, left_by INTO last_left, last_by FROM request_intervals
    WHERE request_id = NEW.request_id ORDER BY event_id DESC LIMIT 1;
    IF last_left IS NULL THEN
        SELECT created_at INTO last_left FROM requests WHERE id = NEW.request_id;
    END IF;
    INSERT INTO request_intervals (event_id, request_id, state, approved, entered_at, left_at, left_by)
    VALUES (NEW.id, NEW.request_id, NEW.data ->> 'from',
            NEW.data ->> 'from' = 'signoff_pending' AND coalesce(last_by = 'approve_sign_off', false),
            last_left, NEW.occurred_at, NEW.data ->> 'transition');
    RETURN NULL;
END;
$$;
CREATE TRIGGER request_intervals_on_transition AFTER INSERT ON request_events
    FOR EACH ROW WHEN (NEW.kind = 'transitioned') EXECUTE FUNCTION request_intervals_record();

INSERT INTO request_intervals (event_id, request_id, state, approved, entered_at, left_at, left_by)
SELECT e.id, e.request_id, e.data ->> 'from',
       e.data ->> 'from' = 'signoff_pending' AND coalesce(lag(e.data ->> 'transition') OVER w = 'approve_sign_off', false),
       coalesce(lag(e.occurred_at) OVER w, r.created_at), e.occurred_at, e.data ->> 'transition'
FROM request_events e JOIN requests r ON r.id = e.request_id
WHERE e.kind = 'transitioned'
WINDOW w AS (PARTITION BY e.request_id ORDER BY e.id);

-- Working days as numbers, per bank-holiday snapshot and division: the working days in (a, b]
-- are ordinal(b) - ordinal(a). Written by the program from its calendar (StatsStore) the first
-- time a snapshot's figures are asked for, so SQL counts exactly what the Swift calendar counts.
CREATE TABLE working_day_ordinals (
    calendar_version text NOT NULL,
    division         text NOT NULL,
    day              date NOT NULL,
    ordinal          integer NOT NULL,
    PRIMARY KEY (calendar_version, division, day)
);

-- The figures filter requests by when they were created and promises by when they fell due.
CREATE INDEX requests_sla_due_idx ON requests (sla_due_at) WHERE sla_due_at IS NOT NULL;
CREATE INDEX reminders_created_idx ON reminders (created_at);
