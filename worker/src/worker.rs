//! The worker: a fetch loop that reserves jobs in batches sized to free
//! capacity and spawns one task per job, with the background services
//! (acker, extender, housekeeper, heartbeat) around it, and the shutdown
//! sequence that never loses a job.
use crate::acker::Acker;
use crate::config::{Queues, WorkerConfig, lease_for};
use crate::error::{Error, Result};
use crate::extender::Extender;
use crate::handler::SharedHandler;
use crate::heartbeat::Heartbeat;
use crate::housekeeper::Housekeeper;
use crate::leases::{JobStop, LeaseTable};
use crate::memory::Rss;
use crate::metrics::{Metrics, RedisOp, timed};
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use weir_broker::registry::WorkerInfo;
use weir_broker::{Broker, QueueName, Reserved, Selector};
use weir_service::{Group, Service};

pub use weir_broker::model::StopReason;

/// How a worker run ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Why it stopped: a signal, a drain, or a lifetime limit.
    pub reason: StopReason,
    /// Jobs finished (acked, failed or buried).
    pub jobs_done: u64,
    /// Jobs put back to their queue at the end, attempt not counted.
    pub released: usize,
    /// Whether running jobs were stopped (grace over, or a second signal).
    pub forced: bool,
}

impl Outcome {
    /// The process exit code `weir work` uses for it (0 for a stop, 10-12
    /// for a limit; docs/WORKER.md), for a binary that exits with it.
    pub fn exit_code(&self) -> u8 {
        self.reason.exit_code()
    }
}

/// State shared by the fetch loop, the job tasks and the services.
pub(crate) struct Shared {
    pub broker: Broker,
    pub config: WorkerConfig,
    pub handlers: HashMap<String, SharedHandler>,
    pub leases: Arc<LeaseTable>,
    pub acker: Arc<Acker>,
    pub housekeeper: Housekeeper,
    pub rss: Rss,
    /// Set with a metrics address.
    pub metrics: Option<Arc<Metrics>>,
    /// Stop taking jobs.
    pub stop: CancellationToken,
    /// Stop running jobs now (grace over or second signal); their leases are released.
    pub force: CancellationToken,
    /// The shutdown future resolved (grace applies from then, even after a limit).
    pub signalled: CancellationToken,
    reason: Mutex<Option<StopReason>>,
    pub done: AtomicU64,
    pub started: AtomicU64,
    pub running: AtomicUsize,
    /// Jobs of kinds with no handler here: the policy's state (unknown.rs).
    pub unknown: crate::unknown::UnknownKinds,
}

impl Shared {
    /// The first reason wins.
    pub fn request_stop(&self, reason: StopReason) {
        let mut r = self.reason.lock().expect("stop reason");
        if r.is_none() {
            *r = Some(reason);
            tracing::info!(?reason, "stopping: no new jobs");
        }
        self.stop.cancel();
    }

    fn reason(&self) -> Option<StopReason> {
        *self.reason.lock().expect("stop reason")
    }
}

