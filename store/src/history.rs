//! History: processed and failed counts per queue per minute.
//!
//! The sampler reads the counters the broker's scripts already keep in
//! `P:{Q}:stats` (so nothing is added to the job path), once per interval,
//! and writes the differences since the last sample to the store in one
//! transaction. The last sample per queue is kept in the store
//! (`weir_history_cursor`), so a new sampler continues where the last one
//! stopped; its update is conditional, so two samplers never count the same
//! interval twice. The difference is booked to the minute in which the
//! previous sample was taken; a gap (no sampler running) lands in one minute.
//!
//! One sampler per interval across the fleet: the holder of `P:lock:history`.
use crate::error::Result;
use crate::lock::LockedService;
use crate::store::{Store, on_pool};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use weir_broker::Broker;
use weir_service::{Service, pause};

const MINUTE_MS: i64 = 60_000;

/// History settings. Defaults are documented per field.
#[derive(Debug, Clone)]
pub struct HistoryConfig {
    /// Time between samples (fleet-wide). Default 1 minute.
    pub interval: Duration,
    /// Minutes older than this are deleted. Default 30 days.
    pub retention: Duration,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig { interval: Duration::from_secs(60), retention: Duration::from_secs(30 * 86_400) }
    }
}

/// One queue's counts in one minute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct HistoryRow {
    /// The queue counted.
    pub queue: String,
    /// Start of the minute, ms since the epoch.
    pub minute: i64,
    /// Jobs finished in that minute.
    pub processed: i64,
    /// Attempts failed in that minute (retried or dead).
    pub failed: i64,
}

/// One queue's counters as read from Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// The queue read.
    pub queue: String,
    /// Its lifetime count of finished jobs.
    pub processed: u64,
    /// Its lifetime count of failed attempts.
    pub failed: u64,
}

#[derive(sqlx::FromRow)]
struct Cursor {
    processed: i64,
    failed: i64,
    sampled_at: i64,
}

impl Store {
    /// Books the counters read at `now_ms` against the previous sample of
    /// each queue, in one transaction. Returns how many history rows changed.
    pub async fn record_samples(&self, samples: &[Sample], now_ms: i64) -> Result<u64> {
        let read = "SELECT processed, failed, sampled_at FROM weir_history_cursor WHERE queue = $1";
        let first = "INSERT INTO weir_history_cursor (queue, processed, failed, sampled_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (queue) DO NOTHING";
        let advance = "UPDATE weir_history_cursor SET processed = $2, failed = $3, sampled_at = $4 \
                       WHERE queue = $1 AND sampled_at = $5";
        let book = "INSERT INTO weir_history (queue, minute, processed, failed) VALUES ($1, $2, $3, $4) \
                    ON CONFLICT (queue, minute) DO UPDATE SET processed = weir_history.processed + excluded.processed, \
                    failed = weir_history.failed + excluded.failed";
        Ok(on_pool!(self, p, _Db => {
            let mut tx = p.begin().await?;
            let mut booked = 0;
            for s in samples {
                let (processed, failed) = (s.processed as i64, s.failed as i64);
                let cursor = sqlx::query_as::<_, Cursor>(read).bind(&s.queue).fetch_optional(&mut *tx).await?;
                let Some(c) = cursor else {
                    sqlx::query(first).bind(&s.queue).bind(processed).bind(failed).bind(now_ms).execute(&mut *tx).await?;
                    continue;
                };
                if now_ms <= c.sampled_at {
                    continue;
                }
                let moved = sqlx::query(advance)
                    .bind(&s.queue)
                    .bind(processed)
                    .bind(failed)
                    .bind(now_ms)
                    .bind(c.sampled_at)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if moved == 0 {
                    continue; // another sampler booked this interval
                }
                // A counter lower than before was reset (queue data deleted): count from zero.
                let dp = if processed >= c.processed { processed - c.processed } else { processed };
                let df = if failed >= c.failed { failed - c.failed } else { failed };
                if dp == 0 && df == 0 {
                    continue;
                }
                let minute = c.sampled_at.div_euclid(MINUTE_MS) * MINUTE_MS;
                sqlx::query(book).bind(&s.queue).bind(minute).bind(dp).bind(df).execute(&mut *tx).await?;
                booked += 1;
            }
            tx.commit().await?;
            booked
        }))
    }

    /// Minutes at or after `since_ms`, oldest first, then by queue.
    pub async fn history(&self, since_ms: i64) -> Result<Vec<HistoryRow>> {
        let sql = "SELECT queue, minute, processed, failed FROM weir_history WHERE minute >= $1 ORDER BY minute, queue";
        Ok(on_pool!(self, p, _Db => sqlx::query_as::<_, HistoryRow>(sql).bind(since_ms).fetch_all(p).await?))
    }

    /// Deletes minutes before `before_ms`. Returns how many rows.
    pub async fn trim_history(&self, before_ms: i64) -> Result<u64> {
        let sql = "DELETE FROM weir_history WHERE minute < $1";
        Ok(on_pool!(self, p, _Db => sqlx::query(sql).bind(before_ms).execute(p).await?.rows_affected()))
    }
}

/// The history sampler service. `start` spawns its loop; `stop` ends it.
#[derive(Debug, Clone)]
pub struct HistorySampler {
    inner: Arc<LockedService<HistoryConfig>>,
}

impl HistorySampler {
    /// The sampler for `store`; it runs on whichever process holds the
    /// `history` fleet lock, so a fleet writes each minute once.
    pub fn new(broker: Broker, store: Store, config: HistoryConfig) -> HistorySampler {
        HistorySampler { inner: LockedService::new(broker, store, config, "history") }
    }

    /// Starts sampling just after each interval boundary; a second start is a no-op.
    pub fn start(&self) {
        let me = self.clone();
        self.inner.service.start(|stop| async move {
            let interval = me.inner.config.interval.max(Duration::from_millis(10));
            let step = interval.as_millis() as i64;
            loop {
                // Sample just after each interval boundary (each minute by default).
                let now = me.inner.broker.now_ms();
                let wait = step - now.rem_euclid(step) + 50;
                if !pause(&stop, Duration::from_millis(wait as u64)).await {
                    return;
                }
                match me.inner.lock.try_acquire(interval.mul_f64(0.8)).await {
                    Ok(true) => {
                        if let Err(e) = me.sample(me.inner.broker.now_ms()).await {
                            tracing::warn!(error = %e, "history sample failed");
                        }
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "history lock failed"),
                }
            }
        });
    }

    /// Stops sampling and waits for the pass in progress. Safe before start and twice.
    pub async fn stop(&self) {
        self.inner.service.stop().await;
    }

    /// Reads every queue's counters, books them as of `now_ms`, and deletes
    /// minutes past the retention. Returns how many history rows changed.
    /// Does not take the fleet lock.
    pub async fn sample(&self, now_ms: i64) -> Result<u64> {
        let broker = &self.inner.broker;
        let mut samples = Vec::new();
        for q in broker.queues().await? {
            let s = broker.stats(&q).await?;
            samples.push(Sample { queue: q.to_string(), processed: s.processed, failed: s.failed });
        }
        let booked = self.inner.store.record_samples(&samples, now_ms).await?;
        let keep = self.inner.config.retention.as_millis() as i64;
        if keep > 0 {
            self.inner.store.trim_history(now_ms - keep).await?;
        }
        Ok(booked)
    }
}

impl AsRef<Service> for HistorySampler {
    fn as_ref(&self) -> &Service {
        &self.inner.service
    }
}
