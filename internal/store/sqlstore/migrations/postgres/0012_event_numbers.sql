-- Events' sequence numbers get a narrow table of their own (decision 0013): numbering inserts a
-- row of (org, seq, position) where it rewrote the whole event, its snapshot and its index
-- entries included (an update that can never be HOT: seq was indexed), and the events table
-- becomes insert-only. The view provisioning_events shows numbered events with their numbers,
-- as the table did, so what reads events reads the view; writes go to the tables.
ALTER TABLE provisioning_events RENAME TO provisioning_event_rows;
CREATE TABLE event_numbers (
    org      TEXT   NOT NULL,
    seq      BIGINT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (org, seq)
);
INSERT INTO event_numbers (org, seq, position) SELECT org, seq, position FROM provisioning_event_rows WHERE seq IS NOT NULL;
CREATE UNIQUE INDEX event_numbers_position ON event_numbers (position);
-- Also drops provisioning_events_org_seq and provisioning_events_unnumbered, which name seq.
ALTER TABLE provisioning_event_rows DROP COLUMN seq;
CREATE VIEW provisioning_events AS
    SELECT e.org, n.seq, e.id, e.type, e.subject, e.group_id, e.from_state, e.to_state, e.role, e.previous_role, e.cause,
        e.request_id, e.actor, e.at_us, e.data, e.position
    FROM provisioning_event_rows e JOIN event_numbers n ON n.position = e.position AND n.org = e.org;
