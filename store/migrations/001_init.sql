-- leadflow schema, version 1.

CREATE TABLE accounts (
    id          text PRIMARY KEY,
    name        text NOT NULL DEFAULT '',
    fields      jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contacts (
    id                  text PRIMARY KEY,          -- the external contact id
    email               text NOT NULL DEFAULT '',
    fields              jsonb NOT NULL DEFAULT '{}',
    tags                text[] NOT NULL DEFAULT '{}',
    account_id          text REFERENCES accounts (id),
    stage               text NOT NULL DEFAULT '',
    disqualified        boolean NOT NULL DEFAULT false,
    disqualified_reason text NOT NULL DEFAULT '',
    partition           int NOT NULL,
    next_due_at         timestamptz,               -- earliest time-driven change (decay, windows, dates)
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_due ON contacts (partition, next_due_at) WHERE next_due_at IS NOT NULL;
CREATE INDEX contacts_account ON contacts (account_id) WHERE account_id IS NOT NULL;
CREATE INDEX contacts_email ON contacts (lower(email));

-- The durable event log. An event is pending until a partition applies it.
CREATE TABLE events (
    seq          bigserial PRIMARY KEY,
    id           text NOT NULL UNIQUE,              -- the event id: idempotency
    contact_id   text NOT NULL,
    partition    int NOT NULL,
    type         text NOT NULL,
    properties   jsonb NOT NULL DEFAULT '{}',
    -- contact changes carried by the event (identify / contact upserts)
    email        text,
    traits       jsonb,
    tags         text[],
    account_id   text,
    occurred_at  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    applied_at   timestamptz
);
CREATE INDEX events_pending ON events (partition, seq) WHERE applied_at IS NULL;
CREATE INDEX events_contact_type ON events (contact_id, type, occurred_at);

CREATE TABLE definitions (
    id              text PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('flow', 'segment', 'score_model')),
    status          text NOT NULL DEFAULT 'published' CHECK (status IN ('published', 'paused', 'archived')),
    current_version int NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE definition_versions (
    id           text NOT NULL REFERENCES definitions (id),
    version      int NOT NULL,
    hash         text NOT NULL,
    body         jsonb NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, version)
);

CREATE TABLE scores (
    contact_id        text NOT NULL REFERENCES contacts (id),
    model             text NOT NULL,
    score             numeric(12, 2) NOT NULL DEFAULT 0,
    profile           numeric(12, 2) NOT NULL DEFAULT 0,
    engagement        numeric(12, 2) NOT NULL DEFAULT 0,
    engagement_as_of  timestamptz NOT NULL DEFAULT now(),
    band              text NOT NULL DEFAULT '',
    profile_rules     jsonb NOT NULL DEFAULT '{}',   -- rule id -> points currently held
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contact_id, model)
);
CREATE INDEX scores_hot ON scores (model, score DESC);

-- Every point a contact holds, with where it came from. Entries sum to scores.score.
CREATE TABLE score_ledger (
    id            bigserial PRIMARY KEY,
    contact_id    text NOT NULL,
    model         text NOT NULL,
    points        numeric(12, 2) NOT NULL,
    kind          text NOT NULL,   -- profile, engagement, flow, threshold, decay, expiry
    reason        text NOT NULL,
    rule_id       text NOT NULL DEFAULT '',
    model_version int NOT NULL DEFAULT 0,
    flow_id       text NOT NULL DEFAULT '',
    flow_version  int NOT NULL DEFAULT 0,
    step_id       text NOT NULL DEFAULT '',
    run_id        text NOT NULL DEFAULT '',
    event_id      text NOT NULL DEFAULT '',
    at            timestamptz NOT NULL,
    expires_at    timestamptz,                  -- expire_after decay: when these points lapse
    expired       boolean NOT NULL DEFAULT false,
    idem_key      text UNIQUE
);
CREATE INDEX score_ledger_contact ON score_ledger (contact_id, model, id);
CREATE INDEX score_ledger_expiring ON score_ledger (contact_id, model, expires_at) WHERE expires_at IS NOT NULL AND NOT expired;

