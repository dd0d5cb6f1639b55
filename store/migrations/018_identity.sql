-- Identity: an anonymous visitor who signs up, or two duplicates, become one
-- contact. A merge moves the merged contact's events to the surviving one
-- (whose state is re-derived from the merged history) and leaves a row
-- here, so that the merged id keeps answering and later events with it land
-- on the survivor.
CREATE TABLE contact_merges (
    merged_id  text PRIMARY KEY,
    into_id    text NOT NULL,
    reason     text NOT NULL,          -- identify, alias, manual
    events     int NOT NULL DEFAULT 0, -- events moved
    merged_at  timestamptz NOT NULL
);
CREATE INDEX contact_merges_into ON contact_merges (into_id);

-- Merges an event asked for (identify with userId and anonymousId, alias),
-- queued with the event and done by the survivor's partition before it
-- applies its events.
CREATE TABLE merge_requests (
    from_id      text NOT NULL,
    into_id      text NOT NULL,
    partition    int NOT NULL,          -- the survivor's
    reason       text NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    done_at      timestamptz,
    outcome      text NOT NULL DEFAULT '',
    PRIMARY KEY (from_id, into_id)
);
CREATE INDEX merge_requests_pending ON merge_requests (partition, requested_at) WHERE done_at IS NULL;
