-- Every database is one leadflow deployment, with an identity of its own:
-- workflow inputs and outbox payloads carry it, and a worker refuses work
-- that names another deployment (two deployments sharing a Temporal task
-- queue). One row, created here, never changed.
CREATE TABLE deployment (
    id            text PRIMARY KEY CHECK (id ~ '^dep_[0-9a-z]+$'),
    database_name text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    single        boolean NOT NULL DEFAULT true UNIQUE CHECK (single)
);
INSERT INTO deployment (id, database_name)
VALUES ('dep_' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 16), current_database());

-- Every outbox row's payload names the deployment that wrote it, whichever
-- code path inserts the row: the workflow it starts carries it on.
CREATE FUNCTION outbox_stamp_deployment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT NEW.payload ? 'deployment' THEN
        NEW.payload := NEW.payload || jsonb_build_object('deployment', (SELECT id FROM deployment));
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER outbox_stamp_deployment BEFORE INSERT ON outbox
    FOR EACH ROW EXECUTE FUNCTION outbox_stamp_deployment();
