-- Transactional enqueue: `enqueue_tx` inserts here inside the app's own
-- transaction; the relay moves committed rows to Redis in `seq` order and
-- deletes them.
CREATE TABLE weir_outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The job id, fixed at insert, so a repeated relay of a row is a no-op.
    id         TEXT NOT NULL,
    queue      TEXT NOT NULL,
    -- The job as JSON (docs/STORE.md describes the fields).
    job        TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- SQLite has no NOTIFY: the relay polls (docs/STORE.md).
