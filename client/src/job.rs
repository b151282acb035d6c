//! The `Job` trait: a typed job and its defaults.
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use weir_broker::{Backoff, Codec};

/// A job type. `KIND` names its handler; the other items are defaults that
/// [`Options`](crate::Options) can override per enqueue.
///
/// ```
/// # use serde::{Serialize, Deserialize};
/// #[derive(Serialize, Deserialize)]
/// struct SendInvoice { id: u64 }
/// impl weir_client::Job for SendInvoice { const KIND: &'static str = "send_invoice"; }
/// ```
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The handler's name, stored with every job.
    const KIND: &'static str;
    /// Queue used when the enqueue names none.
    const QUEUE: &'static str = "default";
    /// Attempts before the job is dead.
    const MAX_ATTEMPTS: u32 = weir_broker::envelope::DEFAULT_MAX_ATTEMPTS;
    /// Payload codec.
    const CODEC: Codec = Codec::Json;

    /// Per-attempt time limit; None: the worker's `--timeout`.
    fn timeout() -> Option<Duration> {
        None
    }

    /// Retry schedule; None: the worker's schedule for this kind.
    fn backoff() -> Option<Backoff> {
        None
    }
}
