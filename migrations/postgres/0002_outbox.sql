-- Transactional enqueue: `enqueue_tx` inserts here inside the app's own
-- transaction; the relay moves committed rows to Redis in `seq` order and
-- deletes them.
CREATE TABLE weir_outbox (
    seq        BIGSERIAL PRIMARY KEY,
    -- The job id, fixed at insert, so a repeated relay of a row is a no-op.
    id         TEXT NOT NULL,
    queue      TEXT NOT NULL,
    -- The job as JSON (docs/STORE.md describes the fields).
    job        TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Wakes the relay when a transaction that inserted rows commits (a NOTIFY
-- sent inside a transaction is delivered at commit, and never on rollback).
CREATE FUNCTION weir_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('weir_outbox', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER weir_outbox_notify AFTER INSERT ON weir_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION weir_outbox_notify();
