-- The fingerprints of the tokens an organization's integration accepts, comma-separated, as the
-- controller last recorded them (NULL: not recorded yet). Every replica compares the tokens it
-- accepts with them, so a token rotated away or replaced is refused even by a replica whose view
-- of Kubernetes lags (tenant.BindingCheck).
ALTER TABLE organization_owners ADD COLUMN token_fingerprints TEXT;
