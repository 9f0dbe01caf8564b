-- A write lands only while the OrganizationClaim it was authenticated under owns the
-- organization's data (decision 0020). Every write of an organization holds a shared lock on it
-- from its first statement to its end; deleting or re-binding the organization takes the lock
-- exclusively. So a deletion waits for the writes in flight (and deletes what they wrote), and a
-- write that waited for a deletion sees it: it is refused, and writes nothing.
--
-- The owner is read in a statement of its own inside a VOLATILE function, which takes its
-- snapshot after the lock is granted (at Read Committed, which the store's sessions use): the
-- calling statement's snapshot may be older than a deletion it waited for.

CREATE FUNCTION organization_held(o TEXT, claim TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    owner TEXT;
BEGIN
    -- 7316236: the fence's class of advisory locks (two-key: apart from the one-key locks of
    -- migrations and numbering). Organizations whose names hash alike share a lock: harmless.
    PERFORM pg_advisory_xact_lock_shared(7316236, hashtext(o));
    SELECT claim_uid INTO owner FROM organization_owners WHERE org = o;
    RETURN COALESCE(owner, '') = claim;
END $$;

CREATE FUNCTION organization_fence(o TEXT, claim TEXT) RETURNS VOID
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF NOT organization_held(o, claim) THEN
        RAISE EXCEPTION 'the data of organization % is no longer held by the claim the write was made under', o
            USING ERRCODE = 'EIO01';
    END IF;
END $$;
