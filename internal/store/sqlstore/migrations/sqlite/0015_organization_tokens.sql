-- What an organization's integration serves, as the controller last recorded it: the fingerprints
-- of the tokens it accepts, comma-separated (NULL: not recorded yet), whether it is switched off,
-- and a count of the record's changes. Every replica compares what it serves with them, so a
-- token rotated away or replaced is refused, and a switched-off integration answers as such, even
-- on a replica whose view of Kubernetes lags (tenant.BindingCheck).
ALTER TABLE organization_owners ADD COLUMN token_fingerprints TEXT;
ALTER TABLE organization_owners ADD COLUMN serving_disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE organization_owners ADD COLUMN tokens_version BIGINT NOT NULL DEFAULT 0;
