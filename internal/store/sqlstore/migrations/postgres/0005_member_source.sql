-- Where a member came from: SCIM never takes over a member it did not create.
ALTER TABLE members ADD COLUMN source TEXT NOT NULL DEFAULT 'scim';
ALTER TABLE members ADD COLUMN user_name_lower TEXT NOT NULL DEFAULT '';
UPDATE members SET user_name_lower = lower(user_name);
CREATE INDEX members_user_name ON members (org, user_name_lower);
