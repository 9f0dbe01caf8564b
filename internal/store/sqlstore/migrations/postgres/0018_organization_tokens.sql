-- The fingerprints of the tokens an organization's integration accepts, comma-separated, as the
-- controller last recorded them (NULL: not recorded yet), and a count of the record's changes.
-- Every replica compares the tokens it accepts with them, so a token rotated away or replaced is
-- refused even by a replica whose view of Kubernetes lags (tenant.BindingCheck): one the record
-- does not list although it changed after the replica learned the token.
ALTER TABLE organization_owners ADD COLUMN token_fingerprints TEXT;
ALTER TABLE organization_owners ADD COLUMN tokens_version BIGINT NOT NULL DEFAULT 0;
