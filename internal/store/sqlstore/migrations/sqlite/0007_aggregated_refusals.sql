-- Refused requests (wrong token, throttled) are recorded as aggregates rather than one row each,
-- so unauthenticated traffic cannot grow the audit log faster than a few rows per minute:
-- event_count is how many requests a row stands for (1 for every other event), source the
-- client address it came from, and refusal_key names the aggregate (status, source, minute) a
-- later refusal adds to.
ALTER TABLE audit_events ADD COLUMN event_count INTEGER NOT NULL DEFAULT 1;
ALTER TABLE audit_events ADD COLUMN source TEXT;
ALTER TABLE audit_events ADD COLUMN refusal_key TEXT;
CREATE UNIQUE INDEX audit_events_refusal ON audit_events (org, refusal_key) WHERE refusal_key IS NOT NULL;
