-- Indexes that keep what one change to a contact costs independent of how
-- many events and ledger entries the contact has.
--
-- Past events that conditions and frequency rules count are read newest
-- first per contact and type, page by page with a (occurred_at, seq)
-- cursor, and only as many as the largest count compared against: this
-- index serves that read in order, so that a contact with 100,000 events
-- costs what one with 100 does. It replaces events_contact_type, which
-- served the old read of every event of the type in the window.
CREATE INDEX events_activity ON events (contact_id, type, occurred_at, seq) WHERE applied_at IS NOT NULL;
DROP INDEX events_contact_type;

-- The positive grants of capped rules and steps in the cap period, read
-- with every change to a contact: by rule or step and time, not by scanning
-- the contact's whole ledger.
CREATE INDEX score_ledger_caps ON score_ledger (contact_id, model, rule_id, flow_id, step_id, at) WHERE points > 0;
