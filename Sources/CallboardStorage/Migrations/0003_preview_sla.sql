-- The preview promise (DESIGN §4): when the clock started, when it is due, from when it is at risk,
-- when it was met, and which bank-holiday snapshot the due date was worked out with.
ALTER TABLE requests
    ADD COLUMN sla_started_at       timestamptz,
    ADD COLUMN sla_due_at           timestamptz,
    ADD COLUMN sla_at_risk_at       timestamptz,
    ADD COLUMN sla_met_at           timestamptz,
    ADD COLUMN sla_calendar_version text;
-- The open promises, for the at-risk and breached filters and the due-date order.
CREATE INDEX requests_sla_open_idx ON requests (sla_due_at, created_at, id) WHERE sla_due_at IS NOT NULL AND sla_met_at IS NULL;
