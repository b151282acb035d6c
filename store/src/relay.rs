//! The relay: moves committed outbox rows to Redis in `seq` order, then
//! deletes them.
//!
//! Each batch is enqueued under the jobs' own ids, so relaying a row again
//! (the relay died after the enqueue, before the delete) is a no-op while
//! the first copy is still in Redis: delivery is at least once, with no
//! duplicate while the job is pending. Rows that are not valid jobs are
//! written to the dead-job archive with the reason, then deleted.
//!
//! Wake-up: on PostgreSQL, `LISTEN weir_outbox` (a trigger notifies when a
//! transaction that inserted rows commits), with a slow poll as a safety
//! net; on SQLite, which has no notifications, a short poll. One relay runs
//! at a time across the fleet: the holder of `P:lock:relay` (renewed while it
//! runs, released at stop); the others stand by and take over when it lapses.
use crate::archive::DeadRecord;
use crate::error::Result;
use crate::lock::LockedService;
use crate::outbox::OutboxRow;
use crate::store::{Backend, Pool, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use weir_broker::{AttemptError, Broker, NewJob};
use weir_service::{Service, pause};

/// Relay settings. Defaults are documented per field.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Time between looks at the outbox when nothing woke the relay. Default:
    /// 50 ms on SQLite (no notifications), 1 s on PostgreSQL (LISTEN/NOTIFY
    /// wakes it; the poll only catches a notification lost to a reconnect).
    pub poll: Option<Duration>,
    /// Rows per batch (one Redis round trip, one DELETE). Default 500.
    pub batch: u32,
    /// Time to live of the fleet lock; a standby takes over at most this long
    /// after the holder died. Default 5 s.
    pub lock_ttl: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig { poll: None, batch: 500, lock_ttl: Duration::from_secs(5) }
    }
}

impl RelayConfig {
    /// How often the relay polls: `poll`, or 1 s on PostgreSQL (where
    /// LISTEN/NOTIFY wakes it sooner) and 50 ms on SQLite.
    pub fn poll_for(&self, backend: Backend) -> Duration {
        self.poll.unwrap_or(match backend {
            Backend::Postgres => Duration::from_secs(1),
            Backend::Sqlite => Duration::from_millis(50),
        })
    }
}

/// The relay service. `start` spawns its loop; `stop` ends it and releases
/// the fleet lock (both safe to call in any order, any number of times).
#[derive(Debug, Clone)]
pub struct Relay {
    inner: Arc<LockedService<RelayConfig>>,
}

impl Relay {
    /// The relay for `store`; only the process holding the `relay` fleet
    /// lock sends rows, so any number may run.
    pub fn new(broker: Broker, store: Store, config: RelayConfig) -> Relay {
        Relay { inner: LockedService::new(broker, store, config, "relay") }
    }

    /// Starts relaying; a second start is a no-op.
    pub fn start(&self) {
        let me = self.clone();
        self.inner.service.start(|stop| async move { me.run_loop(stop).await });
    }

    /// Stops after the batch in progress and releases the fleet lock.
    pub async fn stop(&self) {
        self.inner.service.stop().await;
    }

