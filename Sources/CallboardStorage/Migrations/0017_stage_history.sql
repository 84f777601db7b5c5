-- The team's figures (docs/team-performance.md) read time spent in each state from the history.
-- request_intervals holds one row per stretch a request spent in a state, closed by the
-- `transitioned` event that ended it; a trigger on request_events writes it, so every path that
-- records a transition (API, pages, scheduler, seed) keeps it, and it is derived from the
-- append-only history alone (the backfill below is the same rule over the events already there).
--
-- Each row also carries what the figures need without joins: its stage (as Stage.of decides;
-- none when withdrawal cut it short), its London dates and working days (by the division the
-- request had then, from the calendar in stats_calendar), and the running totals of the request's
-- stretches in that stage so far; `superseded` marks a stretch a later one of the same stage
-- carries on, so "each request's time in a stage" is the rows not superseded.
CREATE TABLE request_intervals (
    event_id         bigint PRIMARY KEY REFERENCES request_events (id),
    request_id       uuid NOT NULL REFERENCES requests (id),
    state            text NOT NULL,
    -- The stretch began with the sign-off owner's approval (signoff_pending after approval).
    approved         boolean NOT NULL,
    stage            text,
    division         text NOT NULL,
    entered_at       timestamptz NOT NULL,
    left_at          timestamptz NOT NULL,
    entered_on       date NOT NULL,
    left_on          date NOT NULL,
    -- The transition that ended the stretch.
    left_by          text NOT NULL,
    seconds          float8 NOT NULL,
    working_days     integer,
    total_seconds    float8 NOT NULL,
    total_working    integer,
    calendar_version text,
    superseded       boolean NOT NULL DEFAULT false
);
CREATE INDEX request_intervals_request_idx ON request_intervals (request_id, event_id);
CREATE INDEX request_intervals_stage_idx ON request_intervals (left_at) WHERE stage IS NOT NULL AND NOT superseded;
CREATE INDEX request_intervals_live_idx ON request_intervals (left_at) WHERE left_by = 'go_live';
CREATE INDEX request_intervals_withdrawn_idx ON request_intervals (left_at) WHERE left_by = 'withdraw';

-- Working days as numbers, per bank-holiday snapshot and division: the working days in (a, b]
-- are ordinal(b) - ordinal(a). Written by the program from its calendar (StatsStore), so SQL
-- counts exactly what the Swift calendar counts; stats_calendar names the snapshot in use.
CREATE TABLE working_day_ordinals (
    calendar_version text NOT NULL,
    division         text NOT NULL,
    day              date NOT NULL,
    ordinal          integer NOT NULL,
    PRIMARY KEY (calendar_version, division, day)
);
CREATE TABLE stats_calendar (
    only_row         boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    calendar_version text NOT NULL
);

