-- Outbox kinds are declared once, in Go (package contract, OutboxKind): the
-- table takes any text, and the dispatcher refuses and records a kind it
-- does not know. The CHECK constraint that listed them a second time goes.
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_kind_check;
