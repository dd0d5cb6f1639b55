-- Past events that conditions and frequency rules count are read newest
-- first per contact and type, page by page with a (occurred_at, seq)
-- cursor, and only as many as the largest count compared against: this
-- index serves that read in order, so that a contact with 100,000 events
-- costs what one with 100 does. It replaces events_contact_type, which
-- served the old read of every event of the type in the window.
CREATE INDEX events_activity ON events (contact_id, type, occurred_at, seq) WHERE applied_at IS NOT NULL;
DROP INDEX events_contact_type;