CREATE FUNCTION request_interval_stage(state text, approved boolean, left_by text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN left_by = 'withdraw' THEN NULL
                ELSE CASE state WHEN 'requested' THEN 'information' WHEN 'info_complete' THEN 'awaiting_sign_off_request'
                                WHEN 'signoff_pending' THEN CASE WHEN approved THEN 'build' ELSE 'sign_off' END
                                WHEN 'built' THEN 'preview' WHEN 'preview_published' THEN 'go_live' END
           END
$$;

CREATE FUNCTION request_intervals_record() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    req_created timestamptz;
    req_division text;
    last_left timestamptz;
    last_by text;
    is_approved boolean;
    stretch_stage text;
    entered date;
    left_day date;
    version text;
    working integer;
    prev_id bigint;
    prev_seconds float8;
    prev_working integer;
    secs float8;
BEGIN
    SELECT created_at, division INTO req_created, req_division FROM requests WHERE id = NEW.request_id;
    SELECT left_at, left_by INTO last_left, last_by FROM request_intervals
    WHERE request_id = NEW.request_id ORDER BY event_id DESC LIMIT 1;
    last_left := coalesce(last_left, req_created);
    is_approved := NEW.data ->> 'from' = 'signoff_pending' AND coalesce(last_by = 'approve_sign_off', false);
    stretch_stage := request_interval_stage(NEW.data ->> 'from', is_approved, NEW.data ->> 'transition');
    entered := (last_left AT TIME ZONE 'Europe/London')::date;
    left_day := (NEW.occurred_at AT TIME ZONE 'Europe/London')::date;
    secs := extract(epoch FROM NEW.occurred_at - last_left);
    SELECT calendar_version INTO version FROM stats_calendar;
    IF version IS NOT NULL THEN
        SELECT greatest(b.ordinal - a.ordinal, 0) INTO working
        FROM working_day_ordinals a, working_day_ordinals b
        WHERE a.calendar_version = version AND a.division = req_division AND a.day = entered
          AND b.calendar_version = version AND b.division = req_division AND b.day = left_day;
    END IF;
    IF stretch_stage IS NOT NULL THEN
        SELECT event_id, total_seconds, total_working INTO prev_id, prev_seconds, prev_working FROM request_intervals
        WHERE request_id = NEW.request_id AND stage = stretch_stage AND NOT superseded;
        IF prev_id IS NOT NULL THEN
            UPDATE request_intervals SET superseded = true WHERE event_id = prev_id;
        END IF;
    END IF;
    INSERT INTO request_intervals (event_id, request_id, state, approved, stage, division, entered_at, left_at, entered_on, left_on,
                                   left_by, seconds, working_days, total_seconds, total_working, calendar_version)
    VALUES (NEW.id, NEW.request_id, NEW.data ->> 'from', is_approved, stretch_stage, req_division, last_left, NEW.occurred_at,
            entered, left_day, NEW.data ->> 'transition', secs, working,
            secs + coalesce(prev_seconds, 0), CASE WHEN prev_id IS NULL THEN working ELSE prev_working + working END, version);
    RETURN NULL;
END;
$$;
CREATE TRIGGER request_intervals_on_transition AFTER INSERT ON request_events
    FOR EACH ROW WHEN (NEW.kind = 'transitioned') EXECUTE FUNCTION request_intervals_record();

-- The history already there, by the same rule (working days follow once a calendar is in use).
-- A function, so a bulk load (bench/stats_bench.sh) can write events with the trigger off and
-- build the stretches the same way.
CREATE FUNCTION request_intervals_backfill() RETURNS void LANGUAGE sql AS $$
INSERT INTO request_intervals (event_id, request_id, state, approved, stage, division, entered_at, left_at, entered_on, left_on,
                               left_by, seconds, total_seconds, superseded)
SELECT event_id, request_id, state, approved, stage, division, entered_at, left_at,
       (entered_at AT TIME ZONE 'Europe/London')::date, (left_at AT TIME ZONE 'Europe/London')::date, left_by, seconds,
       CASE WHEN stage IS NULL THEN seconds ELSE sum(seconds) OVER (PARTITION BY request_id, stage ORDER BY event_id) END,
       stage IS NOT NULL AND lead(event_id) OVER (PARTITION BY request_id, stage ORDER BY event_id) IS NOT NULL
FROM (
    SELECT e.id AS event_id, e.request_id, e.data ->> 'from' AS state, approved,
           request_interval_stage(e.data ->> 'from', approved, e.data ->> 'transition') AS stage, r.division,
           entered_at, e.occurred_at AS left_at, e.data ->> 'transition' AS left_by,
           extract(epoch FROM e.occurred_at - entered_at) AS seconds
    FROM (
        SELECT e.*, e.data ->> 'from' = 'signoff_pending'
                    AND coalesce(lag(e.data ->> 'transition') OVER w = 'approve_sign_off', false) AS approved,
               coalesce(lag(e.occurred_at) OVER w, r.created_at) AS entered_at
        FROM request_events e JOIN requests r ON r.id = e.request_id
        WHERE e.kind = 'transitioned'
        WINDOW w AS (PARTITION BY e.request_id ORDER BY e.id)
    ) e JOIN requests r ON r.id = e.request_id
) stretches;
$$;
SELECT request_intervals_backfill();

-- Working days of every stretch for a calendar: after a new snapshot is put in use, and for the
-- backfill above. Returns the rows changed.
CREATE FUNCTION request_intervals_count_working_days(version text) RETURNS bigint LANGUAGE sql AS $$
    WITH counted AS (
        SELECT i.event_id, greatest(b.ordinal - a.ordinal, 0) AS working,
               sum(greatest(b.ordinal - a.ordinal, 0)) OVER (PARTITION BY i.request_id, i.stage ORDER BY i.event_id) AS total
        FROM request_intervals i
        LEFT JOIN working_day_ordinals a ON a.calendar_version = version AND a.division = i.division AND a.day = i.entered_on
        LEFT JOIN working_day_ordinals b ON b.calendar_version = version AND b.division = i.division AND b.day = i.left_on
        WHERE i.request_id IN (SELECT request_id FROM request_intervals WHERE calendar_version IS DISTINCT FROM version)
    ), changed AS (
        UPDATE request_intervals i
        SET working_days = c.working, total_working = CASE WHEN i.stage IS NULL THEN c.working ELSE c.total END, calendar_version = version
        FROM counted c WHERE c.event_id = i.event_id
        RETURNING 1
    )
    SELECT count(*) FROM changed
$$;

-- The figures filter promises by when they fell due and reminders by when they were owed.
CREATE INDEX requests_sla_due_idx ON requests (sla_due_at) WHERE sla_due_at IS NOT NULL;
CREATE INDEX reminders_created_idx ON reminders (created_at);
