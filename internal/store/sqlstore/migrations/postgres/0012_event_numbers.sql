-- Events' sequence numbers get a narrow table of their own (decision 0013): numbering inserts a
-- row of (org, seq, position) where it rewrote the whole event, its snapshot and its index
-- entries included (an update that can never be HOT: seq was indexed), and the events table
-- becomes insert-only. The view provisioning_events shows numbered events with their numbers,
-- as the table did, so what reads events reads the view; writes go to the tables.

-- An event left without a number at or below the horizon (an earlier numberer could close a gap
-- while a newer transaction still held it) is numbered now, after its organization's last, rather
-- than hidden below the horizon for good. The table's lock first: a writer takes it before its
-- positions, so no write still in flight holds one once the lock is held.
LOCK TABLE provisioning_events IN ACCESS EXCLUSIVE MODE;
WITH stranded AS (
    SELECT e.position, COALESCE(s.last, 0) + row_number() OVER (PARTITION BY e.org ORDER BY e.position) AS seq
    FROM provisioning_events e LEFT JOIN event_sequences s ON s.org = e.org
    WHERE e.seq IS NULL AND e.position <= (SELECT horizon FROM event_numbering WHERE id = 1))
UPDATE provisioning_events e SET seq = stranded.seq FROM stranded WHERE e.position = stranded.position;
INSERT INTO event_sequences (org, last) SELECT org, MAX(seq) FROM provisioning_events WHERE seq IS NOT NULL GROUP BY org
    ON CONFLICT (org) DO UPDATE SET last = GREATEST(event_sequences.last, excluded.last);

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

-- Replicas of the previous release, still running while a rolling upgrade replaces them, insert
-- and delete events through the name provisioning_events: these triggers do it on the tables.
-- (Their numberer finds nothing to number in the view, and leaves numbering to this release's.)
-- A later release drops them.
CREATE FUNCTION provisioning_events_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO provisioning_event_rows (org, id, type, subject, group_id, from_state, to_state, role, previous_role, cause,
        request_id, actor, at_us, data)
    VALUES (NEW.org, NEW.id, NEW.type, NEW.subject, NEW.group_id, NEW.from_state, NEW.to_state, NEW.role, NEW.previous_role,
        NEW.cause, NEW.request_id, NEW.actor, NEW.at_us, NEW.data);
    RETURN NEW;
END $$;
CREATE TRIGGER provisioning_events_insert INSTEAD OF INSERT ON provisioning_events
    FOR EACH ROW EXECUTE FUNCTION provisioning_events_insert();
CREATE FUNCTION provisioning_events_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM provisioning_event_rows WHERE position = OLD.position;
    DELETE FROM event_numbers WHERE position = OLD.position;
    RETURN OLD;
END $$;
CREATE TRIGGER provisioning_events_delete INSTEAD OF DELETE ON provisioning_events
    FOR EACH ROW EXECUTE FUNCTION provisioning_events_delete();
