-- Quarantine: an event whose application fails for a reason retrying cannot
-- fix is set aside (quarantined_at) with its error, instead of failing its
-- partition's batch for ever. Quarantined events are not pending.
ALTER TABLE events ADD COLUMN quarantined_at timestamptz;
DROP INDEX events_pending;
CREATE INDEX events_pending ON events (partition, seq) WHERE applied_at IS NULL AND quarantined_at IS NULL;

-- One row per event that failed to apply. status: failed (quarantined, waiting
-- for a person), retried (put back in the log by POST /v1/events/{id}/retry),
-- discarded (kept for audit, never applied).
CREATE TABLE event_failures (
    event_seq        bigint PRIMARY KEY REFERENCES events (seq),
    status           text NOT NULL CHECK (status IN ('failed', 'retried', 'discarded')),
    error            text NOT NULL,
    attempts         int NOT NULL DEFAULT 1,
    first_attempt_at timestamptz NOT NULL,
    last_attempt_at  timestamptz NOT NULL,
    retried_at       timestamptz,
    discarded_at     timestamptz
);
CREATE INDEX event_failures_status ON event_failures (status, event_seq);

-- Time-driven changes (decay, expiry, windows, date triggers) of a contact
-- that failed: the contact's next_due_at is pushed back with a backoff.
CREATE TABLE due_failures (
    contact_id       text PRIMARY KEY,
    error            text NOT NULL,
    attempts         int NOT NULL DEFAULT 1,
    first_attempt_at timestamptz NOT NULL,
    last_attempt_at  timestamptz NOT NULL
);

-- A run that cannot go on (its resume failed for good, or Temporal refused
-- its workflow) is failed, with the error.
ALTER TABLE flow_runs DROP CONSTRAINT flow_runs_status_check;
ALTER TABLE flow_runs ADD CONSTRAINT flow_runs_status_check
    CHECK (status IN ('running', 'waiting', 'completed', 'exited', 'failed'));
ALTER TABLE flow_runs ADD COLUMN error text NOT NULL DEFAULT '';

-- An outbox row Temporal refused for good is given up: dispatched_at is set
-- and error says why.
ALTER TABLE outbox ADD COLUMN error text NOT NULL DEFAULT '';
