-- The team's figures read these indexes alone (index-only scans), never the tables' rows:
-- measured over 100,000 requests and 325,000 stretches (bench/stats_bench.sh), each query's
-- heap reads were most of its time (docs/performance.md, "The team's figures").
--
-- Stretches by when they ended, with what the stage figures add up.
DROP INDEX request_intervals_stage_idx;
CREATE INDEX request_intervals_stage_idx ON request_intervals (left_at)
    INCLUDE (stage, total_working, total_seconds, request_id) WHERE stage IS NOT NULL AND NOT superseded;
-- Each request's stage totals, looked up for the requests that went live in a span.
CREATE INDEX request_intervals_request_stage_idx ON request_intervals (request_id)
    INCLUDE (stage, total_seconds, total_working) WHERE stage IS NOT NULL AND NOT superseded;
DROP INDEX request_intervals_live_idx;
CREATE INDEX request_intervals_live_idx ON request_intervals (left_at) INCLUDE (request_id) WHERE left_by = 'go_live';
DROP INDEX request_intervals_withdrawn_idx;
CREATE INDEX request_intervals_withdrawn_idx ON request_intervals (left_at) INCLUDE (request_id) WHERE left_by = 'withdraw';
-- Promises by due date (kept or broken), and the open ones (breached or at risk now).
DROP INDEX requests_sla_due_idx;
CREATE INDEX requests_sla_due_idx ON requests (sla_due_at) INCLUDE (sla_met_at, state) WHERE sla_due_at IS NOT NULL;
DROP INDEX requests_sla_open_idx;
CREATE INDEX requests_sla_open_idx ON requests (sla_due_at, created_at, id)
    INCLUDE (sla_at_risk_at, state) WHERE sla_due_at IS NOT NULL AND sla_met_at IS NULL;
