-- Publishing a score model or segment re-evaluates every existing contact in
-- the background: one row per partition walks its contacts in id order,
-- marking a slice due in each batch the partition applies (the due changes
-- re-evaluate profile points, bands, thresholds and memberships). The cursor
-- is written in the applying transaction, so the walk resumes after a crash.
CREATE TABLE reevaluations (
    definition_id text NOT NULL,
    version       int NOT NULL,
    partition     int NOT NULL,
    total         int NOT NULL,          -- contacts in the partition when published
    done          int NOT NULL DEFAULT 0,
    cursor        text,                  -- the last contact id marked; NULL: none yet
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    PRIMARY KEY (definition_id, version, partition)
);
CREATE INDEX reevaluations_active ON reevaluations (partition, started_at) WHERE finished_at IS NULL;

-- The walk reads a partition's contacts in id order.
CREATE INDEX contacts_partition_id ON contacts (partition, id);
