-- Seeds :n dashboard requests spread evenly over every lifecycle state, each with its 'created'
-- event, plus bench_ids (n → id) for pgbench. Items are complete from info_complete onwards.
\set ON_ERROR_STOP on
BEGIN;
CREATE TEMP TABLE seed_states AS
  SELECT * FROM unnest(ARRAY['requested','info_complete','signoff_pending','built','preview_published','live','product_audit','withdrawn'])
  WITH ORDINALITY AS s(state, ord);

INSERT INTO requests (id, kind, state, version, department, division, items, missing_items, service_name, created_at, updated_at, state_entered_at, info_complete_at, sign_off_decision)
SELECT gen_random_uuid(),
       'transactional',
       st.state,
       1,
       (ARRAY['DVLA','HMRC','DWP','HMPO','DEFRA','MOJ','Home Office','Companies House'])[1 + g % 8],
       'england-and-wales',
       CASE WHEN st.state = 'requested' THEN
         jsonb_build_object('contact', jsonb_build_object('status','provided','value', jsonb_build_object('name','Jo Bloggs','email','jo'||g||'@example.gov.uk','phone','020 7946 0000')))
         || (SELECT jsonb_object_agg(n, jsonb_build_object('status','missing')) FROM unnest(ARRAY['sign_off_contact','service','cost_per_transaction','user_satisfaction','completion_rate','digital_take_up','service_availability']) n)
       ELSE
         (SELECT jsonb_object_agg(n, jsonb_build_object('status','not_available','reason','benchmark')) FROM unnest(ARRAY['cost_per_transaction','user_satisfaction','completion_rate','digital_take_up','service_availability']) n)
         || jsonb_build_object(
              'contact', jsonb_build_object('status','provided','value', jsonb_build_object('name','Jo Bloggs','email','jo'||g||'@example.gov.uk','phone','020 7946 0000')),
              'sign_off_contact', jsonb_build_object('status','provided','value', jsonb_build_object('name','Pat Senior','email','pat'||g||'@example.gov.uk','phone','020 7946 0001')),
              'service', jsonb_build_object('status','provided','value', jsonb_build_object('name','Service '||g,'description','Benchmark service number '||g,'start_page_url','https://www.gov.uk/service-'||g)))
       END,
       CASE WHEN st.state = 'requested' THEN ARRAY['sign_off_contact','service','cost_per_transaction','user_satisfaction','completion_rate','digital_take_up','service_availability'] ELSE '{}' END,
       CASE WHEN st.state = 'requested' THEN '' ELSE 'Service '||g END,
       now() - (g || ' seconds')::interval,
       now() - (g || ' seconds')::interval,
       now() - (g || ' seconds')::interval,
       CASE WHEN st.state = 'requested' THEN NULL ELSE now() END,
       CASE WHEN st.state IN ('requested','info_complete','signoff_pending') THEN NULL ELSE 'approved' END
FROM generate_series(1, :n) g
JOIN seed_states st ON st.ord = 1 + g % 8;

INSERT INTO request_events (request_id, version, kind, actor_kind, actor_id, occurred_at, data)
SELECT id, 1, 'created', 'admin', 'bench', created_at, '{}' FROM requests;

CREATE TABLE bench_ids AS SELECT row_number() OVER (ORDER BY id)::int AS n, id FROM requests;
ALTER TABLE bench_ids ADD PRIMARY KEY (n);
COMMIT;
-- VACUUM as well as ANALYZE: otherwise autovacuum works through the 100,000 fresh rows (and the
-- first reads set their hint bits) during the first phase, taking a core from the load it measures.
VACUUM ANALYZE;
CHECKPOINT;
