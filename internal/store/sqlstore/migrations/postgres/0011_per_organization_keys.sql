-- Every statement that reads the audit log or the members' history names the organization, so
-- their per-organization indexes become their primary keys and the global ones go: one index
-- entry fewer for every audit row and history row written (three per PATCH that changes a
-- member's state), one relation fewer for each write to lock, one index fewer to store. The new
-- keys are built while the tables are locked: on an audit log of millions of rows the first
-- replica of the upgrade takes some seconds longer to start.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_pkey, ADD CONSTRAINT audit_events_pkey PRIMARY KEY (org, seq);
DROP INDEX audit_events_org;
ALTER TABLE member_history DROP CONSTRAINT member_history_pkey, ADD CONSTRAINT member_history_pkey PRIMARY KEY (org, user_id, seq);
DROP INDEX member_history_user;
