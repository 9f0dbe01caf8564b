-- The newest refused or failed requests of an organization (its status's last failure, the audit
-- log's outcome=failure) are found through an index of failures alone, not by walking back over
-- every success since: a partial index, written only for failures (refusals are aggregated), so
-- the successful writes that make up the log pay nothing for it.
CREATE INDEX audit_events_failures ON audit_events (org, seq) WHERE status >= 400;
