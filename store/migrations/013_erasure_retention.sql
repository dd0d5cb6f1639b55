-- Erasure (DELETE /v1/contacts/{id}) and event retention.
--
-- The hash of an identifier (a contact id, a lower-cased email): SHA-256 of
-- the deployment id, ':' and the value, in hex. Salted per deployment, so a
-- list of hashes cannot be matched against another deployment's or a
-- precomputed table of emails.
CREATE FUNCTION erasure_hash(value text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT encode(sha256(convert_to((SELECT id FROM deployment) || ':' || value, 'UTF8')), 'hex')
$$;

-- An erased contact lives on as a tombstone row: its id is
-- 'erased:' || left(erasure_hash(old id), 24), nothing personal is left,
-- and its scores, segment memberships and runs keep account roll-ups and
-- reports' counts right. The engine never applies anything to it.
ALTER TABLE contacts ADD COLUMN erased_at timestamptz;

-- Who erased a contact and when; not what. contact_hash is
-- erasure_hash(the contact id), so a second DELETE finds it.
CREATE TABLE erasure_log (
    id           bigserial PRIMARY KEY,
    contact_hash text NOT NULL UNIQUE,
    erased_by    text NOT NULL,
    erased_at    timestamptz NOT NULL
);

-- The identifiers of erased contacts (their contact id, every email they
-- were seen with, their tombstone id), hashed: events naming one are
-- refused and never recreate the person.
CREATE TABLE erased_identifiers (
    hash       text PRIMARY KEY,
    erasure_id bigint NOT NULL REFERENCES erasure_log (id)
);

-- Runs of an erased contact that were still going are cancelled; so are
-- its pending deliveries. Their workflows are cancelled through the outbox
-- (kind cancel_run, contract.OutboxCancelRun).
ALTER TABLE flow_runs DROP CONSTRAINT flow_runs_status_check;
ALTER TABLE flow_runs ADD CONSTRAINT flow_runs_status_check
    CHECK (status IN ('running', 'waiting', 'completed', 'exited', 'failed', 'cancelled'));
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled'));

-- One row per retention sweep that deleted events: when, the horizon, the
-- cut-off and how many applied events older than it were deleted.
CREATE TABLE retention_sweeps (
    id          bigserial PRIMARY KEY,
    swept_at    timestamptz NOT NULL,
    horizon_s   bigint NOT NULL,   -- the horizon in seconds
    cutoff      timestamptz NOT NULL,
    deleted     bigint NOT NULL
);
