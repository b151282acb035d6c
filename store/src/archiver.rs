//! The archiver: moves dead jobs from Redis's dead sets to the store.
//!
//! For each batch: read the full records from Redis, write them to the store
//! (one transaction, upsert on the job id), and only then delete them from
//! Redis. A crash between the write and the delete leaves the jobs in Redis;
//! the next pass writes the same records again (a no-op) and deletes them,
//! so nothing is lost and nothing is doubled.
//!
//! One pass per interval across the fleet: the process that wins the
//! `P:lock:archiver` lock (`SET NX PX interval`) makes it.
use crate::archive::DeadRecord;
use crate::error::Result;
use crate::lock::LockedService;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;
use weir_broker::{Broker, JobState, QueueName};
use weir_service::{Service, pause};

/// Archiver settings. Defaults are documented per field.
#[derive(Debug, Clone)]
pub struct ArchiverConfig {
    /// Time between passes (fleet-wide). Default 5 s.
    pub interval: Duration,
    /// Dead jobs read, written and removed per batch. Default 100.
    pub batch: usize,
    /// Most jobs moved per queue per pass, so one queue's backlog cannot hold
    /// the others up for long. Default 10,000.
    pub max_per_pass: usize,
}

impl Default for ArchiverConfig {
    fn default() -> Self {
        ArchiverConfig { interval: Duration::from_secs(5), batch: 100, max_per_pass: 10_000 }
    }
}

/// The archiver service. `start` spawns its loop; `stop` ends it (both are
/// safe to call in any order, any number of times).
#[derive(Debug, Clone)]
pub struct Archiver {
    inner: Arc<LockedService<ArchiverConfig>>,
}

impl Archiver {
    /// The archiver for `store`; only the process holding the `archiver`
    /// fleet lock moves jobs, so any number may run.
    pub fn new(broker: Broker, store: Store, config: ArchiverConfig) -> Archiver {
        Archiver { inner: LockedService::new(broker, store, config, "archiver") }
    }

    /// Starts a pass every `interval`; a second start is a no-op.
    pub fn start(&self) {
        let me = self.clone();
        self.inner.service.start(|stop| async move {
            loop {
                match me.inner.lock.try_acquire(me.inner.config.interval).await {
                    Ok(true) => match me.pass().await {
                        Ok(n) if n > 0 => tracing::info!(jobs = n, "archived dead jobs"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "archive pass failed"),
                    },
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "archiver lock failed"),
                }
                if !pause(&stop, me.inner.config.interval).await {
                    return;
                }
            }
        });
    }

    /// Stops after the pass in progress. Safe before start and twice.
    pub async fn stop(&self) {
        self.inner.service.stop().await;
    }

    /// Moves every queue's dead jobs (up to `max_per_pass` each) to the
    /// store. Returns how many were moved. Does not take the fleet lock.
    pub async fn pass(&self) -> Result<u64> {
        let mut moved = 0;
        for queue in self.inner.broker.queues().await? {
            let mut left = self.inner.config.max_per_pass;
            while left > 0 {
                let records = self.read(&queue, self.inner.config.batch.min(left)).await?;
                if records.is_empty() {
                    break;
                }
                left = left.saturating_sub(records.len());
                self.inner.store.archive(&records).await?;
                moved += self.remove(&queue, &records).await?;
            }
        }
        Ok(moved)
    }

    /// Step 1: the full records of up to `limit` of the queue's dead jobs,
    /// oldest first.
    pub async fn read(&self, queue: &QueueName, limit: usize) -> Result<Vec<DeadRecord>> {
        let broker = &self.inner.broker;
        let ids = broker.list(queue, JobState::Dead, limit).await?;
        let infos = futures::future::join_all(ids.iter().map(|id| broker.job(queue, id))).await;
        let mut out = Vec::with_capacity(ids.len());
        for (id, info) in ids.iter().zip(infos) {
            match info {
                Ok(Some(info)) => out.extend(DeadRecord::from_job(queue, id, info)),
                Ok(None) => {}
                Err(e) => tracing::warn!(queue = %queue, id, error = %e, "cannot read dead job; left in Redis"),
            }
        }
        Ok(out)
    }

    /// Step 3, after the records are in the store: deletes them from Redis.
    /// Returns how many were still there.
    pub async fn remove(&self, queue: &QueueName, records: &[DeadRecord]) -> Result<u64> {
        let broker = &self.inner.broker;
        let results = futures::future::join_all(records.iter().map(|r| broker.delete(queue, &r.id))).await;
        let mut n = 0;
        for r in results {
            if r? == Some(JobState::Dead) {
                n += 1;
            }
        }
        Ok(n)
    }
}

impl AsRef<Service> for Archiver {
    fn as_ref(&self) -> &Service {
        &self.inner.service
    }
}
