//! The job model: the words every other module uses for a job and where it
//! is. Types only; the operations that move a job between states are the
//! scripts (`lua/`, contracts in `scripts.rs`), and docs/REDIS.md
//! draws the state machine.
//!
//! Where each rule is decided (one place each):
//! - retry vs dead: `lua/fail.lua` (a failed attempt) and `lua/reclaim.lua`
//!   (an expired lease) both call `retry_or_bury` in `lua/_lib.lua`;
//! - promotion of due delayed jobs: `promote_due` in `lua/_lib.lua`, called
//!   by reserve and by the housekeeper's `promote.lua`;
//! - cancelling: `lua/cancel.lua` removes a pending or delayed job, or marks
//!   a running one; a marked job is buried as cancelled by `bury_cancelled`
//!   in `lua/_lib.lua`, called by fail, reclaim and reserve;
//! - burying (to the dead set with a reason): `bury` in `lua/_lib.lua`. A
//!   script that finds damaged data buries it itself; a reserved job whose
//!   envelope, id or attempt does not parse is buried by `Broker::reserve`
//!   (`reserve.rs`) through `fail.lua` with no retry, so the queue goes on.
use crate::envelope::{AttemptError, Envelope};
use crate::error::Result;
use crate::name::QueueName;
use serde::Serialize;

/// Where a job is now. A done job's data is deleted at ack; its done record
/// stays for the retention (`BrokerConfig::keep_done`), then it is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Ready to run: in the queue's `pending` list.
    Pending,
    /// Waiting for its run time (a delay or a retry): in `delayed`.
    Delayed,
    /// Reserved by a worker under a lease: in `active`.
    Active,
    /// Out of attempts, failed for good or cancelled: in `dead`.
    Dead,
    /// Finished: acked, its done record kept for `keep_done`.
    Done,
}

impl JobState {
    /// The state's name as docs/REDIS.md, the CLI and the JSON output write it.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Delayed => "delayed",
            JobState::Active => "active",
            JobState::Dead => "dead",
            JobState::Done => "done",
        }
    }
}

/// Everything Redis holds about one job.
#[derive(Debug, Clone)]
pub struct JobInfo {
    /// Its state; None: Redis knows no such job.
    pub state: Option<JobState>,
    /// The raw envelope (it may be damaged, so it is not parsed here).
    pub envelope: Option<String>,
    /// Attempts used so far.
    pub attempts: u32,
    /// Attempts it may use; None when the envelope is damaged.
    pub max_attempts: Option<u32>,
    /// Each failed attempt's error, oldest first.
    pub errors: Vec<AttemptError>,
    /// The score in its state's set: ready, run, lease-deadline or died-at time (ms).
    pub score: Option<i64>,
}

impl JobInfo {
    /// The envelope, parsed; None when Redis holds none, `Err` when it is damaged.
    pub fn parse_envelope(&self) -> Option<Result<Envelope>> {
        self.envelope.as_deref().map(Envelope::parse)
    }
}

/// A reservation's claim on a job: the attempt number is the fencing token,
/// so a worker whose lease expired cannot finish a job someone else now holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lease {
    /// The queue that holds the job.
    pub queue: QueueName,
    /// The job's id.
    pub id: String,
    /// The attempt it was reserved for (the fencing token).
    pub attempt: u32,
}

/// A reserved job: its lease and its envelope.
#[derive(Debug, Clone)]
pub struct Reserved {
    /// The claim to finish it with.
    pub lease: Lease,
    /// The job as enqueued.
    pub envelope: Envelope,
}

/// Where a failed attempt sent the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Back to `delayed`, to run again at the retry time.
    Retry,
    /// Attempts spent or not retryable: in the dead set.
    Dead,
    /// A cancel was requested while it ran (`weir cancel`, `Client::cancel`):
    /// in the dead set with the error "cancelled", whatever the attempt's
    /// own error; never retried on its own.
    Cancelled,
    /// This reservation no longer held the job; nothing was changed.
    Lost,
}

/// What a lease renewal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// Still held, renewed.
    Held,
    /// Still held, renewed, and a cancel of the job was requested: its
    /// worker stops it, then fails it (buried as cancelled).
    CancelRequested,
    /// Lost: the lease expired and the job was reclaimed.
    Lost,
}

/// What a back-pressured job holds back with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// The whole queue, for every worker.
    Queue,
    /// Other jobs with the same rate key.
    Key,
    /// Only this job.
    Job,
}

/// Why a worker stopped. Each has its own process exit code, so a
/// supervisor can restart the worker and log why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// The shutdown future resolved (SIGTERM/SIGINT in `weir work`). Exit 0.
    Shutdown,
    /// A drain request through the registry. Exit 0.
    Drain,
    /// `--max-jobs` jobs finished. Exit 10.
    MaxJobs,
    /// `--max-time` passed. Exit 11.
    MaxTime,
    /// Resident memory passed `--memory` after a job ended. Exit 12.
    Memory,
}

impl StopReason {
    /// The process exit code for it: 0 for a stop, 10 to 12 for a limit
    /// (docs/WORKER.md).
    pub fn exit_code(self) -> u8 {
        match self {
            StopReason::Shutdown | StopReason::Drain => 0,
            StopReason::MaxJobs => 10,
            StopReason::MaxTime => 11,
            StopReason::Memory => 12,
        }
    }

    /// A lifetime limit (jobs, time, memory) rather than a request to stop.
    pub fn is_limit(self) -> bool {
        matches!(self, StopReason::MaxJobs | StopReason::MaxTime | StopReason::Memory)
    }
}
