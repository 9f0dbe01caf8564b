-- A write lands only while the organization is bound as when its request was authenticated: the
-- OrganizationClaim owning the data, and the ScimIntegration serving it (decision 0020). Every
-- write of an organization holds a shared lock on it from its first statement to its end;
-- deleting or re-binding the organization takes the lock exclusively. So a deletion waits for the
-- writes in flight (and deletes what they wrote), and a write that waited for a deletion or a new
-- binding sees it: it is refused, and writes nothing.
--
-- The binding is read in a statement of its own inside a VOLATILE function, which takes its
-- snapshot after the lock is granted (at Read Committed, which the store's sessions use): the
-- calling statement's snapshot may be older than a deletion it waited for.

-- The integration serving the organization; '' for bindings recorded before: any integration of
-- the owning claim, until the controller binds its integration (at its next reconcile).
ALTER TABLE organization_owners ADD COLUMN integration_uid TEXT NOT NULL DEFAULT '';

CREATE FUNCTION organization_held(o TEXT, claim TEXT, integration TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    bound_claim TEXT;
    bound_integration TEXT;
BEGIN
    -- 7316236: the fence's class of advisory locks (two-key: apart from the one-key locks of
    -- migrations and numbering). Organizations whose names hash alike share a lock: harmless.
    PERFORM pg_advisory_xact_lock_shared(7316236, hashtext(o));
    SELECT claim_uid, integration_uid INTO bound_claim, bound_integration FROM organization_owners WHERE org = o;
    IF NOT FOUND THEN
        RETURN claim = '';
    END IF;
    RETURN bound_claim = claim AND bound_integration IN ('', integration);
END $$;

CREATE FUNCTION organization_fence(o TEXT, claim TEXT, integration TEXT) RETURNS VOID
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF NOT organization_held(o, claim, integration) THEN
        RAISE EXCEPTION 'organization % is no longer bound as when the write''s request was authenticated', o
            USING ERRCODE = 'EIO01';
    END IF;
END $$;
