-- Events written before events had ids (migration 0009) were served with an empty id, which
-- receivers take as their idempotency key (the webhook-id header): a receiver that drops events
-- it has seen would drop every such event after the first. Each gets an id of its own, random
-- as new ones are, and a dead letter of one carries it too.
UPDATE provisioning_event_rows SET id = 'evt_' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 26) WHERE id IS NULL;
UPDATE dead_letters d SET event_id = e.id FROM provisioning_events e
    WHERE d.event_id = '' AND e.org = d.org AND e.seq = d.seq;
