-- The product's view of provisioned people, derived from SCIM writes in the same transaction:
-- members (access, role, state), employee records (profile), their history, and the SCIM audit log.
CREATE TABLE members (
    org             TEXT    NOT NULL,
    user_id         TEXT    NOT NULL,
    user_name       TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    role            TEXT    NOT NULL,
    approved        INTEGER NOT NULL,
    scim_deleted    INTEGER NOT NULL,
    created_us      INTEGER NOT NULL,
    modified_us     INTEGER NOT NULL,
    PRIMARY KEY (org, user_id)
);
CREATE INDEX members_state ON members (org, state);

CREATE TABLE employee_records (
    org             TEXT    NOT NULL,
    user_id         TEXT    NOT NULL,
    active          INTEGER NOT NULL,
    display_name    TEXT,
    title           TEXT,
    employee_number TEXT,
    department      TEXT,
    cost_center     TEXT,
    division        TEXT,
    organization    TEXT,
    manager_id      TEXT,
    modified_us     INTEGER NOT NULL,
    PRIMARY KEY (org, user_id)
);

CREATE TABLE member_history (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    org         TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    at_us       INTEGER NOT NULL,
    from_state  TEXT    NOT NULL,
    to_state    TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    request_id  TEXT
);
CREATE INDEX member_history_user ON member_history (org, user_id, seq);

CREATE TABLE audit_events (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    org               TEXT    NOT NULL,
    at_us             INTEGER NOT NULL,
    request_id        TEXT    NOT NULL,
    action            TEXT    NOT NULL,
    client            TEXT,
    token_fingerprint TEXT,
    method            TEXT,
    path              TEXT,
    resource_type     TEXT,
    resource_id       TEXT,
    status            INTEGER NOT NULL,
    scim_type         TEXT,
    detail            TEXT,
    attributes        TEXT
);
CREATE INDEX audit_events_org ON audit_events (org, seq);
CREATE INDEX audit_events_time ON audit_events (org, at_us);
