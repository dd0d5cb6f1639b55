-- A waiting run is signalled once per wait: the wait it was last signalled for.
ALTER TABLE flow_runs ADD COLUMN signalled_seq int NOT NULL DEFAULT 0;
