-- The database work of one transition, for pgbench: update one row by id and version,
-- append one event, queue one outbox row. -D rows=N: the number of rows in bench_ids.
\set n random(1, :rows)
BEGIN;
UPDATE requests SET version = version + 1, updated_at = now()
 WHERE id = (SELECT id FROM bench_ids WHERE n = :n) AND version = (SELECT version FROM requests r JOIN bench_ids b ON b.id = r.id WHERE b.n = :n);
INSERT INTO request_events (request_id, version, kind, actor_kind, actor_id, occurred_at, data)
 SELECT id, 0, 'bench', 'system', NULL, now(), '{"transition":"bench"}' FROM bench_ids WHERE n = :n;
INSERT INTO emails (id, request_id, kind, recipient, subject, body_text, body_html, run_at, message_id, created_at, updated_at) SELECT gen_random_uuid(), id, 'bench', 'bench@example.gov.uk', 's', 't', 'h', now(), gen_random_uuid()::text, now(), now() FROM bench_ids WHERE n = :n;
END;
