//! What a handler knows about the attempt it runs.
use tokio_util::sync::CancellationToken;
use weir_broker::{Envelope, QueueName};

/// The context of one attempt.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub id: String,
    pub kind: String,
    pub queue: QueueName,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub max_attempts: u32,
    cancel: CancellationToken,
}

impl JobContext {
    /// `max_attempts`: the envelope's limit, capped by the worker's `--tries`.
    pub(crate) fn new(
        envelope: &Envelope,
        queue: QueueName,
        attempt: u32,
        max_attempts: u32,
        cancel: CancellationToken,
    ) -> Self {
        JobContext { id: envelope.id.clone(), kind: envelope.kind.clone(), queue, attempt, max_attempts, cancel }
    }

    /// Fires when the attempt's timeout expires or the worker is forced to
    /// stop; the handler's future is dropped right after. Handlers that hold
    /// outside resources (a child process) use it to clean up.
    pub fn cancelled(&self) -> &CancellationToken {
        &self.cancel
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}
