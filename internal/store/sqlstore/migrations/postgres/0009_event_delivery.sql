-- Events carry a stable id (the receivers' idempotency key; sequence numbers restart if an
-- organization's data is deleted and provisioned again) and a snapshot of their subject as it
-- was when the event happened (JSON: member, group, trigger, previous state and role).
ALTER TABLE provisioning_events ADD COLUMN id TEXT;
ALTER TABLE provisioning_events ADD COLUMN data TEXT;

-- Where each EventSubscription (by UID) stands per organization: the last sequence number
-- acknowledged, skipped or dead-lettered, and the retry state of the next one.
CREATE TABLE event_deliveries (
    subscription      TEXT    NOT NULL,
    org               TEXT    NOT NULL,
    delivered_seq     BIGINT  NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    first_failure_us  BIGINT,
    next_attempt_us   BIGINT,
    last_delivered_us BIGINT,
    last_error        TEXT,
    PRIMARY KEY (subscription, org)
);

-- Events given up on after the subscription's retryFor, until an admin replays them.
CREATE TABLE dead_letters (
    subscription TEXT    NOT NULL,
    org          TEXT    NOT NULL,
    seq          BIGINT  NOT NULL,
    event_id     TEXT    NOT NULL,
    type         TEXT    NOT NULL,
    attempts     INTEGER NOT NULL,
    last_error   TEXT,
    at_us        BIGINT  NOT NULL,
    PRIMARY KEY (subscription, org, seq)
);
