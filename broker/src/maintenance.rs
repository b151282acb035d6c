//! Housekeeping operations: promote due delayed jobs, reclaim expired leases.
//! Workers run them (see weir-worker's housekeeper); any process may.
use crate::broker::Broker;
use crate::error::Result;
use crate::name::QueueName;
use crate::reply;
use fred::types::Value;

/// Jobs moved per script call, so one pass never blocks Redis for long.
const STEP: i64 = 1000;

/// What a reclaim pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reclaimed {
    /// Back to pending, attempt counted.
    pub requeued: u64,
    /// Attempts spent: buried.
    pub buried: u64,
}

impl Broker {
    /// Moves every due delayed or retry job of `queue` to pending. Returns how many.
    pub async fn promote(&self, queue: &QueueName) -> Result<u64> {
        let k = self.keys(queue);
        let mut moved = 0;
        loop {
            let keys = vec![k.delayed.clone(), k.pending.clone(), k.wake.clone(), k.keyrate.clone(), k.conf.clone()];
            let args: Vec<Value> = vec![self.now_ms().into(), STEP.into()];
            let r = reply::array("promote", self.eval(&self.inner.scripts.promote, keys, args).await?)?;
            moved += reply::int("promote", r.first().unwrap_or(&Value::Null))? as u64;
            if reply::int("promote", r.get(1).unwrap_or(&Value::Null))? == 0 {
                return Ok(moved);
            }
        }
    }

    /// Takes back every job of `queue` whose lease has expired.
    pub async fn reclaim(&self, queue: &QueueName) -> Result<Reclaimed> {
        let k = self.keys(queue);
        let mut total = Reclaimed::default();
        loop {
            let keys = vec![
                k.active.clone(),
                k.pending.clone(),
                k.dead.clone(),
                k.jobs.clone(),
                k.unique.clone(),
                k.stats.clone(),
                k.wake.clone(),
                k.conf.clone(),
            ];
            let args: Vec<Value> = vec![
                self.now_ms().into(),
                STEP.into(),
                (self.config().dead_max_len as i64).into(),
                (self.config().dead_max_age.as_millis() as i64).into(),
            ];
            let r = reply::array("reclaim", self.eval(&self.inner.scripts.reclaim, keys, args).await?)?;
            total.requeued += reply::int("reclaim", r.first().unwrap_or(&Value::Null))? as u64;
            total.buried += reply::int("reclaim", r.get(1).unwrap_or(&Value::Null))? as u64;
            if reply::int("reclaim", r.get(2).unwrap_or(&Value::Null))? == 0 {
                return Ok(total);
            }
        }
    }
}
