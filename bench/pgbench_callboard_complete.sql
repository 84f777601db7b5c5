-- Callboard's own SQL for one POST …/transitions/complete_information, for pgbench: the statements
-- the server sent, in order and of the same shapes, captured by scripts/bench.sh with
-- log_min_duration_statement = 0 (it fails --check if the server's sequence of statements changes).
-- The pair of bench/pgbench_callboard_reopen.sql: the SLA starts, no email or link is queued.
-- The row stays in its state (so the HTTP phase that follows still finds its requests), but the
-- UPDATE changes an indexed column as the real one does, so no update is cheaper as HOT.
-- -D rows=N (rows in bench_ids), -D token_hash=\x… (SHA-256 of the benchmark's API token),
-- -D actor=UUID (its staff id). Run -M extended: unnamed statements, parsed and planned each time,
-- as PostgresNIO sends them; -M prepared shows what named statements would save.
-- A colon before a name in a literal is followed by a space: pgbench would take ":name" for a variable.
\set n random(1, :rows)
SELECT s.id, s.email, s.name, s.role, s.created_at, t.id, t.token_hash, t.last_used_at
	FROM api_tokens t JOIN staff s ON s.id = t.staff_id
	WHERE t.token_hash = :token_hash AND t.revoked_at IS NULL
	  AND (t.expires_at IS NULL OR t.expires_at > now()) AND s.disabled_at IS NULL;
BEGIN;
SELECT r.id, r.kind, r.state, r.version, r.department, r.division, r.assignee_id, s.email AS assignee_email,
	r.items::text AS items, r.optional_modules, r.notes, r.sign_off_decision, r.preview_url, r.live_url,
	r.audit_outcome, r.info_complete_at, r.created_at, r.updated_at,
	r.sla_started_at, r.sla_due_at, r.sla_at_risk_at, r.sla_met_at, r.sla_calendar_version, r.state_entered_at, r.reference,
	(extract(epoch FROM r.created_at) * 1000000)::int8 AS created_us FROM requests r LEFT JOIN staff s ON s.id = r.assignee_id
	WHERE r.id = (SELECT id FROM bench_ids WHERE n = :n) FOR UPDATE OF r
\gset
WITH updated AS (
    UPDATE requests SET kind = :kind, state = :state, version = :version + 1,
        department = :department, division = :division, assignee_id = assignee_id,
        items = :items::jsonb,
        missing_items = missing_items,
        optional_modules = optional_modules, service_name = service_name,
        notes = :notes, sign_off_decision = sign_off_decision, preview_url = preview_url,
        live_url = live_url, audit_outcome = audit_outcome,
        info_complete_at = now(), updated_at = now(),
        sla_started_at = now(), sla_due_at = now() + interval '7 days', sla_at_risk_at = now() + interval '5 days',
        sla_met_at = NULL, sla_calendar_version = 'govuk-1dce6df4476b',
        state_entered_at = now()
    WHERE id = :id AND version = :version
    RETURNING id, version
), scheduled AS (
    INSERT INTO request_schedule (request_id, next_reminder_at) SELECT id, now() FROM updated
    ON CONFLICT (request_id) DO UPDATE SET next_reminder_at = excluded.next_reminder_at
), event AS (
    INSERT INTO request_events (request_id, version, kind, actor_kind, actor_id, occurred_at, data)
    SELECT id, version, 'transitioned', 'admin', :actor, now(),
           ('{"from":"' || :state || '","to":"info_complete","transition":"complete_information"}')::jsonb
    FROM updated
    RETURNING id
), settled AS (
    UPDATE reminders SET settled_at = now() WHERE request_id = (SELECT id FROM updated) AND rule = ANY('{missing_information,preview_sla}'::text[]) AND settled_at IS NULL RETURNING dedup_key
), cancelled AS (
    UPDATE emails e SET status = 'cancelled', updated_at = now()
    WHERE e.status = 'queued'
      AND e.id IN (SELECT re.email_id FROM reminder_emails re JOIN settled s ON s.dedup_key = re.reminder_key)
      AND NOT EXISTS (SELECT 1 FROM reminder_emails o JOIN reminders r ON r.dedup_key = o.reminder_key
                      WHERE o.email_id = e.id AND r.settled_at IS NULL AND r.dedup_key NOT IN (SELECT dedup_key FROM settled))
    RETURNING e.id, e.request_id, e.kind, e.recipient, e.attempts
), cancel_events AS (
    INSERT INTO request_events (request_id, version, kind, actor_kind, actor_id, occurred_at, data)
    SELECT c.request_id, (SELECT version FROM updated), 'email_cancelled', 'system', NULL, now(),
           jsonb_build_object('email_id', c.id, 'email_kind', c.kind, 'recipient', c.recipient, 'attempt', c.attempts,
                              'detail', 'the reminder was settled')
    FROM cancelled c JOIN requests rq ON rq.id = c.request_id CROSS JOIN event
    ORDER BY c.id
), hooks AS (INSERT INTO webhook_deliveries (id, subscription_id, event_type, data, occurred_at, run_at, created_at, updated_at)
SELECT gen_random_uuid(), s.id, 'request.transitioned', '{"from_state":"requested","reference":"CB-EVTE-EHAS","request_id":"14d57c18-209a-48db-8c2e-7aa01e577672","state":"info_complete","transition":"complete_information","version": 5}'::jsonb,
       now(), now(), now(), now()
FROM webhook_subscriptions s CROSS JOIN updated
WHERE s.enabled AND s.event_types @> ARRAY['request.transitioned']
RETURNING 1) SELECT (SELECT count(*) FROM updated), 0::int8, (SELECT count(pg_notify('callboard_webhook', '')) FROM hooks);
COMMIT;
