-- Processed and failed counts per queue per minute, sampled from the
-- queues' Redis counters (`P:{Q}:stats`) by the history service.
CREATE TABLE weir_history (
    queue     TEXT NOT NULL,
    -- Start of the minute, ms since the epoch.
    minute    BIGINT NOT NULL,
    processed BIGINT NOT NULL,
    failed    BIGINT NOT NULL,
    PRIMARY KEY (queue, minute)
);
CREATE INDEX weir_history_minute ON weir_history (minute);

-- The counters as last sampled, per queue: the next sample writes the
-- difference. `sampled_at` makes the update conditional, so two samplers
-- never count the same interval twice.
CREATE TABLE weir_history_cursor (
    queue      TEXT PRIMARY KEY,
    processed  BIGINT NOT NULL,
    failed     BIGINT NOT NULL,
    sampled_at BIGINT NOT NULL
);
