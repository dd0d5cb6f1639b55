-- The first conversion of a contact in each score model (issue 12): the
-- event that converted it, its value, and the score and band it had at that
-- moment. The ledger as it stood then is the contact's rows of the model
-- with id <= ledger_through (null: it held no points yet); the score at any
-- time T is the sum of the ledger rows with at <= T.
CREATE TABLE conversions (
    contact_id     text NOT NULL,
    model          text NOT NULL,
    event_id       text NOT NULL,
    event_type     text NOT NULL,
    value          numeric(16, 2),
    occurred_at    timestamptz NOT NULL,  -- the event's own time
    at             timestamptz NOT NULL,  -- when it was applied: the ledger's clock
    score          numeric(12, 2) NOT NULL,
    band           text NOT NULL DEFAULT '',
    ledger_through bigint,
    PRIMARY KEY (contact_id, model)
);
CREATE INDEX conversions_model_at ON conversions (model, at);
-- The conversion report reads a model's ledger per contact in order.
CREATE INDEX score_ledger_model_contact ON score_ledger (model, contact_id, id);
