-- SCIM resources: indexed columns for what is filtered, sorted and unique; the document as JSON.
CREATE TABLE scim_users (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    org          TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    name_lower   TEXT    NOT NULL,
    external_id  TEXT,
    display_name TEXT,
    email_lower  TEXT,
    active       INTEGER NOT NULL,
    doc          TEXT    NOT NULL,
    created_us   INTEGER NOT NULL,
    modified_us  INTEGER NOT NULL,
    version      INTEGER NOT NULL,
    UNIQUE (org, id),
    UNIQUE (org, name_lower)
);
CREATE INDEX scim_users_external_id ON scim_users (org, external_id);
CREATE INDEX scim_users_email ON scim_users (org, email_lower);

CREATE TABLE scim_groups (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    org          TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    name_lower   TEXT    NOT NULL,
    external_id  TEXT,
    display_name TEXT,
    email_lower  TEXT,
    active       INTEGER NOT NULL,
    doc          TEXT    NOT NULL,
    created_us   INTEGER NOT NULL,
    modified_us  INTEGER NOT NULL,
    version      INTEGER NOT NULL,
    UNIQUE (org, id)
);
CREATE INDEX scim_groups_name ON scim_groups (org, name_lower);
CREATE INDEX scim_groups_external_id ON scim_groups (org, external_id);

-- Membership is a join table, so adding one member to a large group is one row.
CREATE TABLE scim_group_members (
    org         TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    member_id   TEXT NOT NULL,
    member_type TEXT NOT NULL,
    display     TEXT,
    PRIMARY KEY (org, group_id, member_id)
);
CREATE INDEX scim_group_members_member ON scim_group_members (org, member_id);
