-- Which OrganizationClaim (by UID) owns an organization's data. The first claim to bind owns it;
-- another claim takes it over only when a cluster administrator names the owner (adoptDataOf).
CREATE TABLE organization_owners (
    org        TEXT PRIMARY KEY,
    claim_uid  TEXT NOT NULL
);
