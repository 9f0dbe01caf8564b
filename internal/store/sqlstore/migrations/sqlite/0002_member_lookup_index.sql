-- Finding a member's groups must not scan a large group: an index that covers the lookup, so the
-- planner prefers it to the primary key (which also starts with org and also covers it).
DROP INDEX scim_group_members_member;
CREATE INDEX scim_group_members_member ON scim_group_members (org, member_id, group_id);
