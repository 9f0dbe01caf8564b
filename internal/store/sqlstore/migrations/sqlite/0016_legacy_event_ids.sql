-- Events written before events had ids (migration 0009) were served with an empty id, which
-- receivers take as their idempotency key (the webhook-id header): a receiver that drops events
-- it has seen would drop every such event after the first. Each gets an id of its own, random
-- as new ones are, and a dead letter of one carries it too.
UPDATE provisioning_events SET id = 'evt_' || lower(hex(randomblob(13))) WHERE id IS NULL;
UPDATE dead_letters SET event_id = COALESCE((SELECT e.id FROM provisioning_events e
    WHERE e.org = dead_letters.org AND e.seq = dead_letters.seq), '') WHERE event_id = '';
