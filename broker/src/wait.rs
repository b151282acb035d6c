//! Waiting for work without polling. Every enqueue, promote, release and
//! resume rings the queue's `wake` doorbell (a list holding at most one
//! token); an idle worker blocks on the doorbells of its queues with BLPOP on
//! connections of its own, because a blocked connection stalls every command
//! sent on it.
//!
//! On one server (or behind Sentinel) one BLPOP waits on every queue's
//! doorbell. Redis Cluster refuses a BLPOP whose keys are in different slots,
//! even on one node, and each queue is its own slot: there the waiter keeps
//! one blocking connection per queue (routed to the node that owns the slot,
//! following slot moves and failovers), armed only while the worker waits;
//! a ring that arrives after the worker stopped waiting is put back for
//! another worker.
use crate::broker::Broker;
use crate::conn::Conn;
use crate::error::{Error, Result};
use crate::name::QueueName;
use redis::Value;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc, watch};

/// A worker's wait on its queues' doorbells.
#[derive(Debug)]
pub struct Waiter {
    inner: WaitOn,
}

#[derive(Debug)]
enum WaitOn {
    /// One BLPOP over every doorbell, on a connection of its own.
    AllAtOnce { broker: Broker, conn: Mutex<Conn>, keys: Vec<String>, queues: Vec<QueueName> },
    /// One task per queue (Redis Cluster), each with its own connection.
    PerQueue {
        armed: watch::Sender<Option<Duration>>,
        rings: Mutex<mpsc::Receiver<QueueName>>,
        tasks: Vec<tokio::task::JoinHandle<()>>,
    },
}

impl Broker {
    /// Opens the connection(s) that wait on `queues`' doorbells.
    pub async fn waiter(&self, queues: &[QueueName]) -> Result<Waiter> {
        if !self.is_cluster() {
            let conn = self.inner.redis.blocking().await?;
            let keys = queues.iter().map(|q| self.keys(q).wake.clone()).collect();
            let inner =
                WaitOn::AllAtOnce { broker: self.clone(), conn: Mutex::new(conn), keys, queues: queues.to_vec() };
            return Ok(Waiter { inner });
        }
        let (armed, _) = watch::channel(None);
        let (ring_tx, rings) = mpsc::channel(queues.len().max(1));
        let mut tasks = Vec::new();
        for q in queues {
            let conn = self.inner.redis.blocking().await?;
            tasks.push(tokio::spawn(wait_one(self.clone(), conn, q.clone(), armed.subscribe(), ring_tx.clone())));
        }
        Ok(Waiter { inner: WaitOn::PerQueue { armed, rings: Mutex::new(rings), tasks } })
    }
}

/// BLPOP with a client-side guard a little longer than the server's timeout.
async fn blpop(conn: &mut Conn, keys: &[String], timeout: Duration) -> Result<Option<String>> {
    let secs = timeout.as_secs_f64().max(0.01);
    let cmd = redis::cmd("BLPOP").arg(keys).arg(format!("{secs:.3}")).to_owned();
    let reply = tokio::time::timeout(timeout + Duration::from_secs(5), cmd.query_async::<Value>(conn)).await;
    match reply {
        Ok(Ok(Value::Array(pair))) => {
            Ok(pair.into_iter().next().and_then(|k| redis::from_redis_value::<String>(k).ok()))
        }
        Ok(Ok(_)) => Ok(None),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(Error::Timeout(timeout + Duration::from_secs(5))),
    }
}

