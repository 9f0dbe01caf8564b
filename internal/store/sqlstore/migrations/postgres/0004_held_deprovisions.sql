-- Deprovisionings held by the mass-deprovisioning guard until an admin releases them.
CREATE TABLE held_deprovisions (
    seq         BIGSERIAL PRIMARY KEY,
    org         TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    event       TEXT    NOT NULL,
    at_us       BIGINT  NOT NULL,
    request_id  TEXT
);
CREATE INDEX held_deprovisions_org ON held_deprovisions (org, seq);
