//! Cancelling a job by id (`weir cancel`, `Client::cancel`). The rule is
//! `lua/cancel.lua`: a pending or delayed job is removed at once; a running
//! job is marked, and ends dead with the error "cancelled" when its worker
//! stops it (or when reclaim finds its worker dead). The worker learns of it
//! from its next heartbeat ([`Broker::notify_cancel`]), at the latest from
//! its next lease renewal ([`Broker::renew`]).
use crate::admin::JobState;
use crate::broker::Broker;
use crate::error::{Error, Result};
use crate::name::QueueName;
use crate::reply;
use redis::Value;
use serde::Serialize;

/// What a cancel did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Cancel {
    /// It was pending or delayed (`was`): removed with its data, its unique
    /// key freed. Its id is unknown from now on.
    Removed {
        /// The queue that held it.
        #[serde(serialize_with = "queue_name")]
        queue: QueueName,
        /// `Pending` or `Delayed`.
        was: JobState,
    },
    /// It is running: the request is recorded, and its worker stops it
    /// (then it is dead, error "cancelled"). `worker`: the id of the worker
    /// that runs it (None when the job was reserved by no registered worker);
    /// `again`: an earlier cancel already asked the same.
    Requested {
        /// The queue that holds it.
        #[serde(serialize_with = "queue_name")]
        queue: QueueName,
        /// The registry id of the worker running it.
        worker: Option<String>,
        /// An earlier cancel had asked the same.
        again: bool,
    },
    /// Already dead: nothing to cancel (`weir dead delete` removes it).
    Dead {
        /// The queue that holds it.
        #[serde(serialize_with = "queue_name")]
        queue: QueueName,
    },
    /// Already done: nothing to cancel.
    Done {
        /// The queue that held it.
        #[serde(serialize_with = "queue_name")]
        queue: QueueName,
    },
    /// No queue holds a job with this id (never enqueued, done longer ago
    /// than the retention, deleted, or cancelled before it ran).
    Unknown,
}

fn queue_name<S: serde::Serializer>(queue: &QueueName, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(queue.as_str())
}

impl Broker {
    /// Cancels job `id`, looked up in every queue (see [`Cancel`] for what
    /// each state gives). A running job's worker is told through the
    /// registry; a worker that died has its job buried as cancelled by
    /// reclaim, never run again.
    pub async fn cancel(&self, id: &str) -> Result<Cancel> {
        let status = self.status(id).await?;
        let Some(queue) = status.queue else { return Ok(Cancel::Unknown) };
        self.cancel_in(&queue, id).await
    }

    /// [`Broker::cancel`] in one queue.
    pub async fn cancel_in(&self, queue: &QueueName, id: &str) -> Result<Cancel> {
        crate::name::validate_job_id(id)?;
        let r = self.eval(&self.inner.scripts.cancel, queue, vec![self.clock_arg(), id.into()]).await?;
        let mut items = reply::array("cancel", r)?.into_iter();
        let word = reply::string("cancel", items.next().unwrap_or(Value::Nil))?;
        let mut arg = || items.next().map_or(Ok(String::new()), |v| reply::string("cancel", v));
        let queue = queue.clone();
        Ok(match word.as_str() {
            "removed" => match arg()?.as_str() {
                "pending" => Cancel::Removed { queue, was: JobState::Pending },
                "delayed" => Cancel::Removed { queue, was: JobState::Delayed },
                other => return Err(Error::protocol("cancel", other)),
            },
            "requested" | "requested_before" => {
                let worker = Some(arg()?).filter(|w| !w.is_empty());
                let again = word == "requested_before";
                // Told again on a repeated cancel: an earlier notice may have been lost.
                if let Some(w) = &worker
                    && !self.notify_cancel(w, queue.as_str(), id).await?
                {
                    tracing::debug!(worker = %w, "the worker running the cancelled job is not registered; reclaim buries it");
                }
                Cancel::Requested { queue, worker, again }
            }
            "dead" => Cancel::Dead { queue },
            "done" => Cancel::Done { queue },
            "unknown" => Cancel::Unknown,
            other => return Err(Error::protocol("cancel", other)),
        })
    }
}