/// One queue's doorbell on Redis Cluster: waits while armed, forwards a
/// ring, and puts back a ring nobody is waiting for any more.
async fn wait_one(
    broker: Broker,
    mut conn: Conn,
    queue: QueueName,
    mut armed: watch::Receiver<Option<Duration>>,
    rings: mpsc::Sender<QueueName>,
) {
    let key = broker.keys(&queue).wake.clone();
    loop {
        let wanted = *armed.borrow_and_update();
        let timeout = match wanted {
            Some(t) => t,
            None => {
                if armed.changed().await.is_err() {
                    return;
                }
                continue;
            }
        };
        match blpop(&mut conn, std::slice::from_ref(&key), timeout).await {
            Ok(Some(_)) => {
                if armed.borrow().is_some() && rings.try_send(queue.clone()).is_ok() {
                    continue;
                }
                // Nobody waits now: give the token back for another worker.
                if let Err(e) = broker.ring(&queue).await {
                    tracing::warn!(queue = %queue, error = %e, "cannot put a doorbell ring back");
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(queue = %queue, error = %e, "doorbell wait failed; reconnecting");
                tokio::time::sleep(Duration::from_millis(200)).await;
                match broker.inner.redis.blocking().await {
                    Ok(c) => conn = c,
                    Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
                }
            }
        }
    }
}

impl Waiter {
    /// Blocks until one of the queues rings or `timeout` passes (at least
    /// 10 ms). Returns the queue that rang. A ring only says "look": another
    /// worker may already have taken the job.
    pub async fn wait(&self, timeout: Duration) -> Result<Option<QueueName>> {
        match &self.inner {
            WaitOn::AllAtOnce { broker, conn, keys, queues } => {
                let mut conn = conn.lock().await;
                match blpop(&mut conn, keys, timeout).await {
                    Ok(Some(key)) => Ok(keys.iter().position(|k| *k == key).map(|i| queues[i].clone())),
                    Ok(None) => Ok(None),
                    Err(e) => {
                        // A failover or a dropped connection: wait on a new one next time.
                        if let Ok(c) = broker.inner.redis.blocking().await {
                            *conn = c;
                        }
                        Err(e)
                    }
                }
            }
            WaitOn::PerQueue { armed, rings, .. } => {
                let mut rings = rings.lock().await;
                // A ring that came in since the last wait is news: look at once.
                if let Ok(q) = rings.try_recv() {
                    return Ok(Some(q));
                }
                armed.send_replace(Some(timeout));
                let got = tokio::time::timeout(timeout, rings.recv()).await;
                armed.send_replace(None);
                Ok(got.ok().flatten())
            }
        }
    }

    /// Stops the per-queue waiters (Redis Cluster) and closes their
    /// connections; on one server there is nothing to close.
    pub async fn close(self) {
        if let WaitOn::PerQueue { tasks, .. } = self.inner {
            for t in tasks {
                t.abort();
            }
        }
    }
}

impl Broker {
    /// Rings a queue's doorbell (if it is not already ringing).
    pub(crate) async fn ring(&self, queue: &QueueName) -> Result<()> {
        self.eval(&self.inner.scripts.ring, queue, vec![]).await.map(|_| ())
    }
}

impl Broker {
    /// Reserves up to `max` jobs; when none is ready, waits on the doorbells
    /// for up to `idle` and reserves again each time one rings. Returns an
    /// empty batch only after `idle` with nothing to take.
    ///
    /// An idle worker calling this in a loop costs one reserve (one command
    /// per queue) and one BLPOP per `idle` period; pick `idle` so that stays
    /// under the command budget (10 s keeps four queues at 0.5 commands/s).
    pub async fn reserve_or_wait(
        &self,
        selector: &mut crate::select::Selector,
        waiter: &Waiter,
        max: usize,
        lease: Duration,
        idle: Duration,
    ) -> Result<Vec<crate::reserve::Reserved>> {
        let got = self.reserve(selector, max, lease).await?;
        if !got.is_empty() {
            return Ok(got);
        }
        // A limited queue may allow more before `idle` is up: wake then
        // (never sooner), even if no doorbell rings.
        let idle = match selector.limited_until() {
            Some(t) if t > 0 => idle.min(Duration::from_millis((t - self.now_ms()).max(1) as u64)),
            _ => idle,
        };
        let deadline = tokio::time::Instant::now() + idle;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Ok(Vec::new());
            }
            if waiter.wait(left).await?.is_none() {
                // Timed out: if a limit's time has come, take what it allows.
                return if selector.limited_until().is_some_and(|t| t > 0) {
                    self.reserve(selector, max, lease).await
                } else {
                    Ok(Vec::new())
                };
            }
            // Rang: look again. It may be a stale ring (someone else took the
            // job); then keep waiting out the rest of `idle`.
            let got = self.reserve(selector, max, lease).await?;
            if !got.is_empty() {
                return Ok(got);
            }
        }
    }
}
