-- Memberships a large member change of a group made (decision 0009's addition of 2026-12-05):
-- a write adding or removing more than 500 members of a group changes their rows in its
-- transaction and records them here, with "members" work in group_backlog; the leader's group
-- worker announces them (membership.added or membership.removed, when the membership still is
-- or is not there) and reviews the members' roles a chunk per transaction. added is 1 for a
-- member the write added, 0 for one it removed; a later such write of the same member keeps the
-- row (the opposite change cancels it: the worker announces a change only while still true).
CREATE TABLE membership_backlog (
    org       TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    member_id TEXT NOT NULL,
    added     INTEGER NOT NULL,
    PRIMARY KEY (org, group_id, member_id)
);