/// A configured worker; see [`Worker::builder`](crate::Worker::builder).
pub struct Worker {
    pub(crate) broker: Broker,
    pub(crate) config: WorkerConfig,
    pub(crate) handlers: HashMap<String, SharedHandler>,
    pub(crate) force_on: Option<BoxFuture<'static, ()>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("config", &self.config)
            .field("kinds", &self.handlers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Worker {
    /// Runs until `shutdown` resolves (then drains gracefully) or a limit or
    /// drain request stops it.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<Outcome> {
        let Worker { broker, config, handlers, force_on } = self;
        config.validate().map_err(Error::Config)?;
        // A busy or invalid address is an error before anything else starts.
        let listener = match config.metrics_addr {
            Some(addr) => {
                Some(tokio::net::TcpListener::bind(addr).await.map_err(|source| Error::Listen { addr, source })?)
            }
            None => None,
        };
        let selector = config.queues.selector()?;
        let queue_names: Vec<QueueName> = config.queues.names();
        let waiter = broker.waiter(&queue_names).await?;
        // A queue a worker serves is known (`weir stats`, the exporter, `weir
        // pause` without --create) before anything was enqueued to it.
        broker.create_queues(&queue_names).await?;
        let id = ulid::Ulid::new().to_string().to_lowercase();
        let started_at = broker.now_ms();
        let reserve_lease = lease_for(config.timeout);
        let metrics = listener.as_ref().map(|_| {
            let kinds: Vec<String> = handlers.keys().cloned().collect();
            Arc::new(Metrics::new(&queue_names, &kinds, config.concurrency, config.metrics_max_kinds))
        });

        let shared = Arc::new(Shared {
            broker: broker.clone(),
            handlers,
            leases: Arc::new(LeaseTable::default()),
            acker: Arc::new(Acker::new()),
            housekeeper: Housekeeper::default(),
            rss: Rss::open(),
            metrics: metrics.clone(),
            stop: CancellationToken::new(),
            force: CancellationToken::new(),
            signalled: CancellationToken::new(),
            reason: Mutex::new(None),
            done: AtomicU64::new(0),
            started: AtomicU64::new(0),
            running: AtomicUsize::new(0),
            unknown: Default::default(),
            config,
        });
        let config = &shared.config;
        tracing::info!(worker = %id, queues = ?queue_names, concurrency = config.concurrency, "worker started");

        // Services.
        let endpoint = crate::endpoint::Endpoint::default();
        if let (Some(listener), Some(m)) = (listener, &metrics) {
            let addr = listener.local_addr().map_or_else(|_| "?".to_string(), |a| a.to_string());
            tracing::info!(%addr, "serving /metrics, /healthz and /readyz");
            endpoint.start(listener, m.clone(), broker.clone(), shared.stop.clone());
        }
        shared.acker.start(broker.clone(), metrics.clone());
        let extender = Extender::default();
        let tick = (lease_for(Duration::from_millis(1)) / 6).min(reserve_lease / 6);
        extender.start(broker.clone(), shared.leases.clone(), tick, metrics.clone());
        shared.housekeeper.start(broker.clone(), id.clone(), queue_names.clone(), config.housekeeping);
        let scheduler = crate::scheduler::Scheduler::default();
        if config.scheduler {
            scheduler.start(broker.clone());
        }
        let heartbeat = Heartbeat::default();
        {
            let s = shared.clone();
            let id = id.clone();
            let host = weir_broker::registry::host_name();
            let (queues, mode) = match &config.queues {
                Queues::Weighted(q) => (q.iter().map(|(n, w)| (n.to_string(), *w)).collect(), "weighted"),
                Queues::Strict(q) => (q.iter().map(|n| (n.to_string(), 1)).collect(), "strict"),
            };
            let snapshot = Arc::new(move || WorkerInfo {
                id: id.clone(),
                host: host.clone(),
                pid: std::process::id(),
                queues: Vec::clone(&queues),
                mode: mode.to_string(),
                concurrency: s.config.concurrency,
                started_at,
                jobs_done: s.done.load(Ordering::Relaxed),
                running: s.running.load(Ordering::Relaxed),
                heartbeat_at: s.broker.now_ms(),
                drain: s.stop.is_cancelled(),
                cancel: Vec::new(),
            });
            let s = shared.clone();
            let on_drain = Arc::new(move || s.request_stop(StopReason::Drain));
            let leases = shared.leases.clone();
            let on_cancel = Arc::new(move |queue: &str, id: &str| leases.renew_soon(queue, id));
            heartbeat.start(broker.clone(), config.heartbeat, snapshot, on_drain, on_cancel);
        }

        // Stop triggers: the shutdown future, the force future, max time.
        let triggers = Service::default();
        {
            let s = shared.clone();
            let max_time = config.max_time;
            triggers.start(move |stop| async move {
                let on_shutdown = async {
                    shutdown.await;
                    s.signalled.cancel();
                    s.request_stop(StopReason::Shutdown);
                };
                let on_force = async {
                    let Some(force_on) = force_on else { return std::future::pending().await };
                    force_on.await;
                    tracing::info!("forced stop: releasing running jobs");
                    s.signalled.cancel();
                    s.request_stop(StopReason::Shutdown);
                    s.force.cancel();
                };
                let on_max_time = async {
                    let Some(max) = max_time else { return std::future::pending().await };
                    tokio::time::sleep(max).await;
                    s.request_stop(StopReason::MaxTime);
                };
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = async { tokio::join!(on_shutdown, on_force, on_max_time) } => {}
                }
            });
        }

        let tracker = TaskTracker::new();
        fetch_loop(&shared, selector, &waiter, &tracker, reserve_lease, Arc::from(id.as_str())).await;
        // A BLPOP may still be in flight on the waiter's connection; its QUIT
        // would queue behind it, so close it in the background.
        tokio::spawn(waiter.close());

        // Shutdown order:
        // 1. The fetch loop has stopped reserving; every reserved job has its
        //    task, or (reserved by a call still in flight at the stop) is parked
        //    in the lease table.
        // 2. Wait for running jobs: up to the grace time after a signal or a
        //    drain request, until they end (their timeouts bound them) after a
        //    limit; a force signal cuts the wait short.
        // 3. Force: cancel what still runs (futures dropped) and wait for the tasks.
        // 4. Flush the acker, so finished jobs are acked, never released.
        // 5. Release the leases still held (attempt not counted).
        // 6. Stop the extender (only now: released leases no longer need it),
        //    the housekeeper, the scheduler, the triggers, and the heartbeat
        //    (deregisters), in that order.
        tracker.close();
        let reason = shared.reason().unwrap_or(StopReason::Shutdown);
        let grace = config.grace;
        let deadline = {
            let s = shared.clone();
            async move {
                if reason.is_limit() {
                    s.signalled.cancelled().await;
                }
                tokio::time::sleep(grace).await;
            }
        };
        let in_flight = shared.running.load(Ordering::Relaxed);
        if in_flight > 0 {
            tracing::info!(jobs = in_flight, "waiting for running jobs to finish");
        }
        let mut forced = false;
        tokio::select! {
            _ = tracker.wait() => {}
            _ = deadline => { forced = true; }
            _ = shared.force.cancelled() => { forced = true; }
        }
        if forced {
            shared.force.cancel();
            if tokio::time::timeout(Duration::from_secs(5), tracker.wait()).await.is_err() {
                tracing::warn!("some handlers ignored cancellation; releasing their jobs anyway");
            }
        }
        shared.acker.stop().await;
        let left = shared.leases.take_all();
        let mut released = 0;
        if !left.is_empty() {
            match broker.release(&left).await {
                Ok(flags) => released = flags.iter().filter(|f| **f).count(),
                Err(e) => tracing::error!(error = %e, jobs = left.len(),
                    "could not release jobs; they run again when their leases expire"),
            }
            tracing::info!(jobs = released, "released unfinished jobs back to their queues");
        }
        Group::new()
            .then("extender", &extender)
            .then("housekeeper", &shared.housekeeper)
            .then("scheduler", &scheduler)
            .then("stop triggers", &triggers)
            .then("heartbeat", &heartbeat)
            .then("metrics endpoint", &endpoint)
            .stop()
            .await;
        let outcome = Outcome { reason, jobs_done: shared.done.load(Ordering::Relaxed), released, forced };
        tracing::info!(?reason, jobs_done = outcome.jobs_done, released, "worker stopped");
        Ok(outcome)
    }
}

