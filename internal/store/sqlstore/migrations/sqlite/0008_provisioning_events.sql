-- Typed provisioning events. member_history.kind is the event type of a transition (the guard
-- counts deprovisionings by kind, never by the wording of reason); provisioning_events is the
-- outbox: every event of a write, in the write's transaction, numbered per organization by
-- event_sequences (whose row each writer locks for the rest of its transaction, so an
-- organization's events become visible in sequence order).
ALTER TABLE member_history ADD COLUMN kind TEXT NOT NULL DEFAULT '';
UPDATE member_history SET kind = CASE
    WHEN reason LIKE 'Deactivated:%' OR reason LIKE 'Deleted:%' THEN
        CASE to_state WHEN 'Suspended' THEN 'member.suspended' ELSE 'member.deactivated' END
    WHEN reason LIKE 'Created%' THEN 'member.provisioned'
    WHEN reason = 'Approved' THEN 'member.approved'
    WHEN reason = 'Rejected' THEN 'member.rejected'
    WHEN reason = 'Reactivated' THEN
        CASE to_state WHEN 'PendingReview' THEN 'member.pending_review' ELSE 'member.reactivated' END
    ELSE 'member.activated' END;
CREATE INDEX member_history_kind ON member_history (org, kind, at_us);

CREATE TABLE event_sequences (
    org  TEXT PRIMARY KEY,
    last INTEGER NOT NULL
);

CREATE TABLE provisioning_events (
    org           TEXT   NOT NULL,
    seq           INTEGER NOT NULL,
    type          TEXT   NOT NULL,
    subject       TEXT   NOT NULL,
    group_id      TEXT,
    from_state    TEXT,
    to_state      TEXT,
    role          TEXT,
    previous_role TEXT,
    cause         TEXT,
    request_id    TEXT,
    actor         TEXT,
    at_us         INTEGER NOT NULL,
    PRIMARY KEY (org, seq)
);
CREATE INDEX provisioning_events_time ON provisioning_events (org, at_us);
