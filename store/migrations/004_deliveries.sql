-- Deliveries: extra headers of webhook steps, when they last tried and
-- gave up, and hand retries (each one a new delivery workflow).
ALTER TABLE deliveries ADD COLUMN headers jsonb NOT NULL DEFAULT '{}';
ALTER TABLE deliveries ADD COLUMN last_attempt_at timestamptz;
ALTER TABLE deliveries ADD COLUMN failed_at timestamptz;
ALTER TABLE deliveries ADD COLUMN manual_retries int NOT NULL DEFAULT 0;
CREATE INDEX deliveries_status ON deliveries (status, id DESC);
