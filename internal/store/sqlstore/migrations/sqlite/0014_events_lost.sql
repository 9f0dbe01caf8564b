-- Events pruned (past the retention) before a subscription delivered them: how many, and when
-- the subscription last passed over such a gap. Status shows them; before, such events were
-- passed over without a trace.
ALTER TABLE event_deliveries ADD COLUMN lost BIGINT NOT NULL DEFAULT 0;
ALTER TABLE event_deliveries ADD COLUMN lost_us BIGINT;
