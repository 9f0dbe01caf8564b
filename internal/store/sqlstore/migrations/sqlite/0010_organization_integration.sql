-- The integration serving the organization (decision 0020); '' for bindings recorded before: any
-- integration of the owning claim, until the controller binds its integration.
ALTER TABLE organization_owners ADD COLUMN integration_uid TEXT NOT NULL DEFAULT '';
