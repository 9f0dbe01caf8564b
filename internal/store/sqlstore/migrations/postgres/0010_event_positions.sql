-- Events are numbered after their write commits (sqlstore/numbering.go, decision 0013): a write
-- inserts its events with a position from one global sequence and no sequence number; the
-- numberer gives committed events their organization's numbers in position order, up to the
-- horizon below which every position is committed or will never be.
CREATE SEQUENCE provisioning_event_positions;
ALTER TABLE provisioning_events ADD COLUMN position BIGINT;
UPDATE provisioning_events SET position = nextval('provisioning_event_positions');
ALTER TABLE provisioning_events
    ALTER COLUMN position SET DEFAULT nextval('provisioning_event_positions'),
    ALTER COLUMN position SET NOT NULL,
    DROP CONSTRAINT provisioning_events_pkey,
    ADD PRIMARY KEY (position);
ALTER TABLE provisioning_events ALTER COLUMN seq DROP NOT NULL;
ALTER SEQUENCE provisioning_event_positions OWNED BY provisioning_events.position;
CREATE UNIQUE INDEX provisioning_events_org_seq ON provisioning_events (org, seq);
CREATE INDEX provisioning_events_unnumbered ON provisioning_events (position) WHERE seq IS NULL;

CREATE TABLE event_numbering (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    horizon BIGINT NOT NULL
);
INSERT INTO event_numbering (id, horizon) SELECT 1, COALESCE(MAX(position), 0) FROM provisioning_events;
