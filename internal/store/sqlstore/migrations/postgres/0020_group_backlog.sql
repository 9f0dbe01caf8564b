-- Work a group write left for later (decision 0009's addition of 2026-12-05): the memberships
-- of a deleted group still to end ("deleted"), and the members of a renamed group whose roles
-- are still to be reviewed after member_after ("roles"). A write of a large group does its
-- bounded part in its own transaction and records the rest here; the leader's group worker
-- does it a chunk per transaction, so that no one write of one organization holds the
-- database (on SQLite, the one writer every organization shares) for as long as the group is
-- large. name and external_id are the group's names as the write left them, for the events;
-- request_id and actor who made the write.
CREATE TABLE group_backlog (
    org          TEXT NOT NULL,
    group_id     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    actor        TEXT NOT NULL,
    member_after TEXT NOT NULL,
    created_us   BIGINT NOT NULL,
    PRIMARY KEY (org, group_id, kind)
);
CREATE INDEX group_backlog_age ON group_backlog (org, created_us);
