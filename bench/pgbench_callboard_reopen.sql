-- Callboard's own SQL for one POST …/transitions/reopen_information, for pgbench: the statements
-- the server sent, in order and of the same shapes, captured by scripts/bench.sh with
-- log_min_duration_statement = 0 (it fails --check if the server's sequence of statements changes).
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
        info_complete_at = info_complete_at, updated_at = now(),
        sla_started_at = sla_started_at, sla_due_at = sla_due_at, sla_at_risk_at = sla_at_risk_at,
        sla_met_at = sla_met_at, sla_calendar_version = sla_calendar_version,
        state_entered_at = now()
    WHERE id = :id AND version = :version
    RETURNING id, version
), scheduled AS (
    INSERT INTO request_schedule (request_id, next_reminder_at) SELECT id, now() FROM updated
    ON CONFLICT (request_id) DO UPDATE SET next_reminder_at = excluded.next_reminder_at
), event AS (
    INSERT INTO request_events (request_id, version, kind, actor_kind, actor_id, occurred_at, data)
    SELECT id, version, 'transitioned', 'admin', :actor, now(),
           ('{"from":"' || :state || '","reason":"benchmark","to":"requested","transition":"reopen_information"}')::jsonb
    FROM updated
    RETURNING id
), settled AS (
    UPDATE reminders SET settled_at = now() WHERE request_id = (SELECT id FROM updated) AND rule = ANY('{preview_sla}'::text[]) AND settled_at IS NULL RETURNING dedup_key
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
), new_links AS (
    INSERT INTO links (id, purpose, request_id, email, request_version, csrf, created_at, expires_at)
    SELECT v.id, v.purpose, updated.id, v.email, updated.version, v.csrf, v.created_at, v.expires_at
    FROM (VALUES (gen_random_uuid(), 'contact', 'jo1001@example.gov.uk', '6lQzW2szudlfB9ntOgbl0YVXlTh8s1ui8sXgW3491Kw', now(), now() + interval '30 days'))
         AS v(id, purpose, email, csrf, created_at, expires_at) CROSS JOIN updated
), hooks AS (INSERT INTO webhook_deliveries (id, subscription_id, event_type, data, occurred_at, run_at, created_at, updated_at)
SELECT gen_random_uuid(), s.id, 'request.transitioned', '{"from_state":"info_complete","reference":"CB-EVTE-EHAS","request_id":"14d57c18-209a-48db-8c2e-7aa01e577672","state":"requested","transition":"reopen_information","version": 4}'::jsonb,
       now(), now(), now(), now()
FROM webhook_subscriptions s CROSS JOIN updated
WHERE s.enabled AND s.event_types @> ARRAY['request.transitioned']
RETURNING 1), queued AS (
    INSERT INTO emails (id, request_id, kind, recipient, subject, body_text, body_html, template_data, dedup_key, status,
                        run_at, max_attempts, message_id, created_at, updated_at)
    SELECT v.id, updated.id, v.kind, v.recipient, v.subject, v.body_text, v.body_html, v.template_data, v.dedup_key,
           CASE WHEN EXISTS (SELECT 1 FROM email_suppressions WHERE address = lower(v.recipient)) THEN 'suppressed' ELSE 'queued' END,
           v.run_at, v.max_attempts, v.message_id, now(), now()
    FROM (VALUES (gen_random_uuid(), 'information_reopened', 'jo1001@example.gov.uk', 'We need more information about Service 1001',
                  'Hello,

We need more information before we can build the Service 1001 dashboard.

benchmark

Update the information here:
http://127.0.0.1: 8080/tasks/cblink_d5494afe3b584e2885b917ce4a98a498

GOV.UK Performance Platform team
', '<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>We need more information about Service 1001</title></head>
<body style="margin: 0;font-family: Helvetica,Arial,sans-serif;font-size: 19px;line-height: 1.32;color:#0b0c0c">
<table role="presentation" width="100%" style="border-collapse: collapse"><tr><td style="background:#0b0c0c;padding: 10px 20px">
<span style="color:#ffffff;font-weight: 700;font-size: 24px">GOV.UK</span> <span style="color:#ffffff;font-size: 19px">Performance Platform</span>
</td></tr><tr><td style="padding: 20px;max-width: 580px">
<p>Hello,</p>
<p>We need more information before we can build the Service 1001 dashboard.</p>
<p>benchmark</p>
<p><a href="http://127.0.0.1: 8080/tasks/cblink_d5494afe3b584e2885b917ce4a98a498">Update the information</a></p>
<p style="margin-top: 30px;color:#505a5f;font-size: 16px">GOV.UK Performance Platform team</p>
</td></tr></table></body></html>
', '{"approved": false,"department":"HMRC","link":"http://127.0.0.1: 8080/tasks/cblink_d5494afe3b584e2885b917ce4a98a498","reason":"benchmark","request_id":"14d57c18-209a-48db-8c2e-7aa01e577672","service_name":"Service 1001","subject":"We need more information about Service 1001"}'::jsonb,
                  gen_random_uuid()::text, now(), 8, '<' || gen_random_uuid()::text || '@callboard.local>'))
         AS v(id, kind, recipient, subject, body_text, body_html, template_data, dedup_key, run_at, max_attempts, message_id)
    CROSS JOIN updated
    ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL AND status IN ('queued', 'sending', 'sent') DO NOTHING
    RETURNING id, request_id, kind, recipient, status
), email_events AS (
    INSERT INTO request_events (request_id, version, kind, actor_kind, actor_id, occurred_at, data)
    SELECT queued.request_id, updated.version, 'email_' || queued.status, 'system', NULL, now(),
           jsonb_build_object('email_id', queued.id, 'email_kind', queued.kind, 'recipient', queued.recipient, 'attempt', 0)
    FROM queued CROSS JOIN updated CROSS JOIN event
    ORDER BY queued.id
)
SELECT (SELECT count(*) FROM updated), (SELECT count(pg_notify('callboard_email', '')) FROM queued WHERE status = 'queued'),
       (SELECT count(pg_notify('callboard_webhook', '')) FROM hooks);
COMMIT;
