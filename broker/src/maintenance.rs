//! Housekeeping operations: promote due delayed jobs, reclaim expired leases.
//! Workers run them (see weir-worker's housekeeper); any process may.
use crate::broker::{Broker, ms};
use crate::error::Result;
use crate::name::QueueName;
use crate::reply;
use redis::Value;

/// Jobs moved per script call, so one pass never blocks Redis for long.
const STEP: u64 = 1000;

/// What a reclaim pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reclaimed {
    /// Back to pending, attempt counted.
    pub requeued: u64,
    /// Attempts spent: buried.
    pub buried: u64,
}

/// A count from a script reply (never negative).
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Broker {
    /// Moves every due delayed or retry job of `queue` to pending. Returns how many.
    pub async fn promote(&self, queue: &QueueName) -> Result<u64> {
        let mut moved = 0;
        loop {
            let args = vec![self.clock_arg(), STEP.into()];
            let r = reply::array("promote", self.eval(&self.inner.scripts.promote, queue, args).await?)?;
            moved += count(reply::int("promote", r.first().unwrap_or(&Value::Nil))?);
            if reply::int("promote", r.get(1).unwrap_or(&Value::Nil))? == 0 {
                return Ok(moved);
            }
        }
    }

    /// Takes back every job of `queue` whose lease has expired.
    pub async fn reclaim(&self, queue: &QueueName) -> Result<Reclaimed> {
        let mut total = Reclaimed::default();
        loop {
            let args = vec![
                self.clock_arg(),
                STEP.into(),
                self.config().dead_max_len.into(),
                ms(self.config().dead_max_age).into(),
            ];
            let r = reply::array("reclaim", self.eval(&self.inner.scripts.reclaim, queue, args).await?)?;
            total.requeued += count(reply::int("reclaim", r.first().unwrap_or(&Value::Nil))?);
            total.buried += count(reply::int("reclaim", r.get(1).unwrap_or(&Value::Nil))?);
            if reply::int("reclaim", r.get(2).unwrap_or(&Value::Nil))? == 0 {
                return Ok(total);
            }
        }
    }
}
