-- Schedule flows: publishing, pausing, resuming or archiving a flow that has
-- (or had) a schedule trigger queues a sync_schedule row, which the worker
-- dispatches after commit by creating, updating, pausing or deleting the
-- flow's Temporal Schedule to match the definitions table.
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('start_run', 'signal_run', 'deliver', 'sync_schedule'));
