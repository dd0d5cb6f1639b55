-- Partition owners (issue 10): each partition is applied by one long-running
-- owner activity that holds a session advisory lock on the partition. The
-- epoch is its fencing token: a new owner bumps it, and every apply
-- transaction of an owner checks it under FOR SHARE, so an owner whose lock
-- is gone (its lock connection died) can no longer apply anything.
CREATE TABLE partition_owners (
    partition   int PRIMARY KEY,
    epoch       bigint NOT NULL,
    owner       text NOT NULL,   -- the worker's identity
    owner_pid   int NOT NULL,    -- the backend holding the lock
    acquired_at timestamptz NOT NULL,
    -- The owner's Temporal activity: when its lock is gone (its worker died),
    -- any worker fails it at once so that Temporal runs it elsewhere without
    -- waiting for the heartbeat timeout.
    namespace   text NOT NULL DEFAULT '',
    workflow_id text NOT NULL DEFAULT '',
    run_id      text NOT NULL DEFAULT '',
    activity_id text NOT NULL DEFAULT ''
);

-- Every committed insert of an event wakes its partition's owner: NOTIFY is
-- delivered at commit, and notifications with the same payload within one
-- transaction are folded into one.
CREATE FUNCTION leadflow_notify_partition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('leadflow_partition', NEW.partition::text);
    RETURN NULL;
END $$;

CREATE TRIGGER events_notify_partition AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION leadflow_notify_partition();
