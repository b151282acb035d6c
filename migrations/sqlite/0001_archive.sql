-- Dead-job archive: one row per job id (the archiver upserts on it, so a
-- repeated write after a crash is a no-op), and every failed attempt.
-- Times are milliseconds since the Unix epoch, as in Redis.
CREATE TABLE weir_dead_jobs (
    id           TEXT PRIMARY KEY,
    queue        TEXT NOT NULL,
    -- '' when the envelope is damaged and names no kind.
    kind         TEXT NOT NULL,
    -- The envelope exactly as Redis held it (it may be damaged).
    envelope     TEXT NOT NULL,
    -- The payload as encoded (JSON, or base64 for bincode); NULL when damaged.
    payload      TEXT,
    codec        TEXT,
    attempts     BIGINT NOT NULL,
    max_attempts BIGINT,
    last_error   TEXT,
    enqueued_at  BIGINT,
    died_at      BIGINT NOT NULL,
    archived_at  BIGINT NOT NULL,
    retried_at   BIGINT,
    retry_count  BIGINT NOT NULL DEFAULT 0
);

-- `weir failed list` filters by queue and/or kind, newest first.
CREATE INDEX weir_dead_jobs_queue_kind ON weir_dead_jobs (queue, kind, died_at DESC, id DESC);
CREATE INDEX weir_dead_jobs_queue ON weir_dead_jobs (queue, died_at DESC, id DESC);
CREATE INDEX weir_dead_jobs_kind ON weir_dead_jobs (kind, died_at DESC, id DESC);
CREATE INDEX weir_dead_jobs_died ON weir_dead_jobs (died_at DESC, id DESC);

-- Every failed attempt of an archived job, kept across retries (an attempt
-- is identified by its time and number, so rewriting one is a no-op).
CREATE TABLE weir_dead_job_errors (
    job_id  TEXT NOT NULL REFERENCES weir_dead_jobs (id) ON DELETE CASCADE,
    at      BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    error   TEXT NOT NULL,
    PRIMARY KEY (job_id, at, attempt)
);