CREATE TABLE threshold_states (
    contact_id   text NOT NULL,
    model        text NOT NULL,
    threshold_id text NOT NULL,
    armed        boolean NOT NULL DEFAULT true,
    crossings    int NOT NULL DEFAULT 0,
    PRIMARY KEY (contact_id, model, threshold_id)
);

CREATE TABLE segment_memberships (
    contact_id  text NOT NULL,
    segment_id  text NOT NULL,
    entered_at  timestamptz NOT NULL,
    PRIMARY KEY (contact_id, segment_id)
);
CREATE INDEX segment_memberships_segment ON segment_memberships (segment_id);

CREATE TABLE segment_history (
    id          bigserial PRIMARY KEY,
    contact_id  text NOT NULL,
    segment_id  text NOT NULL,
    change      text NOT NULL CHECK (change IN ('entered', 'exited')),
    event_id    text NOT NULL DEFAULT '',
    at          timestamptz NOT NULL
);
CREATE INDEX segment_history_contact ON segment_history (contact_id, id);

-- How often each contact entered each flow (entry policies).
CREATE TABLE flow_entries (
    flow_id         text NOT NULL,
    contact_id      text NOT NULL,
    entries         int NOT NULL DEFAULT 0,
    last_entered_at timestamptz NOT NULL,
    PRIMARY KEY (flow_id, contact_id)
);

CREATE TABLE flow_runs (
    id               text PRIMARY KEY,   -- flow:contact:entry number
    flow_id          text NOT NULL,
    flow_version     int NOT NULL,
    contact_id       text NOT NULL,
    status           text NOT NULL CHECK (status IN ('running', 'waiting', 'completed', 'exited')),
    step_id          text NOT NULL DEFAULT '',
    wait_seq         int NOT NULL DEFAULT 0,  -- bumps at every wait: stale wake-ups are ignored
    wait_kind        text NOT NULL DEFAULT '',
    wait_event       text NOT NULL DEFAULT '',
    wait_until       timestamptz,
    trigger_event_id text NOT NULL DEFAULT '',
    steps_executed   int NOT NULL DEFAULT 0,
    started_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    finished_at      timestamptz
);
CREATE INDEX flow_runs_contact ON flow_runs (contact_id) WHERE status IN ('running', 'waiting');

CREATE TABLE crm_tasks (
    id              bigserial PRIMARY KEY,
    contact_id      text NOT NULL,
    title           text NOT NULL,
    description     text NOT NULL DEFAULT '',
    assignee        text NOT NULL DEFAULT '',
    due_at          timestamptz,
    reason          text NOT NULL,
    model           text NOT NULL DEFAULT '',
    threshold_id    text NOT NULL DEFAULT '',
    crossing        int NOT NULL DEFAULT 0,
    flow_id         text NOT NULL DEFAULT '',
    flow_version    int NOT NULL DEFAULT 0,
    step_id         text NOT NULL DEFAULT '',
    run_id          text NOT NULL DEFAULT '',
    event_id        text NOT NULL DEFAULT '',
    idem_key        text NOT NULL UNIQUE,  -- threshold: contact+model+threshold+crossing
    delivery_status text NOT NULL DEFAULT 'none',
    created_at      timestamptz NOT NULL
);
CREATE INDEX crm_tasks_newest ON crm_tasks (created_at DESC, id DESC);

-- Outgoing HTTP calls (CRM task webhooks and webhook steps), delivered with retries.
CREATE TABLE deliveries (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('crm_task', 'webhook')),
    crm_task_id   bigint REFERENCES crm_tasks (id),
    url           text NOT NULL,
    body          jsonb NOT NULL,
    idem_key      text NOT NULL UNIQUE,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts      int NOT NULL DEFAULT 0,
    last_error    text NOT NULL DEFAULT '',
    response_code int NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    delivered_at  timestamptz
);

-- Work for Temporal decided inside a transaction: start a run workflow, signal
-- a waiting run, start a delivery. Dispatched after commit; re-dispatched until done.
CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    partition     int NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('start_run', 'signal_run', 'deliver')),
    workflow_id   text NOT NULL,
    payload       jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    dispatched_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (partition, id) WHERE dispatched_at IS NULL;