/// A reserve call in flight: its selector, the slots it fills, when it was
/// sent (the leases count from then), and what came back.
type Batch = (Selector, Vec<OwnedSemaphorePermit>, Instant, weir_broker::Result<Vec<Reserved>>);

/// Smallest batch worth a second reserve in flight.
const MIN_PIPELINED_BATCH: usize = 32;

/// Reserves jobs while there is capacity, waits on the doorbells while
/// there is no work, and returns once the worker is told to stop.
///
/// With enough slots, `reserve_depth` (default two) reserve calls are in
/// flight at once, each with a selector of its own, so Redis runs one while
/// this process starts the jobs of another. A reserve never asks for more jobs than it has free
/// slots for, so every reserved job starts at once.
async fn fetch_loop(
    shared: &Arc<Shared>,
    selector: Selector,
    waiter: &weir_broker::Waiter,
    tracker: &TaskTracker,
    reserve_lease: Duration,
    worker_id: Arc<str>,
) {
    let config = &shared.config;
    let slots = Arc::new(Semaphore::new(config.concurrency));
    let depth = if config.concurrency >= 2 * MIN_PIPELINED_BATCH { config.reserve_depth } else { 1 };
    let batch_cap = config.reserve_batch.min(config.concurrency / depth).max(1);
    let mut spare: Vec<Selector> = (0..depth).map(|_| selector.clone()).collect();
    let mut inflight: FuturesUnordered<BoxFuture<'static, Batch>> = FuturesUnordered::new();
    let mut asked_inflight = 0usize;
    let mut ready: Vec<OwnedSemaphorePermit> = Vec::new();
    let mut limited_until: Option<i64> = None;
    // After an empty reserve, the next reserve waits for a doorbell; every
    // few quiet waits it reserves anyway, as a safety net.
    let mut quiet_waits = 0u32;
    let mut idle = false;
    loop {
        if shared.stop.is_cancelled() {
            // Jobs reserved by calls still in flight are not started: they
            // are parked in the lease table and released at shutdown.
            while let Some((_, permits, at, result)) = inflight.next().await {
                if let Ok(jobs) = result {
                    for job in jobs {
                        shared.leases.insert(job.lease, at, reserve_lease, JobStop::new(shared.force.child_token()));
                    }
                }
                drop(permits);
            }
            return;
        }
        if idle && inflight.is_empty() {
            ready.clear();
            // A rate limit that held a queue back allows more at a known
            // time, and nothing rings then: wake at that time.
            let now = shared.broker.now_ms();
            let limit_wait = match limited_until {
                Some(t) if t > 0 => Some(Duration::from_millis((t - now).max(1) as u64)),
                _ => None,
            };
            let wait = limit_wait.map_or(config.idle_wait, |d| d.min(config.idle_wait));
            let rang = tokio::select! {
                r = waiter.wait(wait) => r,
                _ = shared.stop.cancelled() => continue,
            };
            match rang {
                Ok(Some(_)) => quiet_waits = 0,
                Ok(None) if limit_wait.is_some() => {}
                Ok(None) => {
                    quiet_waits += 1;
                    if !quiet_waits.is_multiple_of(6) {
                        continue;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "waiting for work failed; retrying in 1s");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = shared.stop.cancelled() => continue,
                    }
                }
            }
            idle = false;
        }

        // How many more jobs may start (--max-jobs).
        let mut cap = batch_cap;
        if let Some(max) = config.max_jobs {
            let left = max.saturating_sub(shared.started.load(Ordering::Relaxed) + asked_inflight as u64);
            if left == 0 && inflight.is_empty() {
                // Every allowed job has started; the last to finish stops the
                // worker (or, if some were lost rather than finished, this does).
                ready.clear();
                loop {
                    tokio::select! {
                        _ = shared.stop.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                    if shared.running.load(Ordering::Relaxed) == 0 && shared.leases.len() == 0 {
                        shared.request_stop(StopReason::MaxJobs);
                    }
                }
                continue;
            }
            cap = cap.min(left as usize);
        }

        // Launch a reserve when a selector is free and enough slots are: any
        // slot for the first call, a worthwhile batch for the second.
        if !idle && cap > 0 && !spare.is_empty() {
            if inflight.is_empty() && ready.is_empty() {
                tokio::select! {
                    p = slots.clone().acquire_owned() => ready.push(p.expect("semaphore never closed")),
                    _ = shared.stop.cancelled() => continue,
                }
            }
            while ready.len() < cap {
                match slots.clone().try_acquire_owned() {
                    Ok(p) => ready.push(p),
                    Err(_) => break,
                }
            }
            ready.truncate(cap);
            let worthwhile = inflight.is_empty() || ready.len() >= (cap / 2).max(1);
            if worthwhile && !ready.is_empty() {
                let mut sel = spare.pop().expect("a spare selector");
                let permits = std::mem::take(&mut ready);
                let broker = shared.broker.clone();
                let metrics = shared.metrics.clone();
                let worker_id = worker_id.clone();
                asked_inflight += permits.len();
                inflight.push(Box::pin(async move {
                    let at = Instant::now();
                    let call = broker.reserve_for(&mut sel, permits.len(), reserve_lease, &worker_id);
                    let result = timed(metrics.as_deref(), RedisOp::Reserve, call).await;
                    (sel, permits, at, result)
                }));
            }
        }

        // Wait for a reserve to come back, or for enough free slots to send
        // the second one, or for the stop.
        let more = !idle && !spare.is_empty() && !inflight.is_empty() && cap > 0;
        let want = (cap / 2).max(1).saturating_sub(ready.len()) as u32;
        tokio::select! {
            Some((sel, mut permits, at, result)) = inflight.next() => {
                asked_inflight -= permits.len();
                limited_until = sel.limited_until();
                spare.push(sel);
                match result {
                    Ok(jobs) => {
                        idle = jobs.is_empty();
                        shared.started.fetch_add(jobs.len() as u64, Ordering::Relaxed);
                        for (job, permit) in jobs.into_iter().zip(permits.drain(..)) {
                            let stop = JobStop::new(shared.force.child_token());
                            shared.leases.insert(job.lease.clone(), at, reserve_lease, stop.clone());
                            tracker.spawn(crate::job::run(shared.clone(), job, stop, permit));
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "reserve failed; retrying in 1s");
                        drop(permits);
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                            _ = shared.stop.cancelled() => {}
                        }
                    }
                }
            }
            p = slots.clone().acquire_many_owned(want), if more && want > 0 => {
                // One permit per job, so each job frees its own slot.
                let mut p = p.expect("semaphore never closed");
                while p.num_permits() > 1 {
                    ready.push(p.split(1).expect("more than one permit"));
                }
                ready.push(p);
            }
            _ = shared.stop.cancelled() => {}
        }
    }
}
