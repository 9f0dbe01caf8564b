-- Dead letters leave with their organization's events (the event retention): the pruner deletes
-- an organization's dead letters older than its retention, through this index rather than a scan
-- of every organization's (the primary key leads with the subscription).
CREATE INDEX dead_letters_by_org_time ON dead_letters (org, at_us);
