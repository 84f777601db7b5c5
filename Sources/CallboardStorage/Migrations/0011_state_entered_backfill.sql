-- 0006 dated each request's current state from when information was completed (or its last
-- change), which would make the first tick chase or audit requests far too early. Date it from the
-- transition into the current state in the request's own history (else its creation), and have the
-- scheduler look at every open request again.
UPDATE requests r SET
    state_entered_at = coalesce((
        SELECT max(e.occurred_at) FROM request_events e
        WHERE e.request_id = r.id AND e.kind = 'transitioned'
          AND e.data->>'to' = r.state AND e.data->>'from' IS DISTINCT FROM e.data->>'to'
    ), r.created_at),
    next_reminder_at = CASE WHEN r.state = 'withdrawn' THEN NULL ELSE now() END;
