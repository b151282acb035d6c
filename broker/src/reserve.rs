//! Reserve: take up to N jobs for one worker, each under a lease.
use crate::broker::Broker;
use crate::broker::{Arg, ms};
use crate::envelope::Envelope;
use crate::error::Result;
use crate::name::QueueName;
use crate::reply;
use crate::select::Selector;
use redis::Value;
use std::time::Duration;

/// How long one queue's reserve may take on a cluster before the others go on without it.
const SLOW_QUEUE: Duration = Duration::from_secs(1);

pub use crate::model::{Lease, Reserved};

impl Broker {
    /// Reserves up to `max` jobs from the selector's queues under a lease of
    /// `lease`. One pipelined round trip when every planned queue has work;
    /// when some come up short, further rounds share the shortfall among the
    /// queues that still have work (at most one round per queue).
    ///
    /// Jobs whose data is damaged are buried here with the reason and never
    /// returned; they never make this call fail.
    pub async fn reserve(&self, selector: &mut Selector, max: usize, lease: Duration) -> Result<Vec<Reserved>> {
        self.reserve_for(selector, max, lease, "").await
    }

    /// [`Broker::reserve`] for the worker `worker` (its registry id): each
    /// job records it (`w:<id>`), so [`Broker::status`] names the worker
    /// that runs it and [`Broker::cancel`] knows whom to tell. `""`: none.
    pub async fn reserve_for(
        &self,
        selector: &mut Selector,
        max: usize,
        lease: Duration,
        worker: &str,
    ) -> Result<Vec<Reserved>> {
        let mut out = Vec::with_capacity(max);
        let n_queues = selector.queues().len();
        let mut candidate: Vec<bool> = selector.queues().iter().map(|q| !self.is_resting(q)).collect();
        let rules = self.rule_args().await?;
        let mut failure = None;
        let mut failed = 0;
        selector.limited_until = None;
        while out.len() < max && candidate.iter().any(|c| *c) {
            let plan = selector.plan(max - out.len(), &candidate);
            let mut asked = Vec::new();
            let mut calls = Vec::new();
            for (i, &count) in plan.iter().enumerate().filter(|(_, c)| **c > 0) {
                let mut args: Vec<Arg> = vec![
                    self.clock_arg(),
                    (count as u64).into(),
                    ms(lease).into(),
                    self.config().dead_max_len.into(),
                    ms(self.config().dead_max_age).into(),
                    worker.into(),
                ];
                args.extend(rules.iter().cloned());
                asked.push((i, count));
                calls.push((&self.inner.scripts.reserve, selector.queues()[i].clone(), args));
            }
            // On a cluster one dead or failing-over master must not hold up
            // the queues on the others: a queue that does not answer within
            // SLOW_QUEUE sits out this call. (Its reply may still come and
            // lease jobs nobody gets; those are reclaimed when the lease
            // expires, never lost.)
            let within = (self.is_cluster() && calls.len() > 1).then_some(SLOW_QUEUE);
            let replies = self.eval_many(calls, within).await;
            for ((i, count), reply) in asked.into_iter().zip(replies) {
                let queue = selector.queues()[i].clone();
                // One queue's damaged keys must not stop the others: skip it
                // for this call, and fail the call only if nothing else worked.
                let reply = match reply {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::warn!(queue = %queue, error = %e, "cannot reserve from this queue");
                        if self.is_cluster() {
                            self.rest(&queue);
                        }
                        candidate[i] = false;
                        failed += 1;
                        failure.get_or_insert(e);
                        continue;
                    }
                };
                if self.is_cluster() {
                    self.inner.resting.lock().expect("resting lock").remove(&queue);
                }
                let got = self.take_reply(&queue, reply, &mut out).await?;
                match got {
                    Taken::Paused => candidate[i] = false,
                    Taken::Limited { until } => {
                        candidate[i] = false;
                        selector.note_limit(until);
                    }
                    Taken::Jobs { popped, remaining, limit, next_due } => {
                        if let Some(t) = next_due {
                            selector.note_limit(t);
                        }
                        if popped < count || remaining == 0 || limit.is_some() {
                            candidate[i] = false;
                        }
                        if let Some(until) = limit {
                            selector.note_limit(until);
                        }
                    }
                }
            }
        }
        match failure {
            // Every queue failed: the caller should hear of it (and back off).
            Some(e) if failed == n_queues => Err(e),
            _ => Ok(out),
        }
    }

    /// Whether a queue's node failed recently and the queue sits out reserves.
    fn is_resting(&self, queue: &QueueName) -> bool {
        let resting = self.inner.resting.lock().expect("resting lock");
        resting.get(queue).is_some_and(|(until, _)| std::time::Instant::now() < *until)
    }

    /// A queue's node failed (down, failing over): the queue sits out reserves
    /// for a while, doubling from 250 ms to 4 s, so the queues on healthy
    /// nodes are not held up by a call that waits for it every time.
    fn rest(&self, queue: &QueueName) {
        let mut resting = self.inner.resting.lock().expect("resting lock");
        let rest = resting.get(queue).map_or(Duration::from_millis(250), |(_, r)| (*r * 2).min(Duration::from_secs(4)));
        resting.insert(queue.clone(), (std::time::Instant::now() + rest, rest));
    }

    /// Reads one queue's reserve reply into `out`, burying damaged envelopes.
    async fn take_reply(&self, queue: &QueueName, reply: Value, out: &mut Vec<Reserved>) -> Result<Taken> {
        let items = reply::array("reserve", reply)?;
        let head = reply::int("reserve", items.first().unwrap_or(&Value::Nil))?;
        // The script answers waits from now by Redis's clock; they become
        // deadlines on this process's clock here, and only here.
        let now = self.now_ms();
        let at = |wait: i64| if wait > 0 { now.saturating_add(wait) } else { wait };
        let hint = at(reply::int("reserve", items.get(1).unwrap_or(&Value::Nil))?);
        match head {
            -1 => return Ok(Taken::Paused),
            -2 => return Ok(Taken::Limited { until: hint }),
            _ => {}
        }
        let next_due = at(reply::int("reserve", items.get(2).unwrap_or(&Value::Nil))?);
        let mut popped = 0;
        let mut rest = items.into_iter().skip(3);
        while let (Some(id), Some(attempt), Some(env)) = (rest.next(), rest.next(), rest.next()) {
            popped += 1;
            let raw_id = reply::bytes("reserve", id)?;
            let attempt = reply::int("reserve", &attempt)?;
            // An id another language wrote that is not UTF-8, or an attempt
            // count out of range, cannot be leased to a handler: bury that
            // job alone, never failing the batch.
            let (id, attempt) = match (String::from_utf8(raw_id), u32::try_from(attempt)) {
                (Ok(id), Ok(attempt)) => (id, attempt),
                (Err(e), _) => {
                    let raw = e.into_bytes();
                    tracing::warn!(queue = %queue, id = %String::from_utf8_lossy(&raw), "burying a job whose id is not UTF-8");
                    self.bury_raw(queue, &raw, attempt, "damaged job: its id is not UTF-8").await?;
                    continue;
                }
                (Ok(id), Err(_)) => {
                    self.bury_raw(queue, id.as_bytes(), attempt, "damaged job: attempt count out of range").await?;
                    continue;
                }
            };
            let lease = Lease { queue: queue.clone(), id, attempt };
            let parsed = reply::string("reserve", env).and_then(|raw| Envelope::parse(&raw));
            match parsed {
                Ok(envelope) if envelope.id == lease.id => out.push(Reserved { lease, envelope }),
                Ok(envelope) => {
                    let why = format!("damaged job data: envelope id {:?} does not match {:?}", envelope.id, lease.id);
                    self.bury(&lease, &why).await?;
                }
                Err(e) => {
                    tracing::warn!(queue = %queue, id = %lease.id, error = %e, "burying damaged job");
                    self.bury(&lease, &format!("damaged job data: {e}")).await?;
                }
            }
        }
        // Jobs the script buried itself (data missing) are not returned, so a
        // queue can come up short while it still has work: it then sits out
        // the rest of this call only.
        Ok(Taken::Jobs {
            popped,
            remaining: head,
            limit: (hint >= 0).then_some(hint),
            next_due: (next_due > 0).then_some(next_due),
        })
    }
}

enum Taken {
    Paused,
    /// A limit allows nothing before `until` (ms; 0 = until a concurrency slot frees).
    Limited {
        until: i64,
    },
    /// `limit`: a limit cut the batch short; more may be taken at that time.
    /// `next_due`: when the queue's earliest delayed job comes due.
    Jobs {
        popped: usize,
        remaining: i64,
        limit: Option<i64>,
        next_due: Option<i64>,
    },
}