    async fn run_loop(&self, stop: CancellationToken) {
        let cfg = &self.inner.config;
        let poll = cfg.poll_for(self.inner.store.backend());
        let mut listener = self.listen().await;
        let mut leader = false;
        let mut renewed = Instant::now();
        while !stop.is_cancelled() {
            // Leadership: take the lock, or keep it by renewing a third of the way in.
            if !leader || renewed.elapsed() >= cfg.lock_ttl / 3 {
                let held = if leader {
                    self.inner.lock.renew(cfg.lock_ttl).await
                } else {
                    self.inner.lock.try_acquire(cfg.lock_ttl).await
                };
                let held = held.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "relay lock failed");
                    false
                });
                if held {
                    renewed = Instant::now();
                }
                if held != leader {
                    tracing::info!(leader = held, "outbox relay leadership changed");
                }
                leader = held;
            }
            if !leader {
                if !pause(&stop, (cfg.lock_ttl / 5).max(Duration::from_millis(100))).await {
                    break;
                }
                continue;
            }
            match self.relay_batch().await {
                // A full batch: more may be waiting; go on at once (renewing the lock as needed).
                Ok(n) if n >= cfg.batch as usize => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "outbox relay failed");
                    if !pause(&stop, poll.max(Duration::from_millis(500))).await {
                        break;
                    }
                    continue;
                }
            }
            // Wait for a commit notification, the poll, or stop.
            let woke = match listener.as_mut() {
                Some(l) => tokio::select! {
                    _ = stop.cancelled() => false,
                    r = tokio::time::timeout(poll, l.recv()) => {
                        if let Ok(Err(e)) = r {
                            tracing::warn!(error = %e, "outbox LISTEN connection failed; reconnecting");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        true
                    }
                },
                None => pause(&stop, poll).await,
            };
            if !woke {
                break;
            }
        }
        if leader && let Err(e) = self.inner.lock.release().await {
            tracing::warn!(error = %e, "cannot release the relay lock");
        }
    }

    async fn listen(&self) -> Option<sqlx::postgres::PgListener> {
        let Pool::Postgres(pool) = &self.inner.store.pool else { return None };
        let mut l = match sqlx::postgres::PgListener::connect_with(pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN for outbox commits; polling");
                return None;
            }
        };
        match l.listen("weir_outbox").await {
            Ok(()) => Some(l),
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN for outbox commits; polling");
                None
            }
        }
    }

    /// Relays batches until the outbox is empty. Returns how many rows moved.
    /// Does not take the fleet lock.
    pub async fn drain(&self) -> Result<u64> {
        let mut moved = 0;
        loop {
            let n = self.relay_batch().await?;
            moved += n as u64;
            if n < self.inner.config.batch as usize {
                return Ok(moved);
            }
        }
    }

    /// One batch: fetch committed rows, enqueue them, delete them.
    pub async fn relay_batch(&self) -> Result<usize> {
        let rows = self.inner.store.outbox_fetch(self.inner.config.batch).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        self.push(&rows).await?;
        self.inner.store.outbox_delete(&rows.iter().map(|r| r.seq).collect::<Vec<_>>()).await?;
        Ok(rows.len())
    }

    /// Enqueues rows under their own ids, in order (the first half of a
    /// batch; the rows stay in the outbox until deleted). Rows that are not
    /// valid jobs go to the dead-job archive.
    pub async fn push(&self, rows: &[OutboxRow]) -> Result<()> {
        let broker = &self.inner.broker;
        let mut jobs: Vec<NewJob> = Vec::with_capacity(rows.len());
        let mut bad = Vec::new();
        for row in rows {
            let job = row.parse().and_then(|j| j.into_new().map_err(Into::into));
            match job.and_then(|j| broker.validate(&j).map(|_| j).map_err(Into::into)) {
                Ok(j) => jobs.push(j),
                Err(e) => bad.push(invalid_row(row, &e.to_string(), broker.now_ms())),
            }
        }
        if !bad.is_empty() {
            tracing::warn!(rows = bad.len(), "outbox rows are not valid jobs; archived as dead");
            self.inner.store.archive(&bad).await?;
        }
        broker.enqueue_many(jobs).await?;
        Ok(())
    }
}

/// An outbox row that cannot be enqueued, as a dead job with the reason.
fn invalid_row(row: &OutboxRow, reason: &str, now: i64) -> DeadRecord {
    let kind = serde_json::from_str::<serde_json::Value>(&row.job)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
        .unwrap_or_default();
    DeadRecord {
        id: row.id.clone(),
        queue: row.queue.clone(),
        kind,
        envelope: row.job.clone(),
        payload: None,
        codec: None,
        attempts: 0,
        max_attempts: None,
        errors: vec![AttemptError { attempt: 0, at: now, error: format!("outbox row {}: {reason}", row.seq) }],
        enqueued_at: None,
        died_at: now,
    }
}

impl AsRef<Service> for Relay {
    fn as_ref(&self) -> &Service {
        &self.inner.service
    }
}
